import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Attribute, Change, Client, EqualityFilter, ResultCodeError } from 'ldapts';
import { upgradeSchema } from './schema-upgrade.js';

/** The project's schema files, in load order (after the system's core, cosine and inetorgperson). */
const SCHEMA_DIR = fileURLToPath(new URL('../../ldif/schema/', import.meta.url));
const PROJECT_SCHEMAS = ['eduperson.ldif', 'jans.ldif'];
const SYSTEM_SCHEMA_DIR = '/etc/ldap/schema';
const SYSTEM_SCHEMAS = ['core.ldif', 'cosine.ldif', 'inetorgperson.ldif'];
const MODULE_DIR = '/usr/lib/ldap';
/**
 * Suffix of the database where slapd's accesslog overlay records every write under ou=attributes, so
 * that a reader can learn of changes made by others, deletes included, by polling it.
 */
export const CHANGE_LOG = 'cn=changelog';

export const INSTALL_HINT =
  'slapd (OpenLDAP) is not installed. On Debian or Ubuntu install it with:\n' +
  '  sudo apt-get update && sudo apt-get install -y slapd ldap-utils\n' +
  'or set LDAP_URL to use an existing directory.';

export class SlapdError extends Error {}

export interface SlapdOptions {
  /** Holds the configuration (`slapd.d`), the database (`db`) and the run files; created when missing. */
  dataDir: string;
  /** Suffix of the database, e.g. `o=jans`. */
  suffix: string;
  /** Loopback port; a free one is picked when left out. */
  port?: number;
  /** The slapd program; looked for in the usual places when left out. */
  slapdPath?: string;
  /**
   * Multi-provider replication: this server's id and the URLs of the other providers, which must share
   * the suffix and the admin password. Applies when the configuration is created.
   */
  replication?: { serverId: number; peers: string[] };
  /** Admin password of a new configuration (default: generated). */
  password?: string;
  /**
   * Serve ldaps:// with this certificate and key (PEM files) instead of ldap://; with `startTls`, serve
   * ldap:// and require StartTLS before anything else. Applies at creation.
   */
  tls?: { certFile: string; keyFile: string; startTls?: boolean };
}

export interface RunningSlapd {
  url: string;
  /** Root DN of the database: full write access to the suffix. */
  bindDn: string;
  /** Root DN of cn=config, for schema changes at run time. */
  configDn: string;
  password: string;
  /** True when this start created the configuration and database. */
  created: boolean;
  /** What this start changed to bring the schema of an existing configuration up to this version. */
  schemaChanges: string[];
  /** Stops slapd gracefully; resolves when it has exited. */
  stop(): Promise<void>;
  /** The process, for tests that need to stop, pause or kill it. */
  process: ChildProcess;
}

export function findSlapd(): string | undefined {
  for (const candidate of ['/usr/sbin/slapd', '/usr/local/sbin/slapd', '/usr/local/libexec/slapd']) {
    if (existsSync(candidate)) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v slapd'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || undefined : undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? done(address.port) : fail(new Error('no port')),
      );
    });
  });
}

/** The indexes of the main database (the one that holds the suffix). */
const INDEXES = [
  'objectClass eq',
  'inum eq',
  'jansAttrName eq',
  'jansClaimName eq',
  'jansStatus eq',
  'jansClaim eq',
  'registryAuditTarget eq',
  'registryValueNextExpiry eq,pres',
  'registrySessionId eq',
  'registrySessionUser eq',
  'entryCSN eq',
  'entryUUID eq',
];

/**
 * Subtrees kept in databases of their own: every write commits its database on its own, with its own
 * lock and sync, so the name claim and the audit record of a request do not queue behind definition
 * writes for the main database's commits. They are not glued under the main database: slapd 2.5.13
 * refuses (unwillingToPerform) a paged search of a glued database whose last page ends exactly at its
 * last entry. So a search of the suffix does not include them; the service reads each under its own
 * base. A database whose suffix is inside another's must come first: these take the numbers before the
 * main one.
 */
