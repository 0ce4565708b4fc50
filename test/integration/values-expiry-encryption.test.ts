import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { call, rawEntry, type TestApp, useTestDirectory, eventually } from './harness.js';
import { VALUE_SCOPE, newUser } from './values-fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const key = () => randomBytes(32).toString('base64');

describe('value expiry and encryption at rest', () => {
  /** The apps the tests start here are stopped after the suite, unless a test stops them. */
  const { directory, startApp } = useTestDirectory();
  const k1 = key();
  const k2 = key();

  const start = (env: Record<string, string> = {}) =>
    startApp({ SCHEMA_CHECK: 'false', VALUE_PURGE_INTERVAL_S: '1', ...env });
  const admin = (app: TestApp) =>
    app.issuer.token([VALUE_SCOPE.userRead, VALUE_SCOPE.userWrite, VALUE_SCOPE.userDelete]);
  const dnOf = (inum: string) => `inum=${inum},ou=people,o=jans`;

  describe('expiry', () => {
    it('treats an expired value as absent everywhere, then purges it from the directory', async () => {
      const app = await start();
      const token = admin(app);
      const inum = await newUser(directory.slapd);
      const base = `/users/${inum}/attributes`;
      const set = await call(app, 'PUT', `${base}/nickname`, {
        token,
        body: { value: 'brief', expiresIn: 1 },
      });
      expect(set.status).to.equal(201);
      const lasting = await call(app, 'PUT', `${base}/middleName`, {
        token,
        body: { value: 'lasting', expiresAt: '2099-01-01T00:00:00Z' },
      });
      expect(lasting.status).to.equal(201);
      const meta = await call(app, 'GET', `${base}/middleName?metadata=true`, { token });
      expect(meta.body.metadata.expiresAt).to.equal('2099-01-01T00:00:00.000Z');

      await eventually(
        'the value has expired',
        async () => (await call(app, 'GET', `${base}/nickname`, { token })).status === 404,
        Boolean,
        20_000,
      );
      expect((await call(app, 'GET', `${base}/nickname/exists`, { token })).body.exists).to.equal(false);
      expect((await call(app, 'GET', base, { token })).body.names).to.not.include('nickname');
      const create = await call(app, 'POST', base, {
        token,
        body: { name: 'nickname', value: 'x', expiresIn: 1 },
      });
      expect(create.status, 'an expired value does not block create').to.equal(201);
      await eventually(
        'the purge has removed the value from the directory',
        async () => (await rawEntry(directory.slapd, dnOf(inum))).nickname === undefined,
        Boolean,
        20_000,
      );
      const raw = await rawEntry(directory.slapd, dnOf(inum));
      expect(raw.middleName).to.deep.equal(['lasting']);
      expect(raw.registryValueNextExpiry).to.deep.equal(['20990101000000.000Z']);
      await app.stop();
    });

    it('keeps expiry across a restart of the service', async () => {
      const first = await start({ VALUE_PURGE_INTERVAL_S: '3600' });
      const inum = await newUser(directory.slapd);
      const base = `/users/${inum}/attributes`;
      const set = await call(first, 'PUT', `${base}/nickname`, {
        token: admin(first),
        body: { value: 'short-lived', expiresIn: 2 },
      });
      expect(set.status).to.equal(201);
      await first.stop();

      const second = await start();
      await eventually(
        'the restarted service has purged the value',
        async () => (await rawEntry(directory.slapd, dnOf(inum))).nickname === undefined,
        Boolean,
        20_000,
      );
      expect((await call(second, 'GET', `${base}/nickname`, { token: admin(second) })).status).to.equal(404);
      await second.stop();
    });
  });

  describe('encryption', () => {
    it('stores ciphertext with its key id, serves clear text, and re-encrypts when the flag changes', async () => {
      const app = await start({ VALUE_ENCRYPTION_KEYS: `k1:${k1}` });
      const token = admin(app);
      const on = await call(app, 'PATCH', '/attributes/C703', {
        token: app.adminToken,
        body: [{ op: 'add', path: '/encrypted', value: true }],
      });
      expect(on.status).to.equal(200);
      const inum = await newUser(directory.slapd);
      const base = `/users/${inum}/attributes`;
      expect(
        (await call(app, 'PUT', `${base}/secretAnswer`, { token, body: { value: 'blue' } })).status,
      ).to.equal(201);
      const [stored] = (await rawEntry(directory.slapd, dnOf(inum))).secretAnswer ?? [];
      expect(stored).to.match(/^\{aes256gcm\}k1:/);
      expect(stored).to.not.contain('blue');
      const read = await call(app, 'GET', `${base}/secretAnswer?metadata=true`, { token });
      expect(read.body.value).to.equal('blue');
      expect(read.body.metadata.encrypted).to.equal(true);
      const own = app.issuer.token([], { subject: inum });
      expect((await call(app, 'GET', `${base}/secretAnswer`, { token: own })).body.value).to.equal('blue');

      await call(app, 'PUT', `${base}/nickname`, { token, body: { value: 'nick' } });
      const encryptNick = await call(app, 'PATCH', '/attributes/5EC6', {
        token: app.adminToken,
        body: [{ op: 'add', path: '/encrypted', value: true }],
      });
      expect(encryptNick.status).to.equal(200);
      expect((await rawEntry(directory.slapd, dnOf(inum))).nickname?.[0]).to.match(/^\{aes256gcm\}k1:/);
      expect((await call(app, 'GET', `${base}/nickname`, { token })).body.value).to.equal('nick');
      const decryptNick = await call(app, 'PATCH', '/attributes/5EC6', {
        token: app.adminToken,
        body: [{ op: 'remove', path: '/encrypted' }],
      });
      expect(decryptNick.status).to.equal(200);
      expect((await rawEntry(directory.slapd, dnOf(inum))).nickname).to.deep.equal(['nick']);

      const timeSyntax = await call(app, 'PATCH', '/attributes/BE64', {
        token: app.adminToken,
        body: [{ op: 'add', path: '/encrypted', value: true }],
      });
      expect(timeSyntax.status, 'updatedAt has Generalized Time syntax').to.equal(409);
      expect(timeSyntax.body.description).to.contain('does not accept ciphertext');

      const keyless = await start();
      const refused = await call(keyless, 'PATCH', '/attributes/5EC6', {
        token: keyless.adminToken,
        body: [{ op: 'add', path: '/encrypted', value: true }],
      });
      expect(refused.status, 'no keys, stored values: refused').to.equal(409);
      expect(refused.body.description).to.contain('VALUE_ENCRYPTION_KEYS');
      await keyless.stop();
      await app.stop();
    });

    it('reads with every configured key and re-encrypts with the current one from the command line', async () => {
      const before = await start({ VALUE_ENCRYPTION_KEYS: `k1:${k1}` });
      await call(before, 'PATCH', '/attributes/C703', {
        token: before.adminToken,
        body: [{ op: 'add', path: '/encrypted', value: true }],
      });
      const inum = await newUser(directory.slapd);
      const path = `/users/${inum}/attributes/secretAnswer`;
      await call(before, 'PUT', path, { token: admin(before), body: { value: 'green' } });
      await before.stop();

      const keys = { VALUE_ENCRYPTION_KEYS: `k1:${k1},k2:${k2}`, VALUE_ENCRYPTION_WRITE_KEY: 'k2' };
      const rotated = await start(keys);
      expect((await call(rotated, 'GET', path, { token: admin(rotated) })).body.value).to.equal('green');
      const run = spawnSync('node', ['--import', 'tsx', 'src/cli/reencrypt.ts'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: {
          ...process.env,
          ...keys,
          LDAP_URL: directory.slapd.url,
          LDAP_BIND_DN: directory.slapd.bindDn,
          LDAP_BIND_PASSWORD: directory.slapd.password,
        },
      });
      expect(run.status, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/rewrote [1-9]\d* value/);
      expect(`${run.stdout}${run.stderr}`).to.not.contain(k1).and.not.contain(k2);
      expect((await rawEntry(directory.slapd, dnOf(inum))).secretAnswer?.[0]).to.match(/^\{aes256gcm\}k2:/);
      await rotated.stop();

      const onlyNew = await start({ VALUE_ENCRYPTION_KEYS: `k2:${k2}` });
      expect((await call(onlyNew, 'GET', path, { token: admin(onlyNew) })).body.value).to.equal('green');
      await onlyNew.stop();
    });
  });
});
