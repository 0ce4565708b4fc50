import { expect } from 'chai';
import {
  assertNewName,
  canonical,
  entityTag,
  readDefinition,
  tagMatches,
  toWire,
  wireValue,
  type StoredAttribute,
} from '../../../src/attributes/definition.js';
import { BadRequestError } from '../../../src/errors.js';
import { caught } from '../helpers.js';

const DN = 'inum=B4BA,ou=attributes,o=jans';
const body = (extra: Record<string, unknown> = {}) => ({
  name: 'nickname',
  displayName: 'Nickname',
  description: 'A casual name',
  dataType: 'string',
  editType: ['admin'],
  viewType: ['admin', 'user'],
  ...extra,
});

describe('canonical', () => {
  it('finds the canonical spelling of a value given in any case', () => {
    expect(canonical('viewType', 'WHITEPAGES', ['admin', 'whitePages'])).to.equal('whitePages');
  });

  it('refuses a value that is not allowed, naming the field and the allowed values', () => {
    const error = caught(() => canonical('status', 'gone', ['active', 'inactive']), BadRequestError);
    expect(error.status).to.equal(400);
    expect(error.message).to.equal('Invalid value for status');
    expect(error.description).to.equal('status must be one of: active, inactive');
  });
});

describe('readDefinition', () => {
  it('writes enumerated values in their canonical spelling whatever the case they came in', () => {
    const def = readDefinition(
      body({
        dataType: 'STRING',
        status: 'ACTIVE',
        editType: ['ADMIN'],
        viewType: ['Admin', 'WHITEPAGES', 'user'],
        usageType: ['OPENID'],
      }),
      'X1',
    );
    expect(def).to.deep.equal({
      inum: 'X1',
      name: 'nickname',
      displayName: 'Nickname',
      description: 'A casual name',
      dataType: 'string',
      status: 'active',
      editType: ['admin'],
      viewType: ['admin', 'whitePages', 'user'],
      usageType: ['openid'],
    });
  });

  it('keeps one of each role when a list names it twice in different cases', () => {
    expect(readDefinition(body({ editType: ['admin', 'ADMIN', 'user'] }), 'X').editType).to.deep.equal([
      'admin',
      'user',
    ]);
  });

  it('treats empty strings, nulls and empty lists as absent', () => {
    const def = readDefinition(
      body({ tooltip: '', origin: null, usageType: [], required: null, attributeValidation: null }),
      'X',
    );
    expect(def).to.deep.equal({ inum: 'X', ...body() });
  });

  it('takes the inum from the caller, never from the body', () => {
    expect(readDefinition(body({ inum: 'FROM-CLIENT' }), 'FROM-CALLER').inum).to.equal('FROM-CALLER');
  });

  it('reads jansMultivaluedAttr as oxMultiValuedAttribute', () => {
    expect(readDefinition(body({ jansMultivaluedAttr: true }), 'X').oxMultiValuedAttribute).to.equal(true);
  });

  it('prefers oxMultiValuedAttribute when both spellings are given', () => {
    const def = readDefinition(body({ oxMultiValuedAttribute: false, jansMultivaluedAttr: true }), 'X');
    expect(def.oxMultiValuedAttribute).to.equal(false);
  });

  it('ignores derived flags, output-only and unknown fields', () => {
    const def = readDefinition(
      body({
        editType: ['user'],
        adminCanEdit: true,
        adminCanAccess: true,
        whitePagesCanView: true,
        dn: 'inum=other,o=jans',
        baseDn: 'o=jans',
        selected: true,
        custom: true,
        somethingElse: 'x',
      }),
      'X',
    );
    expect(def).to.deep.equal({ inum: 'X', ...body(), editType: ['user'] });
    expect(toWire({ dn: DN, definition: def }).adminCanEdit).to.equal(false);
  });

  for (const field of ['name', 'displayName', 'description', 'dataType', 'editType', 'viewType']) {
    it(`requires ${field}, as Janssen's schema does, naming it when missing or empty`, () => {
      const empty = field.endsWith('Type') && field !== 'dataType' ? [] : '';
      for (const value of [undefined, null, empty]) {
        const error = caught(() => readDefinition(body({ [field]: value }), 'X'), BadRequestError);
        expect(error.message).to.equal('A required attribute is missing.');
        expect(error.description).to.equal(`The attribute ${field} is required for this operation`);
      }
    });
  }

  it('refuses a value of the wrong type, naming the field', () => {
    expect(caught(() => readDefinition(body({ description: 5 }), 'X'), BadRequestError).message).to.equal(
      'Invalid value for description',
    );
    expect(caught(() => readDefinition(body({ viewType: 'admin' }), 'X'), BadRequestError).message).to.equal(
      'Invalid value for viewType',
    );
    expect(caught(() => readDefinition(body({ required: 'true' }), 'X'), BadRequestError).message).to.equal(
      'Invalid value for required',
    );
  });

  it('refuses values outside an enumeration', () => {
    expect(caught(() => readDefinition(body({ dataType: 'text' }), 'X'), BadRequestError).message).to.equal(
      'Invalid value for dataType',
    );
    expect(
      caught(() => readDefinition(body({ editType: ['admin', 'root'] }), 'X'), BadRequestError).message,
    ).to.equal('Invalid value for editType');
  });

  describe('attributeValidation', () => {
    const validation = (attributeValidation: unknown) =>
      readDefinition(body({ attributeValidation }), 'X').attributeValidation;
    const problem = (attributeValidation: unknown) =>
      caught(() => validation(attributeValidation), BadRequestError).message;

    it('keeps lengths and a valid regexp', () => {
      expect(validation({ minLength: 0, maxLength: 12, regexp: '^[a-z]+$' })).to.deep.equal({
        minLength: 0,
        maxLength: 12,
        regexp: '^[a-z]+$',
      });
    });

    it('drops nulls and an empty regexp, and leaves out a validation with nothing in it', () => {
      expect(validation({ minLength: null, maxLength: 5, regexp: '' })).to.deep.equal({ maxLength: 5 });
      expect(validation({ minLength: null, maxLength: null, regexp: '' })).to.equal(undefined);
    });

    it('refuses negative or fractional lengths', () => {
      expect(problem({ minLength: -1 })).to.equal('Invalid value for attributeValidation.minLength');
      expect(problem({ maxLength: 2.5 })).to.equal('Invalid value for attributeValidation.maxLength');
    });

    it('refuses minLength above maxLength', () => {
      expect(problem({ minLength: 6, maxLength: 5 })).to.equal('Invalid value for attributeValidation');
    });

    it('refuses a regexp that does not compile', () => {
      expect(problem({ regexp: '([a-z' })).to.equal('Invalid value for attributeValidation.regexp');
    });

    it('refuses something that is not an object', () => {
      expect(problem([1, 2])).to.equal('Invalid value for attributeValidation');
      expect(problem('min=1')).to.equal('Invalid value for attributeValidation');
    });
  });
});

