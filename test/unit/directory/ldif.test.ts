import { expect } from 'chai';
import { LdifSyntaxError, parseLdif } from '../../../src/directory/ldif.js';
import { caught } from '../helpers.js';

const ldif = (...lines: string[]) => lines.join('\n');
const attributes = (text: string) =>
  parseLdif(text, 'test.ldif').map((e) => Object.fromEntries(e.attributes));
const problem = (text: string) => caught(() => parseLdif(text, 'seed.ldif'), LdifSyntaxError).message;

describe('parseLdif', () => {
  it('reads content records with their dn, attributes in file order, source and line', () => {
    const entries = parseLdif(
      ldif(
        'version: 1',
        '',
        'dn: inum=B4BA,ou=attributes,o=jans',
        'objectClass: top',
        'objectClass: jansAttr',
        'jansAttrName: nickname',
        '',
        '',
        'dn: inum=29DA,ou=attributes,o=jans',
        'jansAttrName: middleName',
        '',
      ),
      'attributes.ldif',
    );
    expect(entries).to.have.length(2);
    expect(entries[0]?.dn).to.equal('inum=B4BA,ou=attributes,o=jans');
    expect(Object.fromEntries(entries[0]?.attributes ?? [])).to.deep.equal({
      objectClass: ['top', 'jansAttr'],
      jansAttrName: ['nickname'],
    });
    expect(entries.map((e) => [e.source, e.line])).to.deep.equal([
      ['attributes.ldif', 3],
      ['attributes.ldif', 9],
    ]);
  });

  it('unfolds continuation lines, dropping the one leading space', () => {
    const [entry] = attributes(ldif('dn: cn=x', 'description: a long', '  description', '  that goes on'));
    expect(entry).to.deep.equal({ description: ['a long description that goes on'] });
  });

  it('unfolds a folded dn', () => {
    const [entry] = parseLdif(ldif('dn: inum=B4BA,ou=attri', ' butes,o=jans', 'cn: x'), 'f');
    expect(entry?.dn).to.equal('inum=B4BA,ou=attributes,o=jans');
  });

  it('skips comments, including their continuation lines', () => {
    const text = ldif('# a comment', ' that goes on', 'dn: cn=x', '# inside', ' still inside', 'cn: x');
    expect(attributes(text)).to.deep.equal([{ cn: ['x'] }]);
  });

  it('decodes base64 values as UTF-8, dn included', () => {
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
    const [entry] = parseLdif(ldif(`dn:: ${b64('cn=Zoë,o=jans')}`, `description:: ${b64(' Grüße ')}`), 'f');
    expect(entry?.dn).to.equal('cn=Zoë,o=jans');
    expect(entry?.attributes.get('description')).to.deep.equal([' Grüße ']);
  });

  it('accepts CRLF line ends', () => {
    expect(attributes('dn: cn=x\r\ncn: x\r\n\r\ndn: cn=y\r\ncn: y\r\n')).to.deep.equal([
      { cn: ['x'] },
      { cn: ['y'] },
    ]);
  });

  it('gathers values of one attribute written in different cases under its first spelling', () => {
    expect(attributes(ldif('dn: cn=x', 'objectClass: top', 'OBJECTCLASS: jansAttr'))).to.deep.equal([
      { objectClass: ['top', 'jansAttr'] },
    ]);
  });

  it('accepts attribute options, numeric OIDs and empty values', () => {
    expect(
      attributes(ldif('dn: cn=x', 'cn;lang-de: Spitzname', '2.5.4.13: by oid', 'description:')),
    ).to.deep.equal([{ 'cn;lang-de': ['Spitzname'], '2.5.4.13': ['by oid'], description: [''] }]);
  });

  describe('refuses malformed files with the file and line', () => {
    it('a continuation line with nothing to continue', () => {
      expect(problem(' cn: x')).to.equal('seed.ldif:1: continuation line with nothing to continue');
      expect(problem(ldif('dn: cn=x', 'cn: x', '', ' more'))).to.equal(
        'seed.ldif:4: continuation line with nothing to continue',
      );
    });

    it('a record that does not start with dn', () => {
      expect(problem(ldif('', 'cn: x', 'dn: cn=x'))).to.equal(
        'seed.ldif:2: a record must start with "dn:", not "cn:"',
      );
    });

    it('a second dn without a blank line before it', () => {
      expect(problem(ldif('dn: cn=x', 'cn: x', 'dn: cn=y', 'cn: y'))).to.equal(
        'seed.ldif:3: a blank line must separate records',
      );
    });

    it('a version line after the first record', () => {
      expect(problem(ldif('dn: cn=x', 'cn: x', '', 'version: 1'))).to.contain('seed.ldif:4:');
    });

    it('an empty dn', () => {
      expect(problem(ldif('dn: ', 'cn: x'))).to.equal('seed.ldif:1: empty dn');
    });

    it('change records', () => {
      expect(problem(ldif('dn: cn=x', 'changetype: modify', 'replace: cn'))).to.contain(
        'seed.ldif:2: change records are not supported',
      );
    });

    // The regex tries ':' before ':<', so today the URL is stored as the text "< file:///…".
    it('URL values', () => {
      expect(problem(ldif('dn: cn=x', 'jpegPhoto:< file:///etc/passwd'))).to.equal(
        'seed.ldif:2: URL values are not supported',
      );
    });

    it('invalid base64', () => {
      expect(problem(ldif('dn: cn=x', 'cn:: not base64!'))).to.equal('seed.ldif:2: invalid base64 value');
    });

    it('a line that is not "attribute: value"', () => {
      expect(problem(ldif('dn: cn=x', 'cn: x', 'just text'))).to.contain(
        'seed.ldif:3: expected "attribute: value"',
      );
    });

    it('an entry without attributes, at the line of its dn', () => {
      expect(problem(ldif('dn: cn=x', 'cn: x', '', 'dn: cn=y', '', 'dn: cn=z', 'cn: z'))).to.equal(
        'seed.ldif:4: entry cn=y has no attributes',
      );
    });
  });
});
