import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { Attribute, Change } from 'ldapts';
import { STANDARD_LDIF, readLdifFiles, seed } from '../../src/directory/seed.js';
import { renderConfig } from '../../src/directory/slapd-config.js';
import { createConfigDir, startSlapd, type RunningSlapd } from '../../src/directory/slapd.js';
import { earlierConfig } from '../fixtures/slapd-configs.js';
import {
  adminDirectory,
  asRoot,
  call,
  startTestApp,
  tempDir,
  uniqueName,
  JANSSEN_REQUIRED,
} from './harness.js';

const SCHEMA = 'cn=schema,cn=config';

/** The project's schema entry (`cn={n}jans`) of a running slapd, as the config admin sees it. */
async function jansSchema(slapd: RunningSlapd) {
  const { searchEntries } = await asRoot(
    slapd,
    (c) =>
      c.search(SCHEMA, {
        scope: 'one',
        filter: '(cn=*jans)',
        attributes: ['olcAttributeTypes', 'olcObjectClasses'],
      }),
    'config',
  );
  const entry = searchEntries[0];
  if (!entry) throw new Error('no jans schema entry');
  const list = (name: string) => [entry[name] ?? []].flat().map(String);
  const find = (kind: 'olcAttributeTypes' | 'olcObjectClasses', name: string) =>
    list(kind).find((v) => v.includes(`NAME '${name}'`));
  return { dn: entry.dn, find };
}

/** The main database's configuration entry: the one whose suffix is o=jans. */
async function mainDatabase(slapd: RunningSlapd) {
  const { searchEntries } = await asRoot(
    slapd,
    (c) => c.search('cn=config', { scope: 'one', filter: '(olcSuffix=o=jans)', attributes: ['olcDbIndex'] }),
    'config',
  );
  const entry = searchEntries[0];
  if (!entry) throw new Error('no database for o=jans');
  return { dn: entry.dn, indexes: [entry.olcDbIndex ?? []].flat().map(String) };
}

const modifyConfig = (slapd: RunningSlapd, dn: string, changes: Change[]) =>
  asRoot(slapd, (c) => c.modify(dn, changes), 'config');

const values = (operation: 'add' | 'delete', type: string, list: string[]) =>
  new Change({ operation, modification: new Attribute({ type, values: list }) });
const withoutPosition = (value: string) => value.replace(/^\{\d+\}/, '');

describe('the embedded directory schema and indexes of an existing data directory', () => {
  let dataDir: string;
  let slapd: RunningSlapd | undefined;

  before(async () => {
    dataDir = await tempDir('schema-upgrade');
  });
  after(async () => {
    await slapd?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const restart = async () => {
    await slapd?.stop();
    slapd = await startSlapd({ dataDir, suffix: 'o=jans' });
    return slapd;
  };

  it('is left alone when it is this version’s', async () => {
    expect((await restart()).created).to.equal(true);
    const again = await restart();
    expect([again.created, again.schemaChanges]).to.deep.equal([false, []]);
  });

  it('is brought up to this version at start: missing types and classes added, changed ones replaced, run-time extensions kept', async () => {
    const running = await restart();
    const before = await jansSchema(running);
    const record = before.find('olcAttributeTypes', 'registryAuditRecord') as string;
    const sessionValue = before.find('olcAttributeTypes', 'registrySessionValue') as string;
    const holder = before.find('olcObjectClasses', 'registryValueHolder') as string;
    const session = before.find('olcObjectClasses', 'registrySession') as string;
    const custom = before.find('olcObjectClasses', 'jansCustomPerson') as string;
    // What an earlier version had: a single-valued record, neither value bookkeeping nor sessions, and
    // another wording of the custom class, which schema extension then extended with a type of its own.
    const badge =
      "( 1.3.6.1.4.1.48710.1.3.9001 NAME 'badgeNumber' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )";
    const extended = withoutPosition(custom)
      .replace(/DESC '[^']*'/, "DESC 'custom attributes'")
      .replace(/MAY \(([^)]*)\)/, 'MAY ($1$ badgeNumber )');
    await modifyConfig(running, before.dn, [
      values('delete', 'olcObjectClasses', [holder, session, custom]),
      values('delete', 'olcAttributeTypes', [record, sessionValue]),
      values('add', 'olcAttributeTypes', [
        withoutPosition(record).replace(/ X-ORIGIN/, ' SINGLE-VALUE X-ORIGIN'),
        badge,
      ]),
      values('add', 'olcObjectClasses', [extended]),
    ]);
    // ... and no index for the session user yet.
    await modifyConfig(running, (await mainDatabase(running)).dn, [
      values('delete', 'olcDbIndex', ['registrySessionUser eq']),
    ]);
    const aged = await jansSchema(running);
    expect(aged.find('olcAttributeTypes', 'registryAuditRecord')).to.contain('SINGLE-VALUE');
    expect(aged.find('olcObjectClasses', 'registryValueHolder')).to.equal(undefined);

    const upgraded = await restart();
    expect(upgraded.schemaChanges).to.have.members([
      'jans: changed registryAuditRecord',
      'jans: added registrySessionValue',
      'jans: added registryValueHolder',
      'jans: added registrySession',
      'jans: changed jansCustomPerson',
      'index added: registrySessionUser eq',
    ]);
    const now = await jansSchema(upgraded);
    expect(now.find('olcAttributeTypes', 'registryAuditRecord')).to.not.contain('SINGLE-VALUE');
    for (const [kind, value] of [
      ['olcAttributeTypes', sessionValue],
      ['olcObjectClasses', holder],
      ['olcObjectClasses', session],
    ] as const) {
      const name = /NAME '([^']+)'/.exec(value)?.[1] ?? '';
      expect(withoutPosition(now.find(kind, name) ?? ''), name).to.equal(withoutPosition(value));
    }
    // The class as this version words it, still allowing the type schema extension added.
    const customNow = now.find('olcObjectClasses', 'jansCustomPerson') ?? '';
    expect(customNow).to.match(/DESC 'Auxiliary class for additional and custom person attributes'/);
    expect(customNow).to.match(/ \$ badgeNumber \)/);
    expect(now.find('olcAttributeTypes', 'badgeNumber')).to.contain("NAME 'badgeNumber'");
    expect((await mainDatabase(upgraded)).indexes).to.include('registrySessionUser eq');

    expect((await restart()).schemaChanges).to.deep.equal([]);
  });
});

