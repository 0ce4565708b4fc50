import { createHash } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { Client } from 'ldapts';
import { API_ROOT } from '../../src/http/openapi.js';
import { assertMatchesContract, call, useTestApp } from './harness.js';

describe('hostile and broken input', () => {
  const { app, directory, cleanup } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });
  let client: Client;

  before(async () => {
    client = new Client({ url: directory.slapd.url });
    cleanup(() => client.unbind());
    await client.bind(directory.slapd.bindDn, directory.slapd.password);
  });

  /**
   * A digest of everything under the base DN, change numbers included: any write changes it. The audit
   * trail is left out: refused writes are recorded there, by design.
   */
  async function contentDigest(): Promise<string> {
    const { searchEntries } = await client.search('o=jans', { scope: 'sub', attributes: ['*', 'entryCSN'] });
    const lines = searchEntries
      .filter((e) => !e.dn.toLowerCase().endsWith('ou=audit,o=jans'))
      .map((e) => JSON.stringify(Object.entries(e).sort()))
      .sort();
    return createHash('sha256').update(lines.join('\n')).digest('hex');
  }

  async function raw(method: string, path: string, body?: string | Blob, contentType = 'application/json') {
    const response = await fetch(`${app.service.url}${API_ROOT}${path}`, {
      method,
      headers: { authorization: `Bearer ${app.adminToken}`, 'content-type': contentType },
      body,
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
      // What was asked for after URL parsing: `/attributes/.` is `/attributes/`.
      pathname: new URL(response.url).pathname,
    };
  }

  it('refuses deeply nested bodies with 400 and writes nothing', async () => {
    const before = await contentDigest();
    const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    const post = await raw(
      'POST',
      '/attributes',
      `{"name":"deep","displayName":"d","dataType":"string","x":${deep}}`,
    );
    expect(post.status).to.equal(400);
    expect(post.body.message).to.contain('nested too deeply');
    const patch = await raw(
      'PATCH',
      '/attributes/08E2',
      `[{"op":"test","path":"/tooltip","value":${deep}}]`,
      'application/json-patch+json',
    );
    expect(patch.status).to.equal(400);
    expect(await contentDigest()).to.equal(before);
  });

  it('refuses bytes that are not UTF-8 JSON, and keys that aim at prototypes, without pollution', async () => {
    const before = await contentDigest();
    // {"name":"<0xff 0xfe>"}
    const bytes = new Blob([Buffer.from('7b226e616d65223a22fffe227d', 'hex')]);
    expect((await raw('POST', '/attributes', bytes)).status).to.equal(400);
    const proto = await raw(
      'POST',
      '/attributes',
      '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"name":"p","displayName":"p"}',
    );
    expect(proto.status).to.equal(400);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect(await contentDigest()).to.equal(before);
  });

  it('answers an enormous query string without a 5xx', async () => {
    const reply = await fetch(`${app.service.url}${API_ROOT}/attributes?pattern=${'a'.repeat(20_000)}`, {
      headers: { authorization: `Bearer ${app.adminToken}` },
    });
    expect(reply.status).to.equal(431);
    const long = await call(app, 'GET', `/attributes?pattern=${'a'.repeat(1001)}`, { token: app.adminToken });
    expect(long.status).to.equal(400);
  });

  it('answers absurd paging values with 400', async () => {
    for (const query of [
      'limit=1e309',
      'startIndex=99999999999',
      'limit=NaN',
      'startIndex=-0.5',
      'limit=%00',
    ]) {
      expect(
        (await call(app, 'GET', `/attributes?${query}`, { token: app.adminToken })).status,
        query,
      ).to.equal(400);
    }
  });

  it('survives generated requests: no 5xx, every answer in the contract, rejected ones change nothing', async function () {
    // Thousands of requests, each followed by a read of the whole directory: bounded at 60 s of them.
    this.timeout(90_000);
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        '*',
        ')(',
        '\\',
        '\u0000',
        ',ou=people',
        '__proto__',
        'constructor',
        '08E2',
        'edu',
        '\u202e',
      ),
    );
    const jsonValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), text);
    const definition = fc.record(
      {
        name: fc.oneof(text, fc.stringMatching(/^[a-z]{1,12}$/)),
        displayName: jsonValue,
        dataType: fc.oneof(fc.constantFrom('string', 'STRING', 'photo'), jsonValue),
        status: jsonValue,
        editType: fc.oneof(fc.array(fc.constantFrom('admin', 'user', 'root')), jsonValue),
        inum: fc.oneof(fc.constantFrom('08E2', 'NOPE'), text),
        attributeValidation: jsonValue,
        __proto__: jsonValue,
      },
      { requiredKeys: [] },
    );
    const patchOp = fc.record(
      {
        op: fc.oneof(fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test'), text),
        path: fc.oneof(
          fc.constantFrom('/displayName', '/editType/-', '/inum', '/__proto__/x', '/nope/deeper'),
          text,
        ),
        from: text,
        value: jsonValue,
      },
      { requiredKeys: [] },
    );
    const request = fc.oneof(
      fc.record({
        method: fc.constant('GET'),
        path: fc
          .record(
            {
              limit: fc.oneof(fc.integer({ min: -5, max: 300 }).map(String), text),
              startIndex: fc.oneof(fc.integer({ min: -5, max: 100 }).map(String), text),
              pattern: text,
              status: text,
              sortBy: fc.oneof(fc.constantFrom('displayName', 'adminCanEdit', 'nope'), text),
              sortOrder: text,
              fieldValuePair: text,
            },
            { requiredKeys: [] },
          )
          .map((q) => `/attributes?${new URLSearchParams(q as Record<string, string>).toString()}`),
        body: fc.constant(undefined),
        contentType: fc.constant(undefined),
      }),
      fc.record({
        method: fc.constantFrom('GET', 'DELETE'),
        path: fc
          .oneof(fc.constantFrom('NOPE', '*', '..', '.', '08E2%2Cou%3Dpeople'), text.map(encodeURIComponent))
          .map((i) => `/attributes/${i}`),
        body: fc.constant(undefined),
        contentType: fc.constant(undefined),
      }),
      fc.record({
        method: fc.constantFrom('POST', 'PUT'),
        path: fc.constant('/attributes'),
        body: fc.oneof(
          definition.map((d) => JSON.stringify(d)),
          text,
        ),
        contentType: fc.constantFrom('application/json', 'text/plain', 'application/json-patch+json'),
      }),
      fc.record({
        method: fc.constant('PATCH'),
        path: fc.constant('/attributes/08E2'),
        body: fc.oneof(
          fc.array(patchOp, { maxLength: 4 }).map((ops) => JSON.stringify(ops)),
          text,
        ),
        contentType: fc.constantFrom('application/json-patch+json', 'application/json'),
      }),
    );

    let digest = await contentDigest();
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, body, contentType }) => {
        requests++;
        const reply = await raw(method, path, body, contentType);
        expect(reply.status, `${method} ${path} ${body}`).to.be.below(500);
        await assertMatchesContract(method, reply.pathname, reply);
        const after = await contentDigest();
        if (reply.status >= 400 || method === 'GET')
          expect(after, `${method} ${path} ${body}`).to.equal(digest);
        digest = after;
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 60_000 },
    );
    expect(requests).to.be.greaterThan(1000);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });
});
