import { expect } from 'chai';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { SCOPE, call, rawEntry, useTestApp } from './harness.js';
import { VALUE_SCOPE, newUser } from './values-fixtures.js';

describe('user attribute values', () => {
  const { app, directory } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });
  let admin: string;

  before(async () => {
    admin = app.issuer.token([VALUE_SCOPE.userRead, VALUE_SCOPE.userWrite, VALUE_SCOPE.userDelete]);
  });

  const dnOf = (inum: string) => `inum=${inum},ou=people,o=jans`;

  it('creates, reads, updates, sets, checks and deletes one value, stored as the LDAP attribute', async () => {
    const inum = await newUser(directory.slapd);
    const base = `/users/${inum}/attributes`;
    const created = await call(app, 'POST', base, { token: admin, body: { name: 'nickname', value: 'Bob' } });
    expect(created.status).to.equal(201);
    expect(created.body).to.deep.equal({ name: 'nickname', value: 'Bob' });
    expect((await rawEntry(directory.slapd, dnOf(inum))).nickname).to.deep.equal(['Bob']);
    const again = await call(app, 'POST', base, { token: admin, body: { name: 'nickname', value: 'B' } });
    expect(again.status).to.equal(409);

    const read = await call(app, 'GET', `${base}/nickname?metadata=true`, { token: admin });
    expect(read.status).to.equal(200);
    expect(read.body.value).to.equal('Bob');
    expect(read.body.metadata.encrypted).to.equal(false);
    expect(read.body.metadata.created).to.be.a('string');

    const updated = await call(app, 'PATCH', `${base}/nickname`, {
      token: admin,
      body: { value: 'Bobby' },
      contentType: 'application/json',
    });
    expect(updated.status).to.equal(200);
    expect(updated.body.value).to.equal('Bobby');
    const missingUpdate = await call(app, 'PATCH', `${base}/middleName`, {
      token: admin,
      body: { value: 'Q' },
      contentType: 'application/json',
    });
    expect(missingUpdate.status).to.equal(404);
    const setNew = await call(app, 'PUT', `${base}/middleName`, { token: admin, body: { value: 'Quincy' } });
    expect(setNew.status).to.equal(201);
    const setOld = await call(app, 'PUT', `${base}/middleName`, { token: admin, body: { value: 'Q.' } });
    expect(setOld.status).to.equal(200);

    const exists = await call(app, 'GET', `${base}/nickname/exists`, { token: admin });
    expect(exists.body).to.deep.equal({ name: 'nickname', exists: true });
    const names = await call(app, 'GET', base, { token: admin });
    expect(names.body.names).to.include.members(['nickname', 'middleName', 'uid', 'inum']);

    expect((await call(app, 'DELETE', `${base}/nickname`, { token: admin })).status).to.equal(204);
    expect((await call(app, 'DELETE', `${base}/nickname`, { token: admin })).status).to.equal(404);
    expect((await call(app, 'GET', `${base}/nickname`, { token: admin })).status).to.equal(404);
    expect((await call(app, 'GET', `${base}/nickname/exists`, { token: admin })).body.exists).to.equal(false);
    expect((await rawEntry(directory.slapd, dnOf(inum))).nickname).to.equal(undefined);
  });

  it('answers every _many form per item and applies the valid writes in one change', async () => {
    const inum = await newUser(directory.slapd);
    const many = `/users/${inum}/attributes/_many`;
    const created = await call(app, 'POST', many, {
      token: admin,
      body: {
        op: 'create',
        items: [
          { name: 'nickname', value: 'Al' },
          { name: 'role', value: ['reader', 'writer'] },
          { name: 'emailVerified', value: 'yes' },
          { name: 'carLicense', value: 'X-1' },
        ],
      },
    });
    expect(created.status).to.equal(200);
    expect(created.body.results.map((r: { status: number }) => r.status)).to.deep.equal([201, 201, 400, 400]);
    expect(created.body.results[2].error.description).to.contain('emailVerified');
    expect(created.body.results[3].error.description).to.contain(
      'No active attribute definition is named carLicense',
    );
    const raw = await rawEntry(directory.slapd, dnOf(inum));
    expect(raw.nickname).to.deep.equal(['Al']);
    expect(raw.role).to.have.members(['reader', 'writer']);
    expect(raw.emailVerified).to.equal(undefined);

    const updated = await call(app, 'POST', many, {
      token: admin,
      body: {
        op: 'update',
        items: [
          { name: 'nickname', value: 'Alan' },
          { name: 'middleName', value: 'M' },
        ],
      },
    });
    expect(updated.body.results.map((r: { status: number }) => r.status)).to.deep.equal([200, 404]);
    const set = await call(app, 'POST', many, {
      token: admin,
      body: {
        op: 'set',
        items: [
          { name: 'emailVerified', value: true },
          { name: 'nickname', value: 'Al' },
        ],
      },
    });
    expect(set.body.results.map((r: { status: number }) => r.status)).to.deep.equal([201, 200]);
    const got = await call(app, 'POST', many, {
      token: admin,
      body: {
        op: 'get',
        metadata: true,
        items: [{ name: 'emailVerified' }, { name: 'role' }, { name: 'sn' }],
      },
    });
    expect(got.body.results[0]).to.include({ name: 'emailVerified', status: 200, value: true });
    expect(got.body.results[0].metadata.encrypted).to.equal(false);
    expect(got.body.results[1].value).to.have.members(['reader', 'writer']);
    expect(got.body.results[2].status).to.equal(404);
    const exists = await call(app, 'POST', many, {
      token: admin,
      body: { op: 'exists', items: [{ name: 'role' }, { name: 'sn' }] },
    });
    expect(exists.body.results.map((r: { exists: boolean }) => r.exists)).to.deep.equal([true, false]);
    const deleted = await call(app, 'POST', many, {
      token: admin,
      body: { op: 'delete', items: [{ name: 'role' }, { name: 'sn' }, { name: 'nickname' }] },
    });
    expect(deleted.body.results.map((r: { status: number }) => r.status)).to.deep.equal([204, 404, 204]);
    const after = await rawEntry(directory.slapd, dnOf(inum));
    expect(after.role).to.equal(undefined);
    expect(after.nickname).to.equal(undefined);
  });

  it('loses no value when writes to one user arrive at once', async () => {
    const inum = await newUser(directory.slapd);
    const names = ['nickname', 'middleName', 'locale', 'zoneinfo', 'website', 'profile', 'gender', 'picture'];
    const replies = await Promise.all(
      names.map((name) =>
        call(app, 'PUT', `/users/${inum}/attributes/${name}`, { token: admin, body: { value: `v-${name}` } }),
      ),
    );
    expect(replies.map((r) => r.status)).to.deep.equal(names.map(() => 201));
    const raw = await rawEntry(directory.slapd, dnOf(inum));
    for (const name of names) expect(raw[name], name).to.deep.equal([`v-${name}`]);
    const meta = (raw.registryValueMeta ?? []).map((line) => (JSON.parse(line) as { name: string }).name);
    expect(meta).to.have.members(names);
  });

  it('converts typed values: numbers of json, booleans, date-times, multi-valued lists', async () => {
    const inum = await newUser(directory.slapd);
    const base = `/users/${inum}/attributes`;
    const imap = { host: 'imap.example.org', port: 993 };
    expect(
      (await call(app, 'PUT', `${base}/jansIMAPData`, { token: admin, body: { value: imap } })).status,
    ).to.equal(201);
    expect((await call(app, 'GET', `${base}/jansIMAPData`, { token: admin })).body.value).to.deep.equal(imap);
    const when = '2026-01-02T03:04:05.000Z';
    expect(
      (await call(app, 'PUT', `${base}/updatedAt`, { token: admin, body: { value: when } })).status,
    ).to.equal(201);
    expect((await rawEntry(directory.slapd, dnOf(inum))).updatedAt).to.deep.equal(['20260102030405Z']);
    expect((await call(app, 'GET', `${base}/updatedAt`, { token: admin })).body.value).to.equal(when);
    const notList = await call(app, 'PUT', `${base}/role`, { token: admin, body: { value: 'single' } });
    expect(notList.status).to.equal(400);
    expect(notList.body.description).to.contain('role must be array');
    const notTime = await call(app, 'PUT', `${base}/updatedAt`, {
      token: admin,
      body: { value: 'yesterday' },
    });
    expect(notTime.status).to.equal(400);
  });

  it('refuses a date-time the directory cannot store (leap second, offset beyond ±23:59) with 400 naming the attribute', async () => {
    const inum = await newUser(directory.slapd);
    const base = `/users/${inum}/attributes`;
    // Each passes the date-time format, yet is no instant JavaScript can represent: the first two fail the
    // served schema's pattern, the last (a year past 9999 in UTC) only the API's own check.
    for (const value of ['2024-06-30T23:59:60Z', '2024-01-01T00:00:00+99:99', '9999-12-31T23:00:00-05:00']) {
      const reply = await call(app, 'PUT', `${base}/updatedAt`, { token: admin, body: { value } });
      expect(reply.status, value).to.equal(400);
      expect(reply.body.message).to.equal('Invalid value for updatedAt');
      expect(reply.body.description).to.contain('updatedAt must be a date-time');
    }
    const many = await call(app, 'POST', `${base}/_many`, {
      token: admin,
      body: {
        op: 'set',
        items: [
          { name: 'updatedAt', value: '2024-06-30T23:59:60Z' },
          { name: 'nickname', value: 'kept' },
        ],
      },
    });
    expect(many.status).to.equal(200);
    expect(many.body.results.map((r: { status: number }) => r.status)).to.deep.equal([400, 201]);
    const raw = await rawEntry(directory.slapd, dnOf(inum));
    expect(raw.updatedAt).to.equal(undefined);
    expect(raw.nickname).to.deep.equal(['kept']);
  });

  it('refuses what no active definition allows, with 400 naming the attribute, and changes nothing', async () => {
    const inum = await newUser(directory.slapd);
    const base = `/users/${inum}/attributes`;
    const inactive = await call(app, 'PUT', `${base}/carLicense`, { token: admin, body: { value: 'x' } });
    expect(inactive.status).to.equal(400);
    expect(inactive.body.description).to.contain('carLicense');
    const unknown = await call(app, 'PUT', `${base}/noSuchThing`, { token: admin, body: { value: 'x' } });
    expect(unknown.status).to.equal(400);
    const both = await call(app, 'PUT', `${base}/nickname`, {
      token: admin,
      body: { value: 'x', expiresIn: 5, expiresAt: '2099-01-01T00:00:00Z' },
    });
    expect(both.status).to.equal(400);
    expect(both.body.description).to.contain('not both');
    const past = await call(app, 'PUT', `${base}/nickname`, {
      token: admin,
      body: { value: 'x', expiresAt: '2001-01-01T00:00:00Z' },
    });
    expect(past.status).to.equal(400);
    expect((await rawEntry(directory.slapd, dnOf(inum))).nickname).to.equal(undefined);
    const nobody = await call(app, 'GET', `/users/no-such-user/attributes`, { token: admin });
    expect(nobody.status).to.equal(404);
  });

  it('runs definition regexps in linear time: a catastrophic pattern answers at once', async () => {
    const patched = await call(app, 'PATCH', '/attributes/A0E8', {
      token: app.adminToken,
      body: [{ op: 'add', path: '/attributeValidation', value: { regexp: '(a+)+', maxLength: 100000 } }],
    });
    expect(patched.status).to.equal(200);
    const inum = await newUser(directory.slapd);
    const evil = await call(app, 'PUT', `/users/${inum}/attributes/middleName`, {
      token: admin,
      body: { value: `${'a'.repeat(50_000)}!` },
    });
    expect(evil.status).to.equal(400);
    expect(evil.body.description).to.contain('must match pattern');
    const fine = await call(app, 'PUT', `/users/${inum}/attributes/middleName`, {
      token: admin,
      body: { value: 'aaaa' },
    });
    expect(fine.status).to.equal(201);
    const partial = await call(app, 'PUT', `/users/${inum}/attributes/middleName`, {
      token: admin,
      body: { value: 'aab' },
    });
    expect(partial.status, 'the regexp must match the whole value').to.equal(400);
    const backreference = await call(app, 'PATCH', '/attributes/A0E8', {
      token: app.adminToken,
      body: [{ op: 'replace', path: '/attributeValidation/regexp', value: '(a)\\1' }],
    });
    expect(backreference.status).to.equal(400);
    expect(backreference.body.description).to.contain('RE2');
  });

  describe('access', () => {
    it("lets a user's own token act on itself within userCanView/userCanEdit, and nothing else", async () => {
      const inum = await newUser(directory.slapd);
      const other = await newUser(directory.slapd);
      const own = app.issuer.token([], { subject: inum });
      const base = `/users/${inum}/attributes`;
      expect(
        (await call(app, 'PUT', `${base}/nickname`, { token: own, body: { value: 'me' } })).status,
      ).to.equal(201);
      expect((await call(app, 'GET', `${base}/nickname`, { token: own })).body.value).to.equal('me');
      await call(app, 'PUT', `${base}/role`, { token: admin, body: { value: ['x'] } });
      const hidden = await call(app, 'GET', `${base}/role`, { token: own });
      expect(hidden.status, 'role is admin-only to view').to.equal(403);
      expect((await call(app, 'GET', base, { token: own })).body.names).to.not.include('role');
      const readOnly = await call(app, 'PUT', `${base}/jansStatus`, {
        token: own,
        body: { value: 'active' },
      });
      expect(readOnly.status, 'users may view jansStatus, not edit it').to.equal(403);
      const elsewhere = await call(app, 'GET', `/users/${other}/attributes/nickname`, { token: own });
      expect(elsewhere.status).to.equal(403);
      const stranger = app.issuer.token([SCOPE.read], { subject: 'someone-else' });
      expect((await call(app, 'GET', base, { token: stranger })).status).to.equal(403);
    });

    it('lets an admin act on any user within adminCanView/adminCanEdit, by scope', async () => {
      const inum = await newUser(directory.slapd);
      const base = `/users/${inum}/attributes`;
      const reader = app.issuer.token([VALUE_SCOPE.userRead]);
      expect(
        (await call(app, 'PUT', `${base}/nickname`, { token: reader, body: { value: 'x' } })).status,
      ).to.equal(403);
      const writer = app.issuer.token(['https://jans.io/oauth/config/write-all']);
      expect(
        (await call(app, 'PUT', `${base}/nickname`, { token: writer, body: { value: 'x' } })).status,
      ).to.equal(201);
      expect((await call(app, 'DELETE', `${base}/nickname`, { token: writer })).status).to.equal(403);
      expect((await call(app, 'GET', `${base}/nickname`, { token: reader })).body.value).to.equal('x');
      const noAdminView = await call(app, 'PATCH', '/attributes/36D9', {
        token: app.adminToken,
        body: [{ op: 'replace', path: '/viewType', value: ['user'] }],
      });
      expect(noAdminView.status).to.equal(200);
      expect((await call(app, 'GET', `${base}/locale`, { token: reader })).status).to.equal(403);
    });
  });

  it('never serves or writes a password, whatever its definition allows', async () => {
    const inum = await newUser(directory.slapd, { userPassword: ['{SSHA}c2VjcmV0aGFzaA=='] });
    const base = `/users/${inum}/attributes`;
    const everything = app.issuer.token([SCOPE.readAll, SCOPE.writeAll]);
    const own = app.issuer.token([], { subject: inum });
    for (const token of [everything, own]) {
      expect((await call(app, 'GET', `${base}/userPassword`, { token })).status).to.equal(403);
      const write = await call(app, 'PUT', `${base}/userPassword`, { token, body: { value: 'new' } });
      expect(write.status).to.equal(403);
    }
    const names = await call(app, 'GET', base, { token: everything });
    expect(names.body.names).to.not.include('userPassword');
    const schema = await call(app, 'GET', '/attributes/schema?audience=admin', { token: everything });
    expect(Object.keys(schema.body.properties)).to.not.include('userPassword');
    expect((await rawEntry(directory.slapd, `inum=${inum},ou=people,o=jans`)).userPassword).to.deep.equal([
      '{SSHA}c2VjcmV0aGFzaA==',
    ]);
  });

  it('serves the JSON Schema that validates exactly what the API accepts', async () => {
    const inum = await newUser(directory.slapd);
    const userToken = app.issuer.token([], { subject: inum });
    const forUser = await call(app, 'GET', '/attributes/schema?audience=user', { token: userToken });
    expect(forUser.status).to.equal(200);
    expect(forUser.body.$schema).to.equal('https://json-schema.org/draft/2020-12/schema');
    expect(forUser.body.properties).to.not.have.property('role');
    expect(forUser.body.properties.jansStatus.readOnly).to.equal(true);
    expect(forUser.body.properties.nickname.type).to.equal('string');
    expect((await call(app, 'GET', '/attributes/schema', { token: userToken })).status).to.equal(403);
    const forAdmin = await call(app, 'GET', '/attributes/schema?audience=admin', { token: app.adminToken });
    expect(forAdmin.body.properties.role).to.deep.include({ type: 'array' });

    const ajv = new Ajv2020({ strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(forAdmin.body);
    const samples: [string, unknown][] = [
      ['nickname', 'ok'],
      ['nickname', 42],
      ['role', ['a', 'b']],
      ['role', 'a'],
      ['role', ['a', 'a']],
      ['emailVerified', true],
      ['emailVerified', 'true'],
      ['updatedAt', '2026-05-01T10:00:00Z'],
      ['updatedAt', '2026-05-01T10:00:00+05:30'],
      ['updatedAt', 'soon'],
      ['updatedAt', '2024-06-30T23:59:60Z'],
      ['updatedAt', '2024-01-01T00:00:00+99:99'],
      ['updatedAt', '2024-01-01T00:00:00+05'],
      ['updatedAt', '0049-01-01 10:00:00Z'],
      ['jansIMAPData', { any: ['json'] }],
      ['carLicense', 'inactive'],
    ];
    for (const [name, value] of samples) {
      const reply = await call(app, 'PUT', `/users/${inum}/attributes/${name}`, {
        token: admin,
        body: { value },
      });
      const accepted = reply.status === 200 || reply.status === 201;
      expect(accepted, `${name} = ${JSON.stringify(value)}`).to.equal(validate({ [name]: value }));
    }
  });
});