describe('assertNewName', () => {
  it('accepts letters, digits and underscores up to 30 characters', () => {
    for (const name of ['a', 'jans_Nick_2', 'x'.repeat(30)]) expect(() => assertNewName(name)).not.to.throw();
  });

  it('refuses a name that is empty, 31 characters long, or has other characters', () => {
    for (const name of ['', 'x'.repeat(31), 'nick-name', 'nick name', 'nïck', 'a,ou=people', '*']) {
      const error = caught(() => assertNewName(name), BadRequestError);
      expect(error.message, name).to.equal('Invalid value for name');
    }
  });
});

describe('entityTag', () => {
  const nick = { inum: 'B4BA', name: 'nick', displayName: 'Nick' };
  const csn = '20261123190000.123456Z#000000#000#000000';

  it('is the change marker, quoted, when the store has one', () => {
    const tag = entityTag({ dn: DN, definition: nick, version: csn });
    expect(tag).to.equal(`"${csn}"`);
    expect(entityTag({ dn: DN, definition: { ...nick }, version: csn })).to.equal(tag);
    expect(entityTag({ dn: DN, definition: nick, version: csn.replace('#000#', '#001#') })).not.to.equal(tag);
  });

  it('follows the content when there is no change marker', () => {
    const tag = entityTag({ dn: DN, definition: nick });
    expect(tag).to.match(/^"[A-Za-z0-9_-]{27}"$/);
    expect(entityTag({ dn: DN, definition: { ...nick } })).to.equal(tag);
    expect(entityTag({ dn: DN, definition: { ...nick, displayName: 'Nick!' } })).not.to.equal(tag);
  });

  it('matches If-Match and If-None-Match lists, and * always', () => {
    const stored = { dn: DN, definition: nick, version: csn };
    const tag = entityTag(stored);
    expect(tagMatches(`"other", ${tag}`, stored)).to.equal(true);
    expect(tagMatches('*', stored)).to.equal(true);
    expect(tagMatches(`W/${tag}`, stored)).to.equal(false);
    expect(tagMatches('"other"', stored)).to.equal(false);
  });
});

