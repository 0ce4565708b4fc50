import { spawn, type ChildProcess } from 'node:child_process';
import { newRsaKeyPair } from '../src/auth/dev-keys.js';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import { freePort } from '../src/directory/slapd.js';
import { API_ROOT } from '../src/http/openapi.js';

/** The standard definition (inum) that readiness is polled with. */
const READY_INUM = '29DA';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SCOPES = [
  'attributes.readonly',
  'attributes.write',
  'attributes.delete',
  'user-attributes.readonly',
  'user-attributes.write',
  'session-attributes.readonly',
  'session-attributes.write',
].map((s) => `https://jans.io/oauth/config/${s}`);

/** An RSA key the service under test trusts, and a token with the definition and value scopes. */
export class Tokens {
  readonly publicKey: string;
  private readonly privateKey: string;

  constructor() {
    const pair = newRsaKeyPair();
    this.publicKey = pair.publicKey;
    this.privateKey = pair.privateKey;
  }

  /** Valid for the whole run (a full run takes minutes). */
  token(): string {
    return jwt.sign({ scope: SCOPES.join(' '), client_id: 'bench' }, this.privateKey, {
      algorithm: 'RS256',
      subject: 'bench',
      expiresIn: '6h',
    });
  }
}

export interface ServiceOptions {
  /** Where the key file and the service's log go. */
  workDir: string;
  tokens: Tokens;
  /** The bench slapd (external mode); without it the service starts its embedded slapd from dataDir. */
  ldap?: { url: string; bindDn: string; password: string };
  /** DATA_DIR of the service (embedded mode: the loaded directory). */
  dataDir: string;
  logLevel: string;
  /** Extra environment (e.g. INDEX_POLL_MS). */
  env?: Record<string, string>;
  /** Node options for the service process, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Limit for the first 200. */
  readyLimitMs?: number;
}

export interface RunningService {
  url: string;
  /** API root, e.g. http://127.0.0.1:1234/jans-config-api/api/v1 */
  api: string;
  process: ChildProcess;
  /** From spawn to the first 200 of an authorised GET /attributes/{inum} (see startService). */
  firstOkMs: number;
  logFile: string;
  /** Peak resident set size (VmHWM) so far, in MiB. */
  peakRssMiB(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** CPU time (user + system) a process has used so far, in seconds; the clock ticks at 100 Hz on Linux. */
export async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return Number.NaN;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are
  // the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** VmHWM of a process, in MiB. */
export async function peakRss(pid: number | undefined): Promise<number | undefined> {
  if (!pid) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : undefined;
}

async function tail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .slice(-15)
    .map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line))
    .join('\n');
}

const MAIN = 'dist/main.js';

/**
 * Does what `npm start` does before it starts Node (its `prestart`: compiling the sources, under a
 * second), and returns the Node options of its script (`node <options> dist/main.js`).
 */
async function prepareStart(): Promise<string[]> {
  const { scripts } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const [node, ...args] = scripts.start.split(/\s+/);
  if (node !== 'node' || args.pop() !== MAIN) throw new Error(`unexpected start script: ${scripts.start}`);
  await new Promise<void>((done, fail) => {
    const npm = spawn('npm', ['run', '-s', 'prestart'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    npm.once('error', fail);
    npm.once('exit', (code) =>
      code === 0 ? done() : fail(new Error(`npm run prestart exited with ${code}`)),
    );
  });
  return args;
}

/**
 * Starts the service as `npm start` does, but as a direct child process (so the load generator never
 * shares its event loop, and the process measured is the service's), on a port picked beforehand, and
 * waits for the first 200 of an authorised list request.
 * Its log (JSON lines, one per request at info) goes to a file that is not read during the run.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const keyFile = join(options.workDir, 'bench-public.pem');
  await writeFile(keyFile, options.tokens.publicKey);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const api = `${url}${API_ROOT}`;
  const logFile = join(options.workDir, `service-${port}.log`);
  const out = openSync(logFile, 'a');
  // The caller's directory and token settings must not leak into the service under test.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(LDAP_|JWT_|INTROSPECTION_|EMBEDDED_LDAP_)/.test(key)),
  );
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    NODE_ENV: 'production',
    PORT: String(port),
    DATA_DIR: options.dataDir,
    JWT_PUBLIC_KEY_FILE: keyFile,
    SCHEMA_CHECK: 'false',
    LOG_LEVEL: options.logLevel,
    ...(options.ldap
      ? {
          LDAP_URL: options.ldap.url,
          LDAP_BIND_DN: options.ldap.bindDn,
          LDAP_BIND_PASSWORD: options.ldap.password,
        }
      : {}),
    ...options.env,
  };
  const started = performance.now();
  // The caller's options last, so that they can override those of npm start.
  const nodeArgs = [...(await prepareStart()), ...(options.nodeArgs ?? [])];
  const child = spawn(process.execPath, [...nodeArgs, MAIN], {
    cwd: ROOT,
    env,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  const token = options.tokens.token();
  const limit = options.readyLimitMs ?? 60_000;
  let firstOkMs: number | undefined;
  try {
    while (firstOkMs === undefined) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `the service exited (${child.exitCode ?? child.signalCode}):\n${await tail(logFile)}`,
        );
      }
      if (performance.now() - started > limit) {
        throw new Error(`the service did not answer 200 within ${limit / 1000} s:\n${await tail(logFile)}`);
      }
      // A standard definition by inum: authorised and served from the directory, but not a list (at
      // 100 000 definitions every list request reads them all, which is not what "started" means).
      // One request at a time, each allowed to take the rest of the limit.
      const remaining = Math.max(1, Math.ceil(limit - (performance.now() - started)));
      const status = await fetch(`${api}/attributes/${READY_INUM}`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(remaining),
      }).then(
        async (r) => {
          await r.arrayBuffer();
          return r.status;
        },
        () => 0,
      );
      if (status === 200) firstOkMs = performance.now() - started;
      else await new Promise((r) => setTimeout(r, 10));
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    api,
    process: child,
    firstOkMs,
    logFile,
    peakRssMiB: () => peakRss(child.pid),
    stop,
  };
}
