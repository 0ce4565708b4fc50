import Ajv from 'ajv';
import type { ErrorObject } from 'ajv';
import { expect } from 'chai';
import { declaredQuery, describeViolation, matcher } from '../../../src/http/router.js';
import { OpenAPIRouter } from 'openapi-backend';
import { AppError } from '../../../src/errors.js';
import { SERVER_ROOT, loadOpenApiDocument } from '../../../src/http/openapi.js';

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

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head'];

/** What a matcher answers: the operationId, or the status of the error it throws. */
function outcome(find: () => { operationId?: string } | undefined): string {
  try {
    return find()?.operationId ?? 'none';
  } catch (error) {
    if (error instanceof AppError) return String(error.status);
    const message = (error as Error).message;
    return message.startsWith('405') ? '405' : message.startsWith('404') ? '404' : message;
  }
}

describe('matcher', () => {
  const definition = loadOpenApiDocument();
  const router = new OpenAPIRouter({ definition, apiRoot: SERVER_ROOT });
  const routes = matcher(router.getOperations().map((operation) => ({ operation })));
  const match = (method: string, path: string) => routes(method, path).route.operation;

  it('routes every path and method as the router of openapi-backend does', () => {
    // Each document path with its parameters filled with words that are also literal segments, so that
    // literal paths and templates compete; plus trailing slashes and paths the document lacks.
    const paths = new Set<string>([
      '/',
      '/nothing',
      '/api/v1',
      '/attributes',
      '/api/v1/attributes/X1/nothing',
      '/api/v1/attributes//',
    ]);
    for (const template of Object.keys(definition.paths ?? {})) {
      for (const word of ['29DA', 'schema', 'claims']) {
        const path = template.replace(/\{[^}]*\}/g, word);
        paths.add(path);
        paths.add(`${path}/`);
      }
    }
    let compared = 0;
    for (const path of paths) {
      for (const method of METHODS) {
        const expected = outcome(() =>
          router.matchOperation({ method, path: `${SERVER_ROOT}${path}`, headers: {} }, true),
        );
        expect(
          outcome(() => match(method.toUpperCase(), path)),
          `${method} ${path}`,
        ).to.equal(expected);
        compared += 1;
      }
    }
    expect(compared).to.be.greaterThan(100);
  });

  it('prefers a literal path to a template and says 405 for a known path with another method', () => {
    expect(match('GET', '/api/v1/attributes/schema').operationId).to.equal('get-attributes-schema');
    expect(match('GET', '/api/v1/attributes/29DA').operationId).to.equal('get-attributes-by-inum');
    expect(outcome(() => match('POST', '/api/v1/attributes/29DA'))).to.equal('405');
    expect(outcome(() => match('GET', '/api/v1/attributes/29DA/nothing'))).to.equal('404');
  });

  it('reads path parameters as the router of openapi-backend does, percent-decoded', () => {
    let compared = 0;
    for (const template of Object.keys(definition.paths ?? {}).filter((t) => t.includes('{'))) {
      for (const word of ['29DA', 'a%20b', 'caf%C3%A9', 'x.y_z-1']) {
        const path = template.replace(/\{[^}]*\}/g, word);
        const { route, params } = routes('GET', path);
        const parsed = router.parseRequest(
          { method: 'get', path: `${SERVER_ROOT}${path}`, headers: {} },
          route.operation,
        );
        expect(params, path).to.deep.equal(parsed.params);
        compared += 1;
      }
    }
    expect(compared).to.be.greaterThan(10);
  });

  it('refuses a path parameter that is not valid percent-encoding with 400', () => {
    expect(outcome(() => match('GET', '/api/v1/attributes/%E0%A4%A'))).to.equal('400');
  });
});
