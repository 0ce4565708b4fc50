import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { Attribute, Change } from 'ldapts';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { LdifEntry } from '../../src/directory/ldif.js';
import { STANDARD_LDIF, readLdifFiles, seed } from '../../src/directory/seed.js';
import { startSlapd, type RunningSlapd } from '../../src/directory/slapd.js';
import { Directory } from '../../src/ldap/directory.js';
import { asRoot, call, rawEntry, startTestApp, tempDir, type TestApp, eventually } from './harness.js';

const BASE = 'o=gluu';

/** The standard seed, moved from o=jans to another base, DN-valued attributes (scope claims) included. */
function movedTo(base: string, entries: LdifEntry[]): LdifEntry[] {
  const move = (text: string) => text.replace(/(^|,)o=jans$/i, `$1${base}`);
  return entries.map((entry) => ({
    ...entry,
    dn: move(entry.dn),
    attributes: new Map(
      [...entry.attributes].map(([name, values]) => [
        name,
        name.toLowerCase() === 'o' ? [base.slice(2)] : values.map(move),
      ]),
    ),
  }));
}

describe('a directory under another base DN (LDAP_BASE_DN=o=gluu)', () => {
  let dataDir: string;
  let slapd: RunningSlapd;
  let app: TestApp;
  let token: string;

  before(async () => {
    dataDir = await tempDir('gluu');
    slapd = await startSlapd({ dataDir, suffix: BASE });
    const directory = new Directory({
      url: slapd.url,
      bindDn: slapd.bindDn,
      bindPassword: slapd.password,
      baseDn: BASE,
      poolSize: 1,
      connectTimeoutMs: 2000,
      operationTimeoutMs: 5000,
      maxPending: 100,
    });
    await seed(directory, movedTo(BASE, await readLdifFiles(STANDARD_LDIF)));
    await directory.close();
    // SCHEMA_CHECK=false: the test's name need not be an attribute type of the person schema.
    app = await startTestApp(slapd, { LDAP_BASE_DN: BASE, INDEX_POLL_MS: '100', SCHEMA_CHECK: 'false' });
    token = app.adminToken;
  });
  after(async () => {
    await app?.stop();
    await slapd?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('serves, creates, patches, releases in scopes and deletes definitions under that base', async () => {
    const standard = await call(app, 'GET', '/attributes/08E2', { token });
    expect(standard.status).to.equal(200);
    expect([standard.body.dn, standard.body.baseDn]).to.deep.equal([
      `inum=08E2,ou=attributes,${BASE}`,
      `inum=08E2,ou=attributes,${BASE}`,
    ]);
    const page = await call(app, 'GET', '/attributes?limit=200', { token });
    expect(page.body.totalEntriesCount).to.equal(71);

    const created = await call(app, 'POST', '/attributes', {
      token,
      body: {
        name: 'gluuBadge',
        displayName: 'Badge',
        description: 'Number on the building badge',
        dataType: 'string',
        status: 'active',
        editType: ['admin'],
        viewType: ['admin'],
      },
    });
    expect(created.status).to.equal(201);
    const dn = `inum=${created.body.inum},ou=attributes,${BASE}`;
    expect(created.body.dn).to.equal(dn);
    expect((await rawEntry(slapd, dn)).jansAttrName).to.deep.equal(['gluuBadge']);

    const patched = await call(app, 'PATCH', `/attributes/${created.body.inum}`, {
      token,
      body: [{ op: 'replace', path: '/displayName', value: 'Badge number' }],
    });
    expect(patched.status).to.equal(200);
    expect((await rawEntry(slapd, dn)).displayName).to.deep.equal(['Badge number']);

    const scopesToken = app.issuer.token([
      'https://jans.io/oauth/config/attributes.readonly',
      'https://jans.io/oauth/config/attributes.delete',
      'https://jans.io/oauth/config/scopes.readonly',
      'https://jans.io/oauth/config/scopes.write',
    ]);
    const released = await call(app, 'PATCH', '/scopes/43F1', {
      token: scopesToken,
      body: [{ op: 'add', path: '/claims/-', value: dn }],
    });
    expect(released.status).to.equal(200);
    const usage = await call(app, 'GET', `/attributes/${created.body.inum}/usage`, { token: scopesToken });
    expect(usage.body.scopes.map((s: { inum: string }) => s.inum)).to.deep.equal(['43F1']);
    const refused = await call(app, 'DELETE', `/attributes/${created.body.inum}`, { token });
    expect(refused.status).to.equal(409);
    const forced = await call(app, 'DELETE', `/attributes/${created.body.inum}?force=true`, {
      token: scopesToken,
    });
    expect(forced.status).to.equal(204);
    expect(await rawEntry(slapd, dn)).to.deep.equal({});
    expect((await rawEntry(slapd, `inum=43F1,ou=scopes,${BASE}`)).jansClaim).to.not.include(dn);

    const history = await call(app, 'GET', `/attributes/${created.body.inum}/history`, { token });
    expect(history.body.entries.map((e: { operation: string }) => e.operation)).to.deep.equal([
      'delete-attributes-by-inum',
      'delete-attributes-by-inum',
      'patch-attributes-by-inum',
      'post-attributes',
    ]);
  });

  it('sees a change made behind its back under that base within a second', async () => {
    await asRoot(slapd, (c) =>
      c.modify(
        `inum=08E2,ou=attributes,${BASE}`,
        new Change({
          operation: 'replace',
          modification: new Attribute({ type: 'displayName', values: ['Changed elsewhere'] }),
        }),
      ),
    );
    const seen = await eventually(
      'the change showing within a second',
      async () => (await call(app, 'GET', '/attributes/08E2', { token })).body.displayName,
      (displayName) => displayName === 'Changed elsewhere',
      1000,
    );
    expect(seen).to.equal('Changed elsewhere');
  });

  it('refuses another base for the embedded directory, whose seed is written for o=jans', () => {
    expect(() => loadConfig({ LDAP_BASE_DN: BASE })).to.throw(ConfigError, /LDAP_BASE_DN.*LDAP_URL/);
    expect(loadConfig({ LDAP_BASE_DN: 'O=Jans' }).baseDn).to.equal('O=Jans');
  });
});
