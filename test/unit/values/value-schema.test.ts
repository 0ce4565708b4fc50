import { expect } from 'chai';
import type { AttributeDefinition } from '../../../src/attributes/definition.js';
import { compileValueSchema, deriveValueSchema, ValueSchemas } from '../../../src/values/value-schema.js';

const definition = (name: string, fields: Partial<AttributeDefinition> = {}): AttributeDefinition => ({
  inum: name,
  name,
  displayName: name,
  dataType: 'string',
  status: 'active',
  editType: ['admin', 'user'],
  viewType: ['admin', 'user'],
  ...fields,
});

describe('value schema', () => {
  it('derives types, arrays, lengths and an anchored pattern from the definitions', () => {
    const schema = deriveValueSchema(
      [
        definition('code', { attributeValidation: { minLength: 2, maxLength: 4, regexp: '[A-Z]+' } }),
        definition('age', { dataType: 'numeric' }),
        definition('ok', { dataType: 'boolean' }),
        definition('since', { dataType: 'generalizedTime' }),
        definition('blob', { dataType: 'json' }),
        definition('cert', { dataType: 'certificate' }),
        definition('tags', { oxMultiValuedAttribute: true }),
        definition('old', { status: 'inactive' }),
      ],
      'admin',
    );
    const p = schema.properties as Record<string, Record<string, unknown>>;
    expect(schema.$schema).to.equal('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).to.equal(false);
    expect(p.code).to.include({ type: 'string', minLength: 2, maxLength: 4, pattern: '^(?:[A-Z]+)$' });
    expect(p.age).to.include({ type: 'number' });
    expect(p.ok).to.include({ type: 'boolean' });
    expect(p.since).to.include({ type: 'string', format: 'date-time' }).and.to.have.property('pattern');
    expect(p.cert).to.include({ contentEncoding: 'base64' });
    expect(p.tags).to.deep.include({
      type: 'array',
      items: { type: 'string' },
      minItems: 1,
      uniqueItems: true,
    });
    expect(p).to.not.have.property('old');
    expect(p.blob).to.not.have.property('type');
  });

  it('marks readOnly and writeOnly by audience, and leaves out what the audience can neither see nor set', () => {
    const defs = [
      definition('shown', { editType: ['admin'], viewType: ['admin', 'user'] }),
      definition('secret', { editType: ['user'], viewType: ['admin'] }),
      definition('adminOnly', { editType: ['admin'], viewType: ['admin'] }),
    ];
    const user = deriveValueSchema(defs, 'user').properties as Record<string, Record<string, unknown>>;
    expect(user.shown?.readOnly).to.equal(true);
    expect(user.secret?.writeOnly).to.equal(true);
    expect(user).to.not.have.property('adminOnly');
    const admin = deriveValueSchema(defs, 'admin').properties as Record<string, Record<string, unknown>>;
    expect(admin.secret?.readOnly).to.equal(true);
    expect(admin.adminOnly?.readOnly).to.equal(undefined);
  });

  it('checks a catastrophic pattern in linear time and makes an RE2-incompatible one read-only', () => {
    const compiled = compileValueSchema(
      deriveValueSchema(
        [
          definition('evil', { attributeValidation: { regexp: '(a+)+' } }),
          definition('backref', { attributeValidation: { regexp: '(a)\\1' } }),
        ],
        'admin',
      ),
    );
    expect(compiled.check('evil', `${'a'.repeat(100_000)}!`)).to.contain('must match pattern');
    expect(compiled.check('evil', 'aaa')).to.equal(undefined);
    expect(compiled.property('backref')?.readOnly).to.equal(true);
    expect(compiled.check('unknown', 'x')).to.contain('not an attribute');
  });

  it('refuses a date-time the API cannot store: a leap second, an offset beyond ±23:59 or not ±hh:mm, a space for the T', () => {
    const compiled = compileValueSchema(
      deriveValueSchema(
        [
          definition('since', { dataType: 'generalizedTime' }),
          definition('dates', { dataType: 'generalizedTime', oxMultiValuedAttribute: true }),
        ],
        'admin',
      ),
    );
    expect(compiled.property('since')).to.include({ format: 'date-time' });
    for (const value of [
      '2024-06-30T23:59:60Z',
      '2024-06-30T23:59:60+00:00',
      '2024-01-01T00:00:00+99:99',
      '2024-01-01T00:00:00+24:00',
      '2024-01-01T00:00:00-23:60',
      '2024-01-01T00:00:00+05',
      '2024-01-01T00:00:00+0530',
      // Date.parse reads a space-separated year 0049 as 2049.
      '0049-01-01 10:00:00Z',
    ]) {
      expect(compiled.check('since', value), value).to.equal(
        'since must be a date-time of the form yyyy-mm-ddThh:mm:ss[.f](Z|±hh:mm), with seconds up to 59 and an offset within ±23:59',
      );
    }
    expect(compiled.check('dates', ['2024-01-01T00:00:00Z', '2024-06-30T23:59:60Z'])).to.match(
      /^dates\.1 must be a date-time/,
    );
    expect(compiled.check('since', '2024-02-30T00:00:00Z')).to.contain('must match format "date-time"');
    for (const value of [
      '2024-06-30T23:59:59Z',
      '2024-06-30T23:59:59+05:30',
      '2024-06-30T23:59:59.123456-23:59',
      '0000-01-01T00:00:00z',
      '9999-12-31t23:59:59.999+00:00',
    ]) {
      expect(compiled.check('since', value), value).to.equal(undefined);
    }
  });

  it('rebuilds on invalidate and when older than its maximum age, sharing one rebuild', async () => {
    let loads = 0;
    let now = 0;
    const schemas = new ValueSchemas(
      async () => {
        loads++;
        return [definition(`n${loads}`)];
      },
      1000,
      () => now,
    );
    await Promise.all([schemas.for('admin'), schemas.for('user')]);
    expect(loads).to.equal(1);
    now = 500;
    await schemas.for('admin');
    expect(loads).to.equal(1);
    now = 2000;
    await Promise.all([schemas.for('admin'), schemas.for('admin')]);
    expect(loads).to.equal(2);
    schemas.invalidate();
    expect((await schemas.for('admin')).property('n3')).to.not.equal(undefined);
  });
});

describe('compiled value schemas', () => {
  const many = (count: number, changed: Partial<AttributeDefinition> = {}) =>
    Array.from({ length: count }, (_, i) => definition(`a${i}`, i === 1 ? changed : {}));

  it('compiles an attribute’s validator only when a value of it is first checked', () => {
    const compiled = compileValueSchema(deriveValueSchema(many(50), 'admin'));
    expect(compiled.compiled.size).to.equal(0);
    expect(compiled.check('a7', 'x')).to.equal(undefined);
    expect(compiled.check('A7', 'y')).to.equal(undefined);
    expect(compiled.compiled.size).to.equal(1);
  });

  it('takes over the validators of unchanged attributes when rebuilt, and compiles the changed ones', async () => {
    let definitions = many(3);
    const schemas = new ValueSchemas(async () => definitions, 60_000);
    const before = await schemas.for('admin');
    expect(before.check('a0', 'long enough')).to.equal(undefined);
    expect(before.check('a1', 'long enough')).to.equal(undefined);
    definitions = many(3, { attributeValidation: { maxLength: 4 } });
    schemas.invalidate();
    const after = await schemas.for('admin');
    expect(after.check('a0', 'long enough')).to.equal(undefined);
    expect(after.check('a1', 'long enough')).to.equal('a1 must NOT have more than 4 characters');
    const validators = (c: typeof before) => [...c.compiled.values()];
    expect(validators(after)).to.include(validators(before)[0]);
    expect(validators(after)).to.not.include(validators(before)[1]);
  });
});
