import { expect } from 'chai';
import { call, rawEntry, useTestApp } from './harness.js';
import { VALUE_SCOPE, newSession, newUser } from './values-fixtures.js';

describe('session attribute values', () => {
  const { app, directory } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });
  let admin: string;

  before(async () => {
    admin = app.issuer.token([VALUE_SCOPE.sessionRead, VALUE_SCOPE.sessionWrite, VALUE_SCOPE.sessionDelete]);
  });

  const dnOf = (id: string) => `registrySessionId=${id},ou=sessions,o=jans`;

  it('runs every operation on a session, apart from the user attribute of the same name', async () => {
    const user = await newUser(directory.slapd, { nickname: ['on the user'] });
    const session = await newSession(directory.slapd, user);
    const base = `/sessions/${session}/attributes`;
    const created = await call(app, 'POST', base, {
      token: admin,
      body: { name: 'nickname', value: 'in session' },
    });
    expect(created.status).to.equal(201);
    expect(
      (await call(app, 'POST', base, { token: admin, body: { name: 'nickname', value: 'x' } })).status,
    ).to.equal(409);
    const read = await call(app, 'GET', `${base}/nickname?metadata=true`, { token: admin });
    expect(read.body).to.deep.include({ name: 'nickname', value: 'in session' });
    expect(read.body.metadata.created).to.be.a('string');
    const userToken = app.issuer.token([VALUE_SCOPE.userRead]);
    const onUser = await call(app, 'GET', `/users/${user}/attributes/nickname`, { token: userToken });
    expect(onUser.body.value, 'a user attribute and a session attribute may share a name').to.equal(
      'on the user',
    );

    const updated = await call(app, 'PATCH', `${base}/nickname`, {
      token: admin,
      body: { value: 'changed' },
      contentType: 'application/json',
    });
    expect(updated.status).to.equal(200);
    expect(
      (await call(app, 'PUT', `${base}/locale`, { token: admin, body: { value: 'de' } })).status,
    ).to.equal(201);
    expect((await call(app, 'GET', `${base}/locale/exists`, { token: admin })).body.exists).to.equal(true);
    expect((await call(app, 'GET', base, { token: admin })).body.names).to.deep.equal(['locale', 'nickname']);
    const raw = await rawEntry(directory.slapd, dnOf(session));
    expect(raw.registrySessionValue?.map((l) => JSON.parse(l) as unknown)).to.deep.include.members([
      { name: 'nickname', values: ['changed'] },
      { name: 'locale', values: ['de'] },
    ]);
    expect((await call(app, 'DELETE', `${base}/locale`, { token: admin })).status).to.equal(204);
    expect((await call(app, 'GET', `${base}/locale`, { token: admin })).status).to.equal(404);
    expect(
      (await call(app, 'GET', `/sessions/no-such-session/attributes`, { token: admin })).status,
    ).to.equal(404);
  });

  it('answers the _many forms per item', async () => {
    const user = await newUser(directory.slapd);
    const session = await newSession(directory.slapd, user);
    const many = `/sessions/${session}/attributes/_many`;
    const set = await call(app, 'POST', many, {
      token: admin,
      body: {
        op: 'set',
        items: [
          { name: 'nickname', value: 'n', expiresIn: 3600 },
          { name: 'role', value: ['a'] },
          { name: 'emailVerified', value: 3 },
        ],
      },
    });
    expect(set.body.results.map((r: { status: number }) => r.status)).to.deep.equal([201, 201, 400]);
    const got = await call(app, 'POST', many, {
      token: admin,
      body: { op: 'get', metadata: true, items: [{ name: 'nickname' }, { name: 'role' }] },
    });
    expect(got.body.results[0].metadata.expiresAt).to.be.a('string');
    expect(got.body.results[1].value).to.deep.equal(['a']);
    const created = await call(app, 'POST', many, {
      token: admin,
      body: {
        op: 'create',
        items: [
          { name: 'nickname', value: 'again' },
          { name: 'locale', value: 'fr' },
        ],
      },
    });
    expect(created.body.results.map((r: { status: number }) => r.status)).to.deep.equal([409, 201]);
    const updated = await call(app, 'POST', many, {
      token: admin,
      body: {
        op: 'update',
        items: [
          { name: 'locale', value: 'it' },
          { name: 'zoneinfo', value: 'UTC' },
        ],
      },
    });
    expect(updated.body.results.map((r: { status: number }) => r.status)).to.deep.equal([200, 404]);
    const exists = await call(app, 'POST', many, {
      token: admin,
      body: { op: 'exists', items: [{ name: 'locale' }, { name: 'zoneinfo' }] },
    });
    expect(exists.body.results.map((r: { exists: boolean }) => r.exists)).to.deep.equal([true, false]);
    const deleted = await call(app, 'POST', many, {
      token: admin,
      body: { op: 'delete', items: [{ name: 'locale' }, { name: 'nickname' }, { name: 'role' }] },
    });
    expect(deleted.body.results.map((r: { status: number }) => r.status)).to.deep.equal([204, 204, 204]);
    expect(
      (await call(app, 'GET', `/sessions/${session}/attributes`, { token: admin })).body.names,
    ).to.deep.equal([]);
  });

  it("lets a user's own token act on its own sessions only, and a user-attribute scope is not a session scope", async () => {
    const user = await newUser(directory.slapd);
    const other = await newUser(directory.slapd);
    const mine = await newSession(directory.slapd, user);
    const theirs = await newSession(directory.slapd, other);
    const own = app.issuer.token([], { subject: user });
    const put = await call(app, 'PUT', `/sessions/${mine}/attributes/nickname`, {
      token: own,
      body: { value: 'me' },
    });
    expect(put.status).to.equal(201);
    expect((await call(app, 'GET', `/sessions/${mine}/attributes/role`, { token: own })).status).to.equal(
      403,
    );
    const foreign = await call(app, 'PUT', `/sessions/${theirs}/attributes/nickname`, {
      token: own,
      body: { value: 'me' },
    });
    expect(foreign.status).to.equal(403);
    expect((await call(app, 'GET', `/sessions/missing-one/attributes`, { token: own })).status).to.equal(403);
    const userScoped = app.issuer.token([VALUE_SCOPE.userRead]);
    expect((await call(app, 'GET', `/sessions/${mine}/attributes`, { token: userScoped })).status).to.equal(
      403,
    );
  });
});
