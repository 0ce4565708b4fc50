import { createServer, type AddressInfo } from 'node:net';
import { expect } from 'chai';
import { API_ROOT, ApiError, AttributesClient, type JansAttributeInput } from '../../src/index.js';
import { SCOPE, contractFetch, startTestApp, uniqueName, useTestApp } from './harness.js';
import { VALUE_SCOPE, newSession, newUser } from './values-fixtures.js';

/** Runs `action` and returns the ApiError it must throw. */
async function apiError(action: () => Promise<unknown>): Promise<ApiError> {
  try {
    await action();
  } catch (error) {
    expect(error).to.be.instanceOf(ApiError);
    return error as ApiError;
  }
  expect.fail('expected an ApiError');
}

describe('AttributesClient (real slapd, real HTTP, real tokens)', () => {
  const { app, directory } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });
  let client: AttributesClient;

  before(async () => {
    client = new AttributesClient({ fetch: contractFetch, baseUrl: app.service.url, token: app.adminToken });
  });

  const definition = (overrides: Partial<JansAttributeInput> = {}): JansAttributeInput => ({
    name: uniqueName('cl'),
    displayName: 'Client test',
    description: 'Made by the client test',
    dataType: 'string',
    status: 'active',
    editType: ['admin'],
    viewType: ['admin', 'user'],
    ...overrides,
  });

  const created: string[] = [];
  async function create(overrides: Partial<JansAttributeInput> = {}) {
    const result = await client.create(definition(overrides));
    created.push(result.attribute.inum);
    return result;
  }
  afterEach(async () => {
    for (const inum of created.splice(0)) {
      await client.delete(inum).catch((error: unknown) => {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      });
    }
  });

  describe('list and listAll (get-attributes)', () => {
    it('returns one page with the totals, filtered and sorted over the whole result', async () => {
      const page = await client.list({ limit: 5, startIndex: 2 });
      expect(page.start).to.equal(2);
      expect(page.entriesCount).to.equal(5);
      expect(page.entries).to.have.length(5);
      expect(page.totalEntriesCount).to.be.at.least(71);

      const edu = await client.list({ pattern: 'edu', limit: 200 });
      expect(edu.totalEntriesCount).to.be.greaterThan(0);
      for (const a of edu.entries ?? []) {
        expect(`${a.name} ${a.displayName} ${a.description ?? ''} ${a.inum}`.toLowerCase()).to.include('edu');
      }

      const sorted = await client.list({ sortBy: 'displayName', sortOrder: 'descending', limit: 10 });
      const keys = (sorted.entries ?? []).map((a) => a.displayName.toLowerCase());
      expect(keys).to.have.length(10);
      expect(keys).to.deep.equal([...keys].sort().reverse());
    });

    it('leaves out entries on an empty page', async () => {
      const page = await client.list({ pattern: uniqueName('none') });
      expect(page).to.deep.equal({ start: 0, totalEntriesCount: 0, entriesCount: 0 });
    });

    it('listAll pages through every match, one request per page', async () => {
      const prefix = uniqueName('page');
      for (const n of [1, 2, 3, 4, 5]) await create({ name: `${prefix}_${n}` });
      const requests: string[] = [];
      const counting = new AttributesClient({
        baseUrl: app.service.url,
        token: app.adminToken,
        fetch: (input, init) => {
          requests.push(String(input));
          return contractFetch(input, init);
        },
      });
      const names: string[] = [];
      for await (const a of counting.listAll({ pattern: prefix, limit: 2, sortBy: 'name' }))
        names.push(a.name);
      expect(names).to.deep.equal([1, 2, 3, 4, 5].map((n) => `${prefix}_${n}`));
      expect(requests).to.have.length(3);
      expect(requests.map((r) => new URL(r).searchParams.get('startIndex'))).to.deep.equal(['0', '2', '4']);

      // Everything, in small pages: each definition exactly once.
      const total = (await client.list({ limit: 0 })).totalEntriesCount;
      const inums: string[] = [];
      for await (const a of client.listAll({ limit: 7 })) inums.push(a.inum);
      expect(inums).to.have.length(total);
      expect(new Set(inums).size).to.equal(total);
    });
  });

  describe('get, create, replace, patch, delete with ETags', () => {
    it('create returns the stored definition, its ETag and its Location', async () => {
      const body = definition({ dataType: 'STRING', claimName: 'client_claim' });
      const result = await client.create(body);
      created.push(result.attribute.inum);
      expect(result.attribute).to.include({ name: body.name, dataType: 'string', claimName: 'client_claim' });
      expect(result.etag).to.match(/^"[^"]+"$/);
      expect(result.location).to.equal(`${API_ROOT}/attributes/${result.attribute.inum}`);
    });

    it('get returns the definition with its ETag, and notModified for a current If-None-Match', async () => {
      const { attribute, etag } = await create();
      const read = await client.get(attribute.inum);
      expect(read.notModified).to.equal(false);
      if (read.notModified) return;
      expect(read.attribute).to.deep.equal(attribute);
      expect(read.etag).to.equal(etag);

      expect(await client.get(attribute.inum, { ifNoneMatch: etag })).to.deep.equal({
        notModified: true,
        etag,
      });
      const stale = await client.get(attribute.inum, { ifNoneMatch: '"stale"' });
      expect(stale.notModified).to.equal(false);
    });

    it('replace applies with the current ETag and answers 412 with the current ETag for a stale one', async () => {
      const { attribute, etag } = await create({ tooltip: 'first' });
      const replaced = await client.replace(
        { ...definition({ name: attribute.name }), inum: attribute.inum, displayName: 'Second' },
        { ifMatch: etag },
      );
      expect(replaced.attribute.displayName).to.equal('Second');
      expect(replaced.attribute).to.not.have.property('tooltip');
      expect(replaced.etag).to.not.equal(etag);

      const error = await apiError(() =>
        client.replace({ ...definition({ name: attribute.name }), inum: attribute.inum }, { ifMatch: etag }),
      );
      expect(error.status).to.equal(412);
      expect(error.etag).to.equal(replaced.etag);
      expect(error.headers.get('etag')).to.equal(replaced.etag);
      expect((await client.get(attribute.inum, { ifNoneMatch: replaced.etag })).notModified).to.equal(true);
    });

    it('patch applies RFC 6902 operations, 412 on a stale ETag, 409 on a failed test', async () => {
      const { attribute, etag } = await create();
      const patched = await client.patch(
        attribute.inum,
        [
          { op: 'test', path: '/displayName', value: 'Client test' },
          { op: 'replace', path: '/displayName', value: 'Patched' },
          { op: 'add', path: '/editType/-', value: 'user' },
        ],
        { ifMatch: etag },
      );
      expect(patched.attribute.displayName).to.equal('Patched');
      expect(patched.attribute.editType).to.deep.equal(['admin', 'user']);

      const stale = await apiError(() =>
        client.patch(attribute.inum, [{ op: 'remove', path: '/status' }], { ifMatch: etag }),
      );
      expect(stale.status).to.equal(412);
      expect(stale.etag).to.equal(patched.etag);

      const failed = await apiError(() =>
        client.patch(attribute.inum, [{ op: 'test', path: '/displayName', value: 'Client test' }]),
      );
      expect(failed.status).to.equal(409);
      expect(failed.code).to.equal('409');
    });

    it('delete refuses a stale ETag with 412, then deletes; the definition is gone (404)', async () => {
      const { attribute, etag } = await create();
      const { etag: newer } = await client.patch(attribute.inum, [
        { op: 'replace', path: '/displayName', value: 'Changed' },
      ]);
      const stale = await apiError(() => client.delete(attribute.inum, { ifMatch: etag }));
      expect(stale.status).to.equal(412);
      expect(stale.etag).to.equal(newer);

      await client.delete(attribute.inum, { ifMatch: newer });
      const gone = await apiError(() => client.get(attribute.inum));
      expect(gone.status).to.equal(404);
      expect(gone.message).to.be.a('string').and.not.equal('');
    });
  });

  describe('history (get-attributes-history-by-inum)', () => {
    it('pages through the writes of a definition, newest first, kept after a delete', async () => {
      const { attribute } = await create();
      await client.patch(attribute.inum, [{ op: 'replace', path: '/displayName', value: 'One' }]);
      await client.patch(attribute.inum, [{ op: 'replace', path: '/displayName', value: 'Two' }]);
      await client.delete(attribute.inum);

      const all = await client.history(attribute.inum);
      expect(all.totalEntriesCount).to.equal(4);
      expect(all.entries?.map((e) => e.operation)).to.deep.equal([
        'delete-attributes-by-inum',
        'patch-attributes-by-inum',
        'patch-attributes-by-inum',
        'post-attributes',
      ]);
      expect(all.entries?.[1]?.diff).to.deep.include({ op: 'replace', path: '/displayName', value: 'Two' });
      expect(all.entries?.[0]?.actor).to.include({ subject: 'tester', clientId: 'test-client' });

      const second = await client.history(attribute.inum, { limit: 1, startIndex: 1 });
      expect(second).to.include({ start: 1, entriesCount: 1, totalEntriesCount: 4 });
      expect(second.entries?.[0]).to.deep.equal(all.entries?.[1]);
    });
  });

  describe('claims, usage and scopes', () => {
    it('reads the claim mapping, where a definition is used, and patches a scope', async () => {
      const claims = await client.claims();
      expect(claims.find((c) => c.claimName === 'email')?.attribute).to.equal('mail');
      const scopesToken = app.issuer.token([
        SCOPE.read,
        SCOPE.write,
        SCOPE.delete,
        'https://jans.io/oauth/config/scopes.readonly',
        'https://jans.io/oauth/config/scopes.write',
      ]);
      const withScopes = new AttributesClient({
        fetch: contractFetch,
        baseUrl: app.service.url,
        token: scopesToken,
      });
      expect((await withScopes.scopes()).map((s) => s.id)).to.include('profile');
      const { attribute } = await create();
      const patched = await withScopes.patchScope('F0C4', [
        { op: 'add', path: '/claims/-', value: attribute.dn },
      ]);
      expect(patched.claims).to.include(attribute.dn);
      expect((await withScopes.scope('F0C4')).claims).to.include(attribute.dn);
      const [scopeEvent] = (await withScopes.scopeHistory('F0C4', { limit: 1 })).entries ?? [];
      expect(scopeEvent).to.deep.include({
        operation: 'patch-oauth-scopes-by-id',
        scope: 'F0C4',
        status: 200,
      });
      expect((await client.usage(attribute.inum)).scopes.map((s) => s.inum)).to.deep.equal(['F0C4']);
      const refused = await apiError(() => client.delete(attribute.inum));
      expect(refused.status).to.equal(409);
      await withScopes.delete(attribute.inum, { force: true });
      expect((await withScopes.scope('F0C4')).claims).to.not.include(attribute.dn);
    });

    it('carries the schema change of a 406', async () => {
      const strict = await startTestApp(directory.slapd, {
        LDAP_CONFIG_BIND_DN: directory.slapd.configDn,
        LDAP_CONFIG_BIND_PASSWORD: directory.slapd.password,
      });
      try {
        const checked = new AttributesClient({
          fetch: contractFetch,
          baseUrl: strict.service.url,
          token: strict.adminToken,
        });
        const name = uniqueName('shoe').replace('_', '');
        const error = await apiError(() => checked.create(definition({ name })));
        expect(error.status).to.equal(406);
        expect(error.schemaChange).to.contain(`NAME '${name}'`);
      } finally {
        await strict.stop();
      }
    });
  });

  describe('typed errors', () => {
    it('404 for an unknown inum', async () => {
      const error = await apiError(() => client.get('no-such-inum'));
      expect(error).to.include({ status: 404, code: '404', name: 'ApiError' });
      expect(error.toString()).to.match(/^404 /);
    });

    it('400 naming the field or parameter', async () => {
      const { dataType: _omitted, ...body } = definition();
      const missing = await apiError(() => client.create(body as JansAttributeInput));
      expect(missing.status).to.equal(400);
      expect(`${missing.message} ${missing.description}`).to.include('dataType');

      const badLimit = await apiError(() => client.list({ limit: 100000 }));
      expect(badLimit.status).to.equal(400);
      expect(`${badLimit.message} ${badLimit.description}`).to.include('limit');

      const badInum = await apiError(() => client.get('a b'));
      expect(badInum.status).to.equal(400);
      expect(`${badInum.message} ${badInum.description}`).to.include('inum');
    });

    it('409 for a name taken in another case, naming the other definition', async () => {
      const { attribute } = await create();
      const error = await apiError(() => client.create(definition({ name: attribute.name.toUpperCase() })));
      expect(error.status).to.equal(409);
      expect(`${error.message} ${error.description ?? ''}`).to.include(attribute.inum);
    });

    it('401 for a token the service does not trust, 403 without a fitting scope', async () => {
      const untrusted = new AttributesClient({
        fetch: contractFetch,
        baseUrl: app.service.url,
        token: 'not-a-token',
      });
      const unauthorized = await apiError(() => untrusted.list());
      expect(unauthorized.status).to.equal(401);
      expect(unauthorized.headers.get('www-authenticate')).to.match(/^Bearer/);

      const reader = new AttributesClient({
        fetch: contractFetch,
        baseUrl: app.service.url,
        token: app.issuer.token([SCOPE.read]),
      });
      const forbidden = await apiError(() => reader.create(definition()));
      expect(forbidden.status).to.equal(403);
      expect(forbidden.description).to.include(SCOPE.write);
    });
  });

  describe('values (user and session attribute operations, get-attributes-schema)', () => {
    it('runs every value operation of a user and a session', async () => {
      const token = app.issuer.token(Object.values(VALUE_SCOPE));
      const values = new AttributesClient({ fetch: contractFetch, baseUrl: app.service.url, token });
      const inum = await newUser(directory.slapd);
      const user = values.userValues(inum);
      expect(await user.create('nickname', 'Kit', { expiresIn: 3600 })).to.deep.equal({
        name: 'nickname',
        value: 'Kit',
      });
      expect((await apiError(() => user.create('nickname', 'again'))).status).to.equal(409);
      expect((await user.update('nickname', 'Kat', { expiresIn: 3600 })).value).to.equal('Kat');
      expect((await user.set('locale', 'fr')).value).to.equal('fr');
      const read = await user.get('nickname', { metadata: true });
      expect(read.metadata?.expiresAt).to.be.a('string');
      expect(await user.exists('locale')).to.equal(true);
      expect(await user.names()).to.include.members(['nickname', 'locale']);
      await user.delete('locale');
      expect(await user.exists('locale')).to.equal(false);
      const results = await user.many({ op: 'get', items: [{ name: 'nickname' }, { name: 'locale' }] });
      expect(results.map((r) => r.status)).to.deep.equal([200, 404]);

      const session = values.sessionValues(await newSession(directory.slapd, inum));
      await session.set('nickname', 'in session');
      expect((await session.get('nickname')).value).to.equal('in session');
      expect((await user.get('nickname')).value).to.equal('Kat');
      const written = (await user.history()).entries?.map((e) => [
        e.operation,
        e.attributes?.[0]?.name,
        e.status,
      ]);
      expect(written).to.deep.equal([
        ['delete-user-attribute', 'locale', 204],
        ['put-user-attribute', 'locale', 201],
        ['patch-user-attribute', 'nickname', 200],
        ['post-user-attribute', 'nickname', 409],
        ['post-user-attribute', 'nickname', 201],
      ]);
      expect((await session.history({ limit: 5 })).totalEntriesCount).to.equal(1);

      const schema = await values.valueSchema('admin');
      expect(schema.properties).to.have.property('nickname');
    });
  });

  describe('options', () => {
    it('asks a token function before every request and accepts the API root as baseUrl', async () => {
      let asked = 0;
      const refreshing = new AttributesClient({
        fetch: contractFetch,
        baseUrl: `${app.service.url}${API_ROOT}/`,
        token: async () => {
          asked++;
          return app.adminToken;
        },
      });
      await refreshing.list({ limit: 1 });
      await refreshing.list({ limit: 1 });
      expect(asked).to.equal(2);
    });

    it('lets network failures through as fetch errors, not ApiError', async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      await new Promise((resolve) => server.close(resolve));
      const nowhere = new AttributesClient({
        fetch: contractFetch,
        baseUrl: `http://127.0.0.1:${port}`,
        token: 't',
      });
      const error = await nowhere.list().catch((e: unknown) => e);
      expect(error).to.be.instanceOf(TypeError).and.not.instanceOf(ApiError);
      expect((error as TypeError).cause).to.have.property('code', 'ECONNREFUSED');
    });
  });
});
