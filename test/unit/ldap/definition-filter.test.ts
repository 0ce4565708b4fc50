import { expect } from 'chai';
import { parseListQuery } from '../../../src/attributes/query.js';
import { toFilter } from '../../../src/ldap/definition-filter.js';

/** The LDAP filter string the list endpoint would send for these query parameters. */
const filterFor = (params: { pattern?: string; fieldValuePair?: string; status?: string }) => {
  const { where } = parseListQuery(params, 200);
  if (!where) return expect.fail('expected a condition');
  return toFilter(where).toString();
};

const CONTAINS_FIELDS = ['jansAttrName', 'displayName', 'description', 'inum'];
const contains = (escaped: string) => `(|${CONTAINS_FIELDS.map((a) => `(${a}=*${escaped}*)`).join('')})`;

describe('toFilter', () => {
  it('maps JSON fields to Janssen’s LDAP attributes', () => {
    expect(filterFor({ fieldValuePair: 'name=nickname,dataType=STRING,editType=admin' })).to.equal(
      '(&(jansAttrName=nickname)(jansAttrTyp=string)(jansAttrEditTyp=admin))',
    );
  });

  it('writes a true flag as the LDAP boolean TRUE, and false as its negation', () => {
    expect(filterFor({ fieldValuePair: 'oxMultiValuedAttribute=true' })).to.equal(
      '(jansMultivaluedAttr=TRUE)',
    );
    expect(filterFor({ fieldValuePair: 'required=false' })).to.equal('(!(jansRequired=TRUE))');
  });

  it('writes derived flags as conditions on editType and viewType', () => {
    expect(filterFor({ fieldValuePair: 'adminCanAccess=false' })).to.equal(
      '(!(|(jansAttrViewTyp=admin)(jansAttrEditTyp=admin)))',
    );
  });

  it('writes pattern tokens as substring matches on four attributes, any of which may hold', () => {
    expect(filterFor({ pattern: 'mail,nick', status: 'active' })).to.equal(
      `(&(|${contains('mail')}${contains('nick')})(jansStatus=active))`,
    );
  });

  describe('keeps user text a value, never filter syntax', () => {
    it('escapes *, (, ), \\ and NUL in a pattern', () => {
      expect(filterFor({ pattern: '*)(objectClass=*' })).to.equal(
        `(|${contains('\\2a\\29\\28objectClass=\\2a')})`,
      );
      expect(filterFor({ pattern: 'a\\b\0c' })).to.equal(`(|${contains('a\\5cb\\00c')})`);
    });

    it('makes name=* an equality with a literal star, not a presence test', () => {
      expect(filterFor({ fieldValuePair: 'name=*' })).to.equal('(jansAttrName=\\2a)');
    });

    it('cannot close the equality and open another condition', () => {
      expect(filterFor({ fieldValuePair: 'inum=x)(|(inum=*' })).to.equal('(inum=x\\29\\28|\\28inum=\\2a)');
    });

    it('keeps DN text such as ,ou=people inside the value', () => {
      const filter = toFilter({ kind: 'equals', field: 'inum', value: 'x,ou=people' });
      expect(filter.toString()).to.equal('(inum=x,ou=people)');
      expect(filter).to.deep.include({ attribute: 'inum', value: 'x,ou=people' });
    });
  });
});