describe('toWire', () => {
  it('serves the minimal definition with the compatibility fields and no empty fields', () => {
    const wire = toWire({ dn: DN, definition: { inum: 'B4BA', name: 'nick', displayName: 'Nick' } });
    expect(wire).to.deep.equal({
      dn: DN,
      baseDn: DN,
      selected: false,
      custom: false,
      inum: 'B4BA',
      name: 'nick',
      displayName: 'Nick',
      oxMultiValuedAttribute: false,
      adminCanAccess: false,
      adminCanView: false,
      adminCanEdit: false,
      userCanAccess: false,
      userCanView: false,
      userCanEdit: false,
      whitePagesCanView: false,
    });
  });

  it('serves every stored field as stored', () => {
    const definition = {
      inum: 'B4BA',
      name: 'nick',
      displayName: 'Nick',
      description: 'A nickname',
      dataType: 'string',
      status: 'active',
      urn: 'urn:x:nick',
      claimName: 'nickname',
      editType: ['admin'],
      viewType: ['user'],
      usageType: ['openid'],
      oxMultiValuedAttribute: true,
      scimCustomAttr: false,
      required: false,
      attributeValidation: { maxLength: 5 },
    };
    const wire = toWire({ dn: DN, definition });
    expect(wire).to.deep.include(definition);
  });

  it('derives the access flags from editType and viewType', () => {
    const flags = (editType: string[], viewType: string[]) => {
      const {
        adminCanAccess,
        adminCanView,
        adminCanEdit,
        userCanAccess,
        userCanView,
        userCanEdit,
        whitePagesCanView,
      } = toWire({ dn: DN, definition: { inum: 'B', editType, viewType } });
      return {
        adminCanAccess,
        adminCanView,
        adminCanEdit,
        userCanAccess,
        userCanView,
        userCanEdit,
        whitePagesCanView,
      };
    };
    expect(flags(['admin'], ['user', 'whitePages'])).to.deep.equal({
      adminCanAccess: true,
      adminCanView: false,
      adminCanEdit: true,
      userCanAccess: true,
      userCanView: true,
      userCanEdit: false,
      whitePagesCanView: true,
    });
    expect(flags(['user'], ['admin'])).to.deep.equal({
      adminCanAccess: true,
      adminCanView: true,
      adminCanEdit: false,
      userCanAccess: true,
      userCanView: false,
      userCanEdit: true,
      whitePagesCanView: false,
    });
  });
});

describe('wireValue', () => {
  const stored: StoredAttribute = { dn: DN, definition: { inum: 'B4BA', name: 'nick', viewType: ['admin'] } };

  it('answers for the wire-only fields', () => {
    expect(wireValue(stored, 'dn')).to.equal(DN);
    expect(wireValue(stored, 'baseDn')).to.equal(DN);
    expect(wireValue(stored, 'selected')).to.equal(false);
    expect(wireValue(stored, 'custom')).to.equal(false);
    expect(wireValue(stored, 'oxMultiValuedAttribute')).to.equal(false);
  });

  it('derives flags and reads stored fields', () => {
    expect(wireValue(stored, 'adminCanView')).to.equal(true);
    expect(wireValue(stored, 'adminCanEdit')).to.equal(false);
    expect(wireValue(stored, 'name')).to.equal('nick');
    expect(wireValue(stored, 'description')).to.equal(undefined);
  });
});