const OWN_DATABASES = [
  { ou: 'attributeNames', indexes: [] },
  { ou: 'audit', indexes: ['registryAuditTarget eq'] },
];
const OWN_DATABASE_INDEXES = ['objectClass eq', 'entryCSN eq', 'entryUUID eq'];
const MAIN = OWN_DATABASES.length + 1;

/** `{SSHA}` hash as slapd expects it, so the configuration never holds the password in clear. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

interface ConfigOptions {
  dataDir: string;
  suffix: string;
  bindDn: string;
  configDn: string;
  password: string;
  replication?: { serverId: number; peers: string[] };
  tls?: { certFile: string; keyFile: string; startTls?: boolean };
}

/**
 * Replication of one database: it consumes from each peer (rids `firstRid` on) and provides to them
 * (syncprov, configured with the database). Every database replicates on its own.
 */
function syncrepl(options: ConfigOptions, searchBase: string, firstRid: number): string {
  if (!options.replication) return '';
  // Each database's rids are a range of 100 (rids have three digits).
  if (options.replication.peers.length > 99) throw new SlapdError('replication: at most 99 peers');
  const consumers = options.replication.peers.map(
    (peer, i) =>
      `olcSyncrepl: {${i}}rid=${String(firstRid + i).padStart(3, '0')} provider=${peer} bindmethod=simple ` +
      `binddn="${options.bindDn}" credentials=${options.password} searchbase="${searchBase}" ` +
      'type=refreshAndPersist retry="1 +" timeout=3 network-timeout=3',
  );
  return [...consumers, 'olcMultiProvider: TRUE', ''].join('\n');
}

/** One of OWN_DATABASES, replicated like the main one. */
function ownDatabaseLdif(options: ConfigOptions, position: number, ou: string, indexes: string[]): string {
  const dn = `olcDatabase={${position}}mdb,cn=config`;
  return `dn: ${dn}
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {${position}}mdb
olcSuffix: ou=${ou},${options.suffix}
olcDbDirectory: ${join(options.dataDir, ou)}
olcRootDN: ${options.bindDn}
olcDbMaxSize: 4294967296
${[...OWN_DATABASE_INDEXES, ...indexes].map((index) => `olcDbIndex: ${index}`).join('\n')}
olcAccess: to * by anonymous auth by * none
${syncrepl(options, `ou=${ou},${options.suffix}`, position * 100 + 1)}
dn: olcOverlay={0}syncprov,${dn}
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {0}syncprov
olcSpCheckpoint: 100 10

`;
}

