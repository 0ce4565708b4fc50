import { expect } from 'chai';
import { OpenAPIRouter } from 'openapi-backend';
import { AppError } from '../../../src/errors.js';
import { matcher } from '../../../src/http/api.js';
import { SERVER_ROOT, loadOpenApiDocument } from '../../../src/http/openapi.js';

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