/** A data directory as an earlier version left it (see earlierConfig). */
async function earlierDataDir(dataDir: string, password: string): Promise<void> {
  for (const dir of ['db', 'changelog', 'run']) await mkdir(join(dataDir, dir), { recursive: true });
  createConfigDir(join(dataDir, 'slapd.d'), renderConfig(earlierConfig(dataDir, password)));
  await writeFile(join(dataDir, 'directory-password'), `${password}\n`, { mode: 0o600 });
}

describe('a data directory whose claims and audit trail share the main database (an earlier layout)', () => {
  let dataDir: string;
  let slapd: RunningSlapd | undefined;

  before(async () => {
    dataDir = await tempDir('earlier-layout');
    await earlierDataDir(dataDir, 'earlier-layout-secret');
  });
  after(async () => {
    await slapd?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('gets the missing indexes on its main database and serves names, claims and history', async () => {
    slapd = await startSlapd({ dataDir, suffix: 'o=jans' });
    expect(slapd.created).to.equal(false);
    expect(slapd.schemaChanges).to.include('index added: jansStatus eq');
    expect((await mainDatabase(slapd)).dn).to.equal('olcDatabase={1}mdb,cn=config');
    const directory = adminDirectory(slapd);
    await seed(directory, await readLdifFiles(STANDARD_LDIF));
    await directory.close();

    const app = await startTestApp(slapd, { SCHEMA_CHECK: 'false' });
    try {
      const body = {
        ...JANSSEN_REQUIRED,
        name: uniqueName('earlier'),
        displayName: 'Earlier layout',
        dataType: 'string',
      };
      const created = await call(app, 'POST', '/attributes', { token: app.adminToken, body });
      expect(created.status).to.equal(201);
      const again = await call(app, 'POST', '/attributes', { token: app.adminToken, body });
      expect(again.status, 'the name is claimed').to.equal(409);
      const history = await call(app, 'GET', `/attributes/${created.body.inum}/history`, {
        token: app.adminToken,
      });
      expect(history.body.totalEntriesCount).to.equal(1);
      // Both the claim and the audit entry went to the one database there is.
      const { searchEntries } = await asRoot(slapd, (c) =>
        c.search('o=jans', {
          scope: 'sub',
          filter: `(|(cn=${body.name.toLowerCase()})(registryAuditTarget=${created.body.inum}))`,
          attributes: ['1.1'],
        }),
      );
      expect(searchEntries.map((e) => e.dn.split(',')[1])).to.have.members(['ou=attributeNames', 'ou=audit']);
    } finally {
      await app.stop();
    }
  });
});