function configLdif(options: ConfigOptions): string {
  const hash = ssha(options.password);
  const includes = [
    ...SYSTEM_SCHEMAS.map((f) => join(SYSTEM_SCHEMA_DIR, f)),
    ...PROJECT_SCHEMAS.map((f) => join(SCHEMA_DIR, f)),
  ];
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${join(options.dataDir, 'run', 'slapd.pid')}
${options.tls ? `olcTLSCertificateFile: ${options.tls.certFile}\nolcTLSCertificateKeyFile: ${options.tls.keyFile}\n` : ''}${options.tls?.startTls ? 'olcSecurity: tls=1\n' : ''}${options.replication ? `olcServerID: ${options.replication.serverId}\n` : ''}
dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: ${MODULE_DIR}
olcModuleLoad: back_mdb
olcModuleLoad: unique
olcModuleLoad: syncprov
olcModuleLoad: accesslog

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

${includes.map((file) => `include: file://${file}`).join('\n\n')}

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcRootDN: ${options.configDn}
olcRootPW: ${hash}

${OWN_DATABASES.map((own, i) => ownDatabaseLdif(options, i + 1, own.ou, own.indexes)).join('')}dn: olcDatabase={${MAIN}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {${MAIN}}mdb
olcSuffix: ${options.suffix}
olcDbDirectory: ${join(options.dataDir, 'db')}
olcRootDN: ${options.bindDn}
olcRootPW: ${hash}
olcDbMaxSize: 4294967296
${INDEXES.map((index) => `olcDbIndex: ${index}`).join('\n')}
olcAccess: to * by anonymous auth by * none
${syncrepl(options, options.suffix, 1)}
dn: olcOverlay={0}unique,olcDatabase={${MAIN}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcUniqueConfig
olcOverlay: {0}unique
olcUniqueURI: ldap:///ou=attributes,${options.suffix}?jansAttrName?one

dn: olcOverlay={1}syncprov,olcDatabase={${MAIN}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {1}syncprov
olcSpCheckpoint: 100 10

dn: olcOverlay={2}accesslog,olcDatabase={${MAIN}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcAccessLogConfig
olcOverlay: {2}accesslog
olcAccessLogDB: ${CHANGE_LOG}
olcAccessLogBase: writes ou=attributes,${options.suffix}
olcAccessLogSuccess: TRUE
olcAccessLogPurge: 01:00 00:10

dn: olcDatabase={${MAIN + 1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {${MAIN + 1}}mdb
olcSuffix: ${CHANGE_LOG}
olcDbDirectory: ${join(options.dataDir, 'changelog')}
olcRootDN: ${options.bindDn}
olcDbMaxSize: 1073741824
olcDbIndex: objectClass eq
olcDbIndex: reqEnd eq
olcAccess: to * by dn.exact="${options.bindDn}" read by * none
`;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A slapd left running by a process that died without stopping it would hold the database. */
async function stopLeftover(runDir: string): Promise<void> {
  const pid = Number((await readFile(join(runDir, 'slapd.pid'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes('slapd')) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function waitUntilServing(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const exited = new Promise<never>((_, fail) =>
    child.once('exit', (code) => fail(new SlapdError(`slapd exited with code ${code}: ${stderr().trim()}`))),
  );
  exited.catch(() => undefined);
  const deadline = Date.now() + 15_000;
  for (;;) {
    // Only asks whether our own child answers yet; whether its certificate is trusted is the caller's
    // business. (ldapts speaks TLS whenever tlsOptions are given, so only for ldaps://.)
    const tlsOptions = url.startsWith('ldaps:') ? { tlsOptions: { rejectUnauthorized: false } } : {};
    const client = new Client({ url, connectTimeout: 500, timeout: 1000, ...tlsOptions });
    try {
      await Promise.race([client.search('', { scope: 'base' }), exited]);
      return;
    } catch (error) {
      if (error instanceof SlapdError) throw error;
      // An LDAP refusal (e.g. confidentiality required before StartTLS) is an answer too.
      if (error instanceof ResultCodeError) return;
      if (Date.now() > deadline) throw new SlapdError(`slapd did not answer on ${url} within 15 s`);
      await Promise.race([new Promise((r) => setTimeout(r, 25)), exited]);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}

/**
 * Brings an existing configuration up to this version: the project's schema (see upgradeSchema), then the
 * main database's indexes (slapd indexes the entries it holds for a new one in the background).
 */
async function upgradeExisting(
  url: string,
  suffix: string,
  configDn: string,
  password: string,
  startTls = false,
): Promise<string[]> {
  // Our own child on loopback: its certificate is the caller's business (as in waitUntilServing).
  const tlsOptions = url.startsWith('ldaps:') ? { tlsOptions: { rejectUnauthorized: false } } : {};
  const client = new Client({ url, connectTimeout: 2000, timeout: 10_000, ...tlsOptions });
  try {
    if (startTls) await client.startTLS({ rejectUnauthorized: false });
    await client.bind(configDn, password);
    const changes = await upgradeSchema(
      client,
      PROJECT_SCHEMAS.map((file) => join(SCHEMA_DIR, file)),
    );
    // The main database's number depends on the version that created the configuration.
    const { searchEntries } = await client.search('cn=config', {
      scope: 'one',
      filter: new EqualityFilter({ attribute: 'olcSuffix', value: suffix }),
      attributes: ['olcDbIndex'],
    });
    const main = searchEntries[0]?.dn;
    if (!main) throw new Error(`no database of the configuration holds ${suffix}`);
    const attributeOf = (index: string) => index.split(/\s/)[0]?.toLowerCase();
    const indexed = new Set([searchEntries[0]?.olcDbIndex ?? []].flat().map((i) => attributeOf(String(i))));
    const missing = INDEXES.filter((index) => !indexed.has(attributeOf(index)));
    if (missing.length > 0) {
      await client.modify(
        main,
        new Change({
          operation: 'add',
          modification: new Attribute({ type: 'olcDbIndex', values: missing }),
        }),
      );
    }
    return [...changes, ...missing.map((index) => `index added: ${index}`)];
  } catch (error) {
    throw new SlapdError(
      `could not bring the directory schema and indexes up to this version: ${String(error)}`,
    );
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/**
 * Starts a private slapd on a loopback port, with the project's schema, a cn=config configuration and an
 * mdb database under `dataDir`. Used by `npm start` (embedded mode), the tests and the benchmarks.
 */
export async function startSlapd(options: SlapdOptions): Promise<RunningSlapd> {
  const slapd = options.slapdPath ?? findSlapd();
  if (!slapd || !existsSync(slapd)) throw new SlapdError(INSTALL_HINT);
  const dataDir = resolve(options.dataDir);
  const configDir = join(dataDir, 'slapd.d');
  const runDir = join(dataDir, 'run');
  const passwordFile = join(dataDir, 'directory-password');
  const bindDn = `cn=admin,${options.suffix}`;
  const configDn = 'cn=admin,cn=config';
  await mkdir(runDir, { recursive: true });
  await stopLeftover(runDir);

  let created = false;
  let password = (await readFile(passwordFile, 'utf8').catch(() => '')).trim();
  if (!existsSync(configDir) || !password) {
    password = options.password ?? randomBytes(18).toString('base64url');
    await rm(configDir, { recursive: true, force: true });
    await rm(join(dataDir, 'db'), { recursive: true, force: true });
    await mkdir(configDir, { recursive: true });
    await mkdir(join(dataDir, 'db'), { recursive: true });
    for (const directory of ['changelog', ...OWN_DATABASES.map((own) => own.ou)]) {
      await rm(join(dataDir, directory), { recursive: true, force: true });
      await mkdir(join(dataDir, directory), { recursive: true });
    }
    const ldifFile = join(runDir, 'config.ldif');
    await writeFile(
      ldifFile,
      configLdif({
        dataDir,
        suffix: options.suffix,
        bindDn,
        configDn,
        password,
        replication: options.replication,
        tls: options.tls,
      }),
    );
    const slapadd = spawnSync(slapd.replace(/slapd$/, 'slapadd'), ['-n0', '-F', configDir, '-l', ldifFile], {
      encoding: 'utf8',
    });
    await rm(ldifFile, { force: true });
    if (slapadd.status !== 0) {
      throw new SlapdError(
        `could not create the slapd configuration: ${slapadd.stderr || slapadd.error?.message}`,
      );
    }
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    await chmod(passwordFile, 0o600);
    created = true;
  }

  const port = options.port ?? (await freePort());
  const url = `${options.tls && !options.tls.startTls ? 'ldaps' : 'ldap'}://127.0.0.1:${port}`;
  const child = spawn(slapd, ['-F', configDir, '-h', `${url}/`, '-d', 'none'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exit = new Promise<void>((done) => child.once('exit', () => done()));
  let schemaChanges: string[] = [];
  try {
    await waitUntilServing(url, child, () => stderr);
    if (!created) {
      schemaChanges = await upgradeExisting(url, options.suffix, configDn, password, options.tls?.startTls);
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  await writeFile(join(runDir, 'slapd.url'), `${url}\n`);

  return {
    url,
    bindDn,
    configDn,
    password,
    created,
    schemaChanges,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(timer);
      }
      await rm(join(runDir, 'slapd.url'), { force: true });
    },
  };
}

/** The URL of the embedded slapd that a running service started from this data dir, if any. */
export async function runningSlapdUrl(dataDir: string): Promise<string | undefined> {
  const runDir = join(resolve(dataDir), 'run');
  const pid = Number((await readFile(join(runDir, 'slapd.pid'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  return (await readFile(join(runDir, 'slapd.url'), 'utf8').catch(() => '')).trim() || undefined;
}
