import { expect } from 'chai';
import type { StoredAttribute } from '../../../src/attributes/definition.js';
import {
  parseListQuery,
  sortAndPage,
  type ListParams,
  type ListQuery,
} from '../../../src/attributes/query.js';
import { BadRequestError } from '../../../src/errors.js';
import { caught } from '../helpers.js';

const MAX = 200;
const parse = (params: ListParams) => parseListQuery(params, MAX);
const refusal = (params: ListParams) => caught(() => parse(params), BadRequestError);
const where = (fieldValuePair: string) => parse({ fieldValuePair }).where;

describe('parseListQuery', () => {
  it('defaults to the first 50, by inum, ascending, everything', () => {
    expect(parse({})).to.deep.equal({
      where: undefined,
      sortBy: 'inum',
      descending: false,
      startIndex: 0,
      limit: 50,
    });
  });

  it('accepts limits from 0 to the maximum page size', () => {
    expect(parse({ limit: 0 }).limit).to.equal(0);
    expect(parse({ limit: MAX }).limit).to.equal(MAX);
  });

  it('refuses a limit beyond the maximum, negative or fractional, naming limit', () => {
    for (const limit of [MAX + 1, -1, 2.5]) {
      const error = refusal({ limit });
      expect(error.status).to.equal(400);
      expect(error.message).to.equal('Invalid query parameter limit');
      expect(error.description).to.contain(`${MAX}`);
    }
  });

  it('refuses a negative startIndex, naming it', () => {
    expect(parse({ startIndex: 7 }).startIndex).to.equal(7);
    expect(refusal({ startIndex: -1 }).message).to.equal('Invalid query parameter startIndex');
  });

  it('sorts by any JSON field, derived flags included', () => {
    expect(parse({ sortBy: 'displayName' }).sortBy).to.equal('displayName');
    expect(parse({ sortBy: 'adminCanEdit' }).sortBy).to.equal('adminCanEdit');
    expect(parse({ sortBy: 'baseDn' }).sortBy).to.equal('baseDn');
  });

  it('refuses sortBy on a field JansAttribute does not have, naming it', () => {
    const error = refusal({ sortBy: 'jansAttrName' });
    expect(error.message).to.equal('Invalid query parameter sortBy');
    expect(error.description).to.contain("'jansAttrName'");
  });

  it('reads sortOrder in any case and refuses anything else', () => {
    expect(parse({ sortOrder: 'DESCENDING' }).descending).to.equal(true);
    expect(parse({ sortOrder: 'Ascending' }).descending).to.equal(false);
    expect(refusal({ sortOrder: 'desc' }).message).to.equal('Invalid value for sortOrder');
  });

  it('reads status in any case; all means no condition', () => {
    expect(parse({ status: 'ACTIVE' }).where).to.deep.equal({
      kind: 'equals',
      field: 'status',
      value: 'active',
    });
    expect(parse({ status: 'Inactive' }).where).to.deep.equal({
      kind: 'equals',
      field: 'status',
      value: 'inactive',
    });
    expect(parse({ status: 'ALL' }).where).to.equal(undefined);
    expect(refusal({ status: 'expired' }).message).to.equal('Invalid value for status');
  });

  it('reads pattern as comma-separated tokens, any of which may match name, displayName, description or inum', () => {
    const fields = ['name', 'displayName', 'description', 'inum'];
    expect(parse({ pattern: ' mail , ,nick,' }).where).to.deep.equal({
      kind: 'any',
      of: [
        { kind: 'contains', fields, text: 'mail' },
        { kind: 'contains', fields, text: 'nick' },
      ],
    });
    expect(parse({ pattern: ' , ' }).where).to.equal(undefined);
  });

  it('combines pattern, status and field-value pairs so that all must hold', () => {
    const query = parse({ pattern: 'mail', status: 'active', fieldValuePair: 'dataType=string' });
    expect(query.where).to.deep.equal({
      kind: 'all',
      of: [
        {
          kind: 'any',
          of: [{ kind: 'contains', fields: ['name', 'displayName', 'description', 'inum'], text: 'mail' }],
        },
        { kind: 'equals', field: 'status', value: 'active' },
        { kind: 'equals', field: 'dataType', value: 'string' },
      ],
    });
  });

  describe('fieldValuePair', () => {
    it('reads each pair as an equality, trimming blanks, with enumerations in canonical spelling', () => {
      expect(where(' dataType = STRING , viewType=WHITEPAGES, name=nick ')).to.deep.equal({
        kind: 'all',
        of: [
          { kind: 'equals', field: 'dataType', value: 'string' },
          { kind: 'equals', field: 'viewType', value: 'whitePages' },
          { kind: 'equals', field: 'name', value: 'nick' },
        ],
      });
    });

    it('takes a value that contains "=" as it is, and inum as free text', () => {
      expect(where('description=a=b')).to.deep.equal({ kind: 'equals', field: 'description', value: 'a=b' });
      expect(where('inum=B4BA')).to.deep.equal({ kind: 'equals', field: 'inum', value: 'B4BA' });
    });

    it('reads a stored flag: true is an equality, false a negation so that absent flags match', () => {
      const isRequired = { kind: 'equals', field: 'required', value: true };
      expect(where('required=TRUE')).to.deep.equal(isRequired);
      expect(where('required=false')).to.deep.equal({ kind: 'not', of: isRequired });
    });

    it('reads a derived flag as the condition on editType/viewType it stands for', () => {
      const adminEdits = { kind: 'equals', field: 'editType', value: 'admin' };
      expect(where('adminCanEdit=true')).to.deep.equal(adminEdits);
      expect(where('adminCanEdit=false')).to.deep.equal({ kind: 'not', of: adminEdits });
      expect(where('userCanAccess=true')).to.deep.equal({
        kind: 'any',
        of: [
          { kind: 'equals', field: 'viewType', value: 'user' },
          { kind: 'equals', field: 'editType', value: 'user' },
        ],
      });
    });

    it('refuses a flag value other than true or false', () => {
      const error = refusal({ fieldValuePair: 'required=yes' });
      expect(error.message).to.equal('Invalid query parameter fieldValuePair');
      expect(error.description).to.equal('required must be true or false');
      expect(refusal({ fieldValuePair: 'whitePagesCanView=1' }).description).to.contain('whitePagesCanView');
    });

    it('refuses a pair without a value, naming the field', () => {
      expect(refusal({ fieldValuePair: 'name' }).description).to.contain("'name'");
      expect(refusal({ fieldValuePair: 'name=' }).description).to.contain("'name'");
    });

    it('refuses a value outside an enumeration', () => {
      expect(refusal({ fieldValuePair: 'dataType=text' }).message).to.equal('Invalid value for dataType');
    });

    it('refuses fields that cannot be searched by value, naming them', () => {
      for (const field of ['jansAttrName', 'attributeValidation', 'dn', 'selected']) {
        const error = refusal({ fieldValuePair: `${field}=x` });
        expect(error.message, field).to.equal('Invalid query parameter fieldValuePair');
        expect(error.description, field).to.contain(`'${field}'`);
      }
    });

    // Names that every object inherits are not fields: they must be refused like any other unknown name.
    for (const field of ['toString', '__proto__']) {
      it(`refuses the inherited property name ${field} as an unknown field`, () => {
        const error = refusal({ fieldValuePair: `${field}=true` });
        expect(error.message).to.equal('Invalid query parameter fieldValuePair');
        expect(error.description).to.contain(`'${field}'`);
      });
    }
  });
});

