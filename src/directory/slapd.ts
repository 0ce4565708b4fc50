import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Attribute, Change, Client, EqualityFilter, ResultCodeError } from 'ldapts';
import { upgradeSchema } from './schema-upgrade.js';
import {
  MAIN_INDEXES,
  PROJECT_SCHEMA_FILES,
  SlapdConfigError,
  embeddedConfig,
  renderConfig,
  type SlapdConfig,
} from './slapd-config.js';

export { CHANGE_LOG } from './slapd-config.js';

export const INSTALL_HINT =
  'slapd (OpenLDAP) is not installed. On Debian or Ubuntu install it with:\n' +
  '  sudo apt-get update && sudo apt-get install -y slapd ldap-utils\n' +
  'or set LDAP_URL to use an existing directory.';

export class SlapdError extends Error {}

const bindDnOf = (suffix: string) => `cn=admin,${suffix}`;
const CONFIG_DN = 'cn=admin,cn=config';

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

/** `{SSHA}` hash as slapd expects it, so the configuration never holds the password in clear. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/**
 * Creates a configuration directory (`slapd.d`) from cn=config LDIF with slapadd, which reads it from
 * its standard input so that the password hash is written nowhere else.
 */
export function createConfigDir(configDir: string, ldif: string, slapdPath = findSlapd()): void {
  if (!slapdPath) throw new SlapdError(INSTALL_HINT);
  mkdirSync(configDir, { recursive: true });
  const slapadd = spawnSync(slapdPath.replace(/slapd$/, 'slapadd'), ['-n0', '-F', configDir], {
    input: ldif,
    encoding: 'utf8',
  });
  if (slapadd.status !== 0) {
    throw new SlapdError(
      `could not create the slapd configuration: ${slapadd.stderr || slapadd.error?.message}`,
    );
  }
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
    const changes = await upgradeSchema(client, PROJECT_SCHEMA_FILES);
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
    const missing = MAIN_INDEXES.filter((index) => !indexed.has(attributeOf(index)));
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
 * A new configuration (`slapd.d`) and empty databases under `dataDir`, replacing what a first start that
 * was interrupted may have left there.
 */
async function createEmbeddedConfig(
  slapd: string,
  dataDir: string,
  options: SlapdOptions,
  password: string,
): Promise<void> {
  let config: SlapdConfig;
  try {
    config = embeddedConfig({
      dataDir,
      suffix: options.suffix,
      bindDn: bindDnOf(options.suffix),
      configDn: CONFIG_DN,
      password,
      passwordHash: ssha(password),
      replication: options.replication,
      tls: options.tls,
    });
  } catch (error) {
    if (error instanceof SlapdConfigError) throw new SlapdError(error.message);
    throw error;
  }
  const configDir = join(dataDir, 'slapd.d');
  for (const directory of [configDir, ...config.databases.map((database) => database.directory)]) {
    await rm(directory, { recursive: true, force: true });
    await mkdir(directory, { recursive: true });
  }
  createConfigDir(configDir, renderConfig(config), slapd);
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
  const bindDn = bindDnOf(options.suffix);
  const configDn = CONFIG_DN;
  await mkdir(runDir, { recursive: true });
  await stopLeftover(runDir);

  let created = false;
  let password = (await readFile(passwordFile, 'utf8').catch(() => '')).trim();
  if (!existsSync(configDir) || !password) {
    password = options.password ?? randomBytes(18).toString('base64url');
    await createEmbeddedConfig(slapd, dataDir, options, password);
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
