import { expect } from 'chai';
import { SCOPE, assertMatchesContract, call, type Reply, useTestApp } from './harness.js';
import { VALUE_SCOPE, newSession, newUser } from './values-fixtures.js';

interface Parameter {
  name: string;
  in: string;
}
interface Operation {
  operationId: string;
  parameters?: (Parameter | { $ref: string })[];
}
type PathItem = Record<string, Operation> & { parameters?: (Parameter | { $ref: string })[] };
interface Document {
  servers: { url: string }[];
  paths: Record<string, PathItem>;
  components: { parameters: Record<string, Parameter> };
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

/**
 * What a generic consumer of the served document (a code generator, Janssen's command line) does with
 * it: resolve the first server against the document's own URL, append each operation's path with its
 * path parameters filled in, and call it.
 */
describe('the served OpenAPI document, as a generic client reads it', () => {
  const { app, directory } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });
  let documentUrl: string;
  let document: Document;
  /** A value for each path parameter, naming something that exists. */
  let values: (path: string, name: string) => string;

  before(async () => {
    documentUrl = `${app.service.url}/jans-config-api/openapi.json`;
    const response = await fetch(documentUrl);
    expect(response.headers.get('content-type')).to.equal('application/json');
    document = (await response.json()) as Document;

    const user = await newUser(directory.slapd, { nickname: ['Nick'] });
    const session = await newSession(directory.slapd, user);
    const set = await call(app, 'PUT', `/sessions/${session}/attributes/nickname`, {
      token: app.issuer.token([VALUE_SCOPE.sessionWrite]),
      body: { value: 'in session' },
    });
    expect(set.status).to.equal(201);
    values = (path, name) => {
      if (name === 'inum') return path.includes('/scopes/') ? '43F1' : '08E2';
      return { userInum: user, sessionId: session, name: 'nickname' }[name] ?? '';
    };
  });

  /** Every operation of the document: its method, its path template and the URL a consumer makes of it. */
  const operations = () => {
    const base = new URL(document.servers[0]?.url ?? '', documentUrl).href.replace(/\/$/, '');
    return Object.entries(document.paths).flatMap(([template, item]) =>
      METHODS.filter((method) => item[method]).map((method) => {
        const operation = item[method] as Operation;
        const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p) =>
          '$ref' in p ? (document.components.parameters[p.$ref.split('/').pop() ?? ''] as Parameter) : p,
        );
        let path = template;
        for (const { name } of parameters.filter((p) => p.in === 'path')) {
          const value = values(template, name);
          expect(value, `a value for ${name} of ${template}`).to.not.equal('');
          path = path.replace(`{${name}}`, encodeURIComponent(value));
        }
        return {
          method: method.toUpperCase(),
          operationId: operation.operationId,
          template,
          path,
          url: `${base}${path}`,
        };
      }),
    );
  };

  const send = async (method: string, url: string, token: string): Promise<Reply> => {
    const response = await fetch(url, { method, headers: { authorization: `Bearer ${token}` } });
    const text = await response.text();
    const reply = {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
    };
    await assertMatchesContract(method, new URL(url).pathname, reply);
    return reply;
  };

  it('splits each URL as Janssen’s document does: server /jans-config-api, paths from /api/v1', () => {
    // Janssen's command line ignores `servers`: it joins its host, /jans-config-api and the path.
    const all = operations();
    expect(all).to.have.length.greaterThan(25);
    for (const { template, path, url } of all) {
      expect(template).to.match(/^\/api\/v1\//);
      expect(url).to.equal(`${app.service.url}/jans-config-api${path}`);
    }
  });

  it('resolves every operation to a URL the service routes to that operation', async () => {
    // Sent without a body and with a token without scopes, so that nothing changes: each operation
    // refuses it by its own checks (scopes, content type), which run only once the request has been routed
    // to it. A URL that found no operation would be a 404 or 405.
    const nobody = app.issuer.token([], { subject: 'nobody' });
    const answers = new Set<number>();
    for (const { method, operationId, url } of operations()) {
      const reply = await send(method, `${url}?undeclared=1`, nobody);
      expect(reply.status, `${method} ${url} (${operationId})`).to.not.be.oneOf([404, 405]);
      answers.add(reply.status);
    }
    expect([...answers].sort()).to.deep.equal([403, 415]);
  });

  it('answers every read it resolves with 200', async () => {
    const reader = app.issuer.token([SCOPE.readAll]);
    const reads = operations().filter((o) => o.method === 'GET');
    expect(reads).to.have.length.greaterThan(10);
    for (const { method, operationId, url } of reads) {
      const reply = await send(method, url, reader);
      expect(reply.status, `${url} (${operationId}): ${JSON.stringify(reply.body)}`).to.equal(200);
    }
  });
});