describe('sortAndPage', () => {
  const stored = (
    inum: string,
    definition: Omit<StoredAttribute['definition'], 'inum'> = {},
  ): StoredAttribute => ({
    dn: `inum=${inum},ou=attributes,o=jans`,
    definition: { inum, ...definition },
  });
  const query = (q: Partial<ListQuery>): ListQuery => ({
    where: undefined,
    sortBy: 'inum',
    descending: false,
    startIndex: 0,
    limit: 50,
    ...q,
  });
  const inums = (all: StoredAttribute[], q: Partial<ListQuery>) =>
    sortAndPage(all, query(q)).entries.map((s) => s.definition.inum);

  const all = [
    stored('05', { displayName: 'echo' }),
    stored('02', { displayName: 'Bravo' }),
    stored('04', { displayName: 'delta' }),
    stored('01', { displayName: 'alpha' }),
    stored('03', { displayName: 'Charlie' }),
  ];

  it('sorts the whole result before cutting the page, and counts the whole result', () => {
    const page = sortAndPage(all, query({ startIndex: 1, limit: 2 }));
    expect(page.entries.map((s) => s.definition.inum)).to.deep.equal(['02', '03']);
    expect(page.totalEntriesCount).to.equal(5);
  });

  it('sorts text ignoring case, in either direction', () => {
    expect(inums(all, { sortBy: 'displayName' })).to.deep.equal(['01', '02', '03', '04', '05']);
    expect(inums(all, { sortBy: 'displayName', descending: true, limit: 2 })).to.deep.equal(['05', '04']);
  });

  it('breaks ties by inum, so that pages do not overlap', () => {
    const same = ['d', 'b', 'e', 'a', 'c'].map((inum) => stored(inum, { status: 'active' }));
    const first = inums(same, { sortBy: 'status', limit: 3 });
    const second = inums(same, { sortBy: 'status', startIndex: 3, limit: 3 });
    expect([...first, ...second]).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
  });

  it('sorts by a derived flag, absent roles reading as false', () => {
    const mixed = [stored('1', { editType: ['admin'] }), stored('2'), stored('3', { editType: ['admin'] })];
    expect(inums(mixed, { sortBy: 'adminCanEdit' })).to.deep.equal(['2', '1', '3']);
  });

  it('puts entries without the field first when ascending', () => {
    const some = [stored('1', { description: 'b' }), stored('2'), stored('3', { description: 'a' })];
    expect(inums(some, { sortBy: 'description' })).to.deep.equal(['2', '3', '1']);
  });

  it('answers an empty page past the end, or for limit 0, with the full count', () => {
    expect(sortAndPage(all, query({ startIndex: 5 }))).to.deep.equal({ totalEntriesCount: 5, entries: [] });
    expect(sortAndPage(all, query({ limit: 0 }))).to.deep.equal({ totalEntriesCount: 5, entries: [] });
  });

  it('does not reorder the array it was given', () => {
    const before = all.map((s) => s.definition.inum);
    sortAndPage(all, query({ sortBy: 'displayName' }));
    expect(all.map((s) => s.definition.inum)).to.deep.equal(before);
  });
});
