import Ajv from 'ajv';
import type { ErrorObject } from 'ajv';
import { expect } from 'chai';
import { declaredQuery, describeViolation } from '../../../src/http/api.js';

/** The first error ajv reports for `data` against `schema`, as openapi-backend's validators report it. */
function violation(schema: object, data: unknown): ErrorObject[] {
  const validate = new Ajv.default({ strict: false }).compile(schema);
  expect(validate(data), 'the data breaks the schema').to.equal(false);
  return validate.errors ?? [];
}

const request = (query: object, body?: object) => ({
  type: 'object',
  properties: {
    query: { type: 'object', properties: query, additionalProperties: false },
    ...(body ? { requestBody: body } : {}),
  },
});

describe('describeViolation', () => {
  it('names a query parameter with a bad value', () => {
    const error = describeViolation(
      violation(request({ limit: { type: 'integer', maximum: 200 } }), { query: { limit: 201 } }),
    );
    expect(error.message).to.equal('Invalid query parameter limit');
    expect(error.description).to.equal('limit must be <= 200');
  });

  it('names an undeclared query parameter, never leaving the name empty', () => {
    const error = describeViolation(violation(request({}), { query: { foo: 'bar' } }));
    expect(error.message).to.equal('Unknown query parameter foo');
    expect(error.description).to.equal('foo is not allowed here');
  });

  it('names a missing field of the body', () => {
    const body = { type: 'object', required: ['description'] };
    const error = describeViolation(violation(request({}, body), { query: {}, requestBody: {} }));
    expect(error.description).to.equal('The field description is required for this operation');
  });

  it('names a nested field, unescaping its JSON Pointer', () => {
    const body = {
      type: 'object',
      properties: { 'a/b': { type: 'object', properties: { c: { type: 'string' } } } },
    };
    const error = describeViolation(
      violation(request({}, body), { query: {}, requestBody: { 'a/b': { c: 1 } } }),
    );
    expect(error.message).to.equal('Invalid field a/b.c');
  });

  it('says which part of the request is wrong when the error names nothing inside it', () => {
    const body = { type: 'array' };
    expect(describeViolation(violation(request({}, body), { query: {}, requestBody: {} })).message).to.equal(
      'Invalid request body',
    );
    const query = describeViolation(violation(request({}), { query: 'x' }));
    expect(query.message).to.equal('Invalid query parameters');
    expect(query.description).to.equal('The query parameters must be object');
    const whole = describeViolation(violation({ type: 'object' }, 5));
    expect(whole.message).to.equal('Invalid request');
  });

  it('gives every keyword a message with a name or a part', () => {
    const errors: ErrorObject[] = [
      { keyword: 'additionalProperties', instancePath: '/query', schemaPath: '', params: {} },
      { keyword: 'required', instancePath: '/path', schemaPath: '', params: { missingProperty: '' } },
      { keyword: 'whatever', instancePath: '', schemaPath: '', params: {} },
    ];
    for (const error of errors) {
      const { message, description } = describeViolation([error]);
      expect(message, error.keyword).to.not.match(/ $| {2}/);
      expect(description ?? '', error.keyword).to.not.match(/^ | $| {2}/);
    }
  });
});

describe('declaredQuery', () => {
  it('keeps the declared parameters and names the others', () => {
    const { query, ignored } = declaredQuery(
      { limit: '1', inum: '08E2', json: ['op', 'path'], url: 'https://x' },
      new Set(['limit', 'force']),
    );
    expect(query).to.deep.equal({ limit: '1' });
    expect(ignored).to.deep.equal(['inum', 'json', 'url']);
  });
});
