import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Attribute, Change, Client } from 'ldapts';
import { asRoot, call, rawEntry, uniqueName, type TestApp, useTestDirectory } from './harness.js';
import { VALUE_SCOPE, newSession, newUser } from './values-fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const key = () => randomBytes(32).toString('base64');
const SEALED_K1 = /^\{aes256gcm\}k1:/;
const SEALED_K2 = /^\{aes256gcm\}k2:/;

describe('encryption of stored values when definitions and keys change', function () {
  // Each test starts the service, some twice, and one runs the command in a child process.
  this.timeout(60_000);
  const { directory, startApp } = useTestDirectory();
  const apps: TestApp[] = [];
  const k1 = key();
  const k2 = key();
  /** Entries a test made (definitions, users, sessions), removed after it. */
  const entries: string[] = [];

  afterEach(async () => {
    for (const app of apps.splice(0)) await app.stop();
    await directoryChange(async (client) => {
      for (const dn of entries.splice(0)) await client.del(dn).catch(() => undefined);
    });
  });

  /** A change made straight in the directory, as the identity server or an LDIF import would. */
  const directoryChange = <T>(work: (client: Client) => Promise<T>) => asRoot(directory.slapd, work);

  /** The service, allowed to add attribute types so that each test has types of its own. */
  async function start(env: Record<string, string> = {}): Promise<TestApp> {
    const app = await startApp({
      SCHEMA_EXTENSION: 'true',
      LDAP_CONFIG_BIND_DN: directory.slapd.configDn,
      LDAP_CONFIG_BIND_PASSWORD: directory.slapd.password,
      ...env,
    });
    apps.push(app);
    return app;
  }
  async function stop(app: TestApp) {
    apps.splice(apps.indexOf(app), 1);
    await app.stop();
  }
  const adminOf = (app: TestApp) =>
    app.issuer.token([VALUE_SCOPE.userRead, VALUE_SCOPE.userWrite, VALUE_SCOPE.sessionWrite]);
  const userDn = (inum: string) => `inum=${inum},ou=people,o=jans`;
  const definitionDn = (inum: string) => `inum=${inum},ou=attributes,o=jans`;
  const sessionDn = (id: string) => `registrySessionId=${id},ou=sessions,o=jans`;

  /** A new string definition on a new attribute type (Directory String) that person entries may carry. */
  async function ownDefinition(
    app: TestApp,
    fields: Record<string, unknown> = {},
    name = uniqueName('kc').replace('_', ''),
  ): Promise<{ inum: string; name: string }> {
    const reply = await call(app, 'POST', '/attributes?extendSchema=true', {
      token: app.adminToken,
      body: {
        name,
        displayName: uniqueName('Key change'),
        description: 'Encrypted values in a test',
        dataType: 'string',
        status: 'active',
        editType: ['admin'],
        viewType: ['admin'],
        ...fields,
      },
    });
    expect(reply.status, JSON.stringify(reply.body)).to.equal(201);
    entries.push(definitionDn(reply.body.inum));
    return reply.body;
  }
  /** A user entry as the identity server writes it: values loaded over LDAP, no bookkeeping. */
  async function user(values: Record<string, string[]> = {}): Promise<string> {
    const inum = await newUser(directory.slapd, values);
    entries.push(userDn(inum));
    return inum;
  }
  const flag = (app: TestApp, inum: string, on: boolean) =>
    call(app, 'PATCH', `/attributes/${inum}`, {
      token: app.adminToken,
      body: [on ? { op: 'add', path: '/encrypted', value: true } : { op: 'remove', path: '/encrypted' }],
    });
  function reencryptCommand(env: Record<string, string>) {
    return spawnSync('node', ['--import', 'tsx', 'src/cli/reencrypt.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        ...env,
        LDAP_URL: directory.slapd.url,
        LDAP_BIND_DN: directory.slapd.bindDn,
        LDAP_BIND_PASSWORD: directory.slapd.password,
      },
    });
  }

  it('re-encrypts from the command line values without bookkeeping, of active and inactive definitions', async () => {
    const first = await start({ VALUE_ENCRYPTION_KEYS: `k1:${k1}` });
    const active = await ownDefinition(first);
    const inactive = await ownDefinition(first, { status: 'inactive', encrypted: true });
    const inum = await user({ [active.name]: ['plate-1'] });
    expect((await flag(first, active.inum, true)).status).to.equal(200);
    // Loaded over LDAP while the definition is encrypted: stored clear.
    await directoryChange((client) =>
      client.modify(userDn(inum), [
        new Change({
          operation: 'add',
          modification: new Attribute({ type: inactive.name, values: ['room-2'] }),
        }),
      ]),
    );
    const session = await newSession(directory.slapd, inum);
    entries.push(sessionDn(session));
    const inSession = await call(first, 'PUT', `/sessions/${session}/attributes/${active.name}`, {
      token: adminOf(first),
      body: { value: 'plate-s' },
    });
    expect(inSession.status).to.equal(201);
    const before = await rawEntry(directory.slapd, userDn(inum));
    expect(before[active.name]?.[0]).to.match(SEALED_K1);
    expect(before[inactive.name]).to.deep.equal(['room-2']);
    expect(before.registryValueMeta, 'no bookkeeping on the user').to.equal(undefined);
    await stop(first);

    const run = reencryptCommand({
      VALUE_ENCRYPTION_KEYS: `k1:${k1},k2:${k2}`,
      VALUE_ENCRYPTION_WRITE_KEY: 'k2',
    });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.contain('rewrote 3 values');
    const after = await rawEntry(directory.slapd, userDn(inum));
    expect(after[active.name]?.[0]).to.match(SEALED_K2);
    expect(after[inactive.name]?.[0]).to.match(SEALED_K2);
    const [line] = (await rawEntry(directory.slapd, sessionDn(session))).registrySessionValue ?? [];
    expect((JSON.parse(line as string) as { values: string[] }).values[0]).to.match(SEALED_K2);

    const onlyNew = await start({ VALUE_ENCRYPTION_KEYS: `k2:${k2}` });
    const token = adminOf(onlyNew);
    const read = await call(onlyNew, 'GET', `/users/${inum}/attributes/${active.name}`, { token });
    expect(read.status).to.equal(200);
    expect(read.body.value).to.equal('plate-1');
    const activated = await call(onlyNew, 'PATCH', `/attributes/${inactive.inum}`, {
      token: onlyNew.adminToken,
      body: [{ op: 'replace', path: '/status', value: 'active' }],
    });
    expect(activated.status).to.equal(200);
    const readInactive = await call(onlyNew, 'GET', `/users/${inum}/attributes/${inactive.name}`, { token });
    expect(readInactive.body.value).to.equal('room-2');
  });

  it('refuses with 409 naming the missing key to switch encrypted off or on, and changes nothing', async () => {
    const keyed = await start({ VALUE_ENCRYPTION_KEYS: `k1:${k1}` });
    const secret = await ownDefinition(keyed, { encrypted: true });
    const inum = await user();
    const path = `/users/${inum}/attributes/${secret.name}`;
    expect(
      (await call(keyed, 'PUT', path, { token: adminOf(keyed), body: { value: 'hidden' } })).status,
    ).to.equal(201);
    const stored = (await rawEntry(directory.slapd, userDn(inum)))[secret.name];
    expect(stored?.[0]).to.match(SEALED_K1);

    const keyless = await start();
    const off = await flag(keyless, secret.inum, false);
    expect(off.status).to.equal(409);
    expect(off.body.description).to.contain("key 'k1'").and.contain('VALUE_ENCRYPTION_KEYS is not set');
    const otherKey = await start({ VALUE_ENCRYPTION_KEYS: `k2:${k2}` });
    const offElsewhere = await flag(otherKey, secret.inum, false);
    expect(offElsewhere.status).to.equal(409);
    expect(offElsewhere.body.description).to.contain("key 'k1'").and.contain('decrypted');
    const unchanged = await call(otherKey, 'GET', `/attributes/${secret.inum}`, {
      token: otherKey.adminToken,
    });
    expect(unchanged.body.encrypted).to.equal(true);
    expect((await rawEntry(directory.slapd, userDn(inum)))[secret.name]).to.deep.equal(stored);

    // Deleted and defined again, not encrypted: the ciphertext stays on the entry.
    expect(
      (await call(keyed, 'DELETE', `/attributes/${secret.inum}`, { token: keyed.adminToken })).status,
    ).to.equal(204);
    const again = await ownDefinition(keyed, {}, secret.name);
    const on = await flag(otherKey, again.inum, true);
    expect(on.status).to.equal(409);
    expect(on.body.description).to.contain("key 'k1'").and.contain('re-encrypted');
    const stillClearFlag = await call(otherKey, 'GET', `/attributes/${again.inum}`, {
      token: otherKey.adminToken,
    });
    expect(stillClearFlag.body.encrypted).to.equal(undefined);
    expect((await rawEntry(directory.slapd, userDn(inum)))[secret.name]).to.deep.equal(stored);

    // The instance that has the key may make the same change.
    expect((await flag(keyed, again.inum, true)).status).to.equal(200);
    expect((await flag(keyed, again.inum, false)).status).to.equal(200);
    expect((await rawEntry(directory.slapd, userDn(inum)))[secret.name]).to.deep.equal(['hidden']);
  });

  it('encrypts and decrypts the stored values of an inactive definition when its flag changes', async () => {
    const app = await start({ VALUE_ENCRYPTION_KEYS: `k1:${k1}` });
    const desk = await ownDefinition(app, { status: 'inactive' });
    const inum = await user({ [desk.name]: ['desk 7'] });
    expect((await flag(app, desk.inum, true)).status).to.equal(200);
    const [sealed] = (await rawEntry(directory.slapd, userDn(inum)))[desk.name] ?? [];
    expect(sealed).to.match(SEALED_K1);
    expect(sealed).to.not.contain('desk 7');
    expect((await flag(app, desk.inum, false)).status).to.equal(200);
    expect((await rawEntry(directory.slapd, userDn(inum)))[desk.name]).to.deep.equal(['desk 7']);
  });
});
