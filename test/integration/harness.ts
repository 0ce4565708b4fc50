import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { AndFilter, Client, EqualityFilter, NoSuchObjectError } from 'ldapts';
import { OpenAPIBackend } from 'openapi-backend';
import { pino, type Logger } from 'pino';
import { newRsaKeyPair } from '../../src/auth/dev-keys.js';
import { loadConfig, type Config } from '../../src/config.js';
import { STANDARD_LDIF, readLdifFiles, seed } from '../../src/directory/seed.js';
import { startSlapd, type RunningSlapd } from '../../src/directory/slapd.js';
import { API_ROOT, SERVER_ROOT, loadOpenApiDocument } from '../../src/http/openapi.js';
import { Directory } from '../../src/ldap/directory.js';
import { startService, type RunningService } from '../../src/server.js';
import { upstreamViolations } from './upstream-contract.js';

export { eventually } from '../eventually.js';

export const SCOPE = {
  read: 'https://jans.io/oauth/config/attributes.readonly',
  write: 'https://jans.io/oauth/config/attributes.write',
  delete: 'https://jans.io/oauth/config/attributes.delete',
  admin: 'https://jans.io/oauth/config/attributes.admin',
  readAll: 'https://jans.io/oauth/config/read-all',
  writeAll: 'https://jans.io/oauth/config/write-all',
  deleteAll: 'https://jans.io/oauth/config/delete-all',
};

/**
 * The fields Janssen's schema requires of every definition written besides name, displayName and
 * dataType, with plain values. Spread first into a body, so that a test's own values win.
 */
export const JANSSEN_REQUIRED = {
  description: 'Written by a test',
  editType: ['admin'],
  viewType: ['admin'],
};

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `attr-registry-${prefix}-`));
}

export interface TestDirectory {
  /** The slapd running now: a test that restarts it puts the new one here. */
  slapd: RunningSlapd;
  readonly dataDir: string;
  stop(): Promise<void>;
}

/** A private slapd on a free port, seeded with the project's standard LDIF unless told otherwise. */
export async function startTestDirectory(
  options: { seedFiles?: string[]; dataDir?: string } = {},
): Promise<TestDirectory> {
  const dataDir = options.dataDir ?? (await tempDir('slapd'));
  const slapd = await startSlapd({ dataDir, suffix: 'o=jans' });
  const directory = adminDirectory(slapd);
  await seed(directory, await readLdifFiles(options.seedFiles ?? STANDARD_LDIF));
  await directory.close();
  return {
    slapd,
    dataDir,
    async stop(this: TestDirectory) {
      // A test may have restarted slapd: stop the one running now.
      await this.slapd.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function adminDirectory(slapd: RunningSlapd, tlsCa?: string, startTls = false): Directory {
  return new Directory({
    tlsCa,
    startTls,
    url: slapd.url,
    bindDn: slapd.bindDn,
    bindPassword: slapd.password,
    baseDn: 'o=jans',
    poolSize: 1,
    connectTimeoutMs: 2000,
    operationTimeoutMs: 5000,
    maxPending: 1000,
  });
}

/** Runs `work` on a client of the slapd bound as the root of its database, or of cn=config. */
export async function asRoot<T>(
  slapd: RunningSlapd,
  work: (client: Client) => Promise<T>,
  of: 'database' | 'config' = 'database',
): Promise<T> {
  const client = new Client({ url: slapd.url });
  try {
    await client.bind(of === 'config' ? slapd.configDn : slapd.bindDn, slapd.password);
    return await work(client);
  } finally {
    await client.unbind();
  }
}

/** The inums of the active definitions with this claimName, as slapd holds them. */
export async function activeWithClaim(slapd: RunningSlapd, claimName: string): Promise<string[]> {
  const { searchEntries } = await asRoot(slapd, (c) =>
    c.search('ou=attributes,o=jans', {
      scope: 'one',
      filter: new AndFilter({
        filters: [
          new EqualityFilter({ attribute: 'jansClaimName', value: claimName }),
          new EqualityFilter({ attribute: 'jansStatus', value: 'active' }),
        ],
      }),
      attributes: ['inum'],
    }),
  );
  return searchEntries.map((e) => String(e.inum));
}
/** A raw LDAP view of an entry, to check what the service really stored. */
export async function rawEntry(slapd: RunningSlapd, dn: string): Promise<Record<string, string[]>> {
  const { searchEntries } = await asRoot(slapd, (c) =>
    c.search(dn, { scope: 'base', attributes: ['*'] }).catch((error: unknown) => {
      if (error instanceof NoSuchObjectError) return { searchEntries: [] };
      throw error;
    }),
  );
  const entry = searchEntries[0];
  if (!entry) return {};
  return Object.fromEntries(
    Object.entries(entry)
      .filter(([k]) => k !== 'dn')
      .map(([k, v]) => [k, (Array.isArray(v) ? v : [v]).map(String)]),
  );
}

/** Signs real RS256 tokens with a key the service under test trusts. */
export class TokenIssuer {
  readonly privateKey: string;
  readonly publicKey: string;
  constructor() {
    const pair = newRsaKeyPair();
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  token(scopes: string[] | { scp: string[] }, options: jwt.SignOptions = {}): string {
    const claims = Array.isArray(scopes) ? { scope: scopes.join(' ') } : { scp: scopes.scp };
    return jwt.sign({ ...claims, client_id: 'test-client' }, this.privateKey, {
      algorithm: 'RS256',
      subject: 'tester',
      expiresIn: '5m',
      ...options,
    });
  }
}

export interface TestApp {
  service: RunningService;
  issuer: TokenIssuer;
  /** A token with every attribute scope. */
  adminToken: string;
  stop(): Promise<void>;
}

/** The real service on port 0 against the given slapd, trusting a fresh test key. */
export async function startTestApp(
  slapd: RunningSlapd,
  env: Record<string, string> = {},
  log: Logger = pino({ level: process.env.TEST_LOG ?? 'silent' }),
): Promise<TestApp> {
  // The contract's validators are compiled before the service listens: compiled at the first check, they
  // would hold this process (and the service in it) for seconds between two requests, long enough for
  // the server to close the kept-alive connection the next request goes out on.
  await openApi();
  const issuer = new TokenIssuer();
  const dir = await tempDir('app');
  const keyFile = join(dir, 'public.pem');
  await writeFile(keyFile, issuer.publicKey);
  const config: Config = loadConfig({
    PORT: '0',
    DATA_DIR: dir,
    LDAP_URL: slapd.url,
    LDAP_BIND_DN: slapd.bindDn,
    LDAP_BIND_PASSWORD: slapd.password,
    JWT_PUBLIC_KEY_FILE: keyFile,
    LDAP_OPERATION_TIMEOUT_MS: '3000',
    LDAP_CONNECT_TIMEOUT_MS: '1000',
    ...env,
  });
  const service = await startService(config, log);
  return {
    service,
    issuer,
    adminToken: issuer.token([SCOPE.read, SCOPE.write, SCOPE.delete]),
    async stop() {
      await service.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  // Tests read arbitrary JSON; the contract check below is what keeps it honest.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

let contract: OpenAPIBackend | undefined;
async function openApi(): Promise<OpenAPIBackend> {
  if (!contract) {
    contract = new OpenAPIBackend({ definition: loadOpenApiDocument(), apiRoot: SERVER_ROOT, strict: true });
    await contract.init();
  }
  return contract;
}

/**
 * Checks a response against the OpenAPI document: the status must be documented for the operation, the
 * content type must be the one documented, and the body must match that status's schema; and against
 * Janssen's published contract (see upstream-contract.ts). Every API call of the integration tests goes
 * through this. `lacking` names required fields a test knows its stored entry lacks.
 */
export async function assertMatchesContract(
  method: string,
  path: string,
  reply: Reply,
  lacking: readonly string[] = [],
): Promise<void> {
  const api = await openApi();
  let operation;
  try {
    operation = api.router.matchOperation({ method, path, headers: {} }, true);
  } catch {
    // Not an API operation (an unknown path): the only promise is an ApiError body.
    expect(reply.body, `body of ${method} ${path}`).to.include.keys('code', 'message');
    expect(reply.headers.get('content-type'), `content type of ${method} ${path}`).to.equal(
      'application/json',
    );
    expect(
      upstreamViolations('', reply.status, reply.body),
      `${method} ${path} body is an ApiError`,
    ).to.deep.equal([]);
    return;
  }
  const documented = Object.keys(operation.responses ?? {});
  expect(documented, `status ${reply.status} of ${operation.operationId} is documented`).to.include(
    String(reply.status),
  );
  expect(
    upstreamViolations(operation.operationId ?? '', reply.status, reply.body, lacking),
    `${operation.operationId} ${reply.status} body matches Janssen's published contract`,
  ).to.deep.equal([]);
  if (reply.status === 204 || reply.status === 304) return;
  const response = (operation.responses ?? {})[String(reply.status)] as { content?: object } | undefined;
  expect(
    Object.keys(response?.content ?? {}),
    `content type of ${operation.operationId} ${reply.status}, exactly as documented`,
  ).to.include(reply.headers.get('content-type'));
  const result = api.validator.validateResponse(reply.body, operation, reply.status);
  expect(
    result.errors ?? [],
    `${operation.operationId} ${reply.status} body matches the contract`,
  ).to.deep.equal([]);
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Raw body text, sent as is. */
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Required fields of Janssen's schema that the stored entry is known to lack (made elsewhere). */
  lacking?: string[];
}

/** An HTTP call to the service, validated against the contract. `path` is relative to the API root. */
export async function call(
  app: TestApp,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) {
    headers['content-type'] =
      options.contentType ?? (method === 'PATCH' ? 'application/json-patch+json' : 'application/json');
  }
  const response = await fetch(`${app.service.url}${API_ROOT}${path}`, { method, headers, body });
  const text = await response.text();
  const reply: Reply = {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : undefined,
  };
  await assertMatchesContract(method, `${API_ROOT}${path.split('?')[0]}`, reply, options.lacking);
  return reply;
}

/**
 * fetch, with every answer below the API root checked against the contract: for clients that the
 * tests drive other than through `call` (the typed client).
 */
export const contractFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  const { pathname } = new URL(input instanceof Request ? input.url : String(input));
  if (pathname.startsWith(`${API_ROOT}/`)) {
    const text = await response.clone().text();
    const body: unknown = text ? JSON.parse(text) : undefined;
    await assertMatchesContract(init?.method ?? 'GET', pathname, {
      status: response.status,
      headers: response.headers,
      body,
    });
  }
  return response;
};

/** A loopback proxy to the service that holds its answers to the contract, for clients in other processes. */
export interface ContractProxy {
  url: string;
  /** Answers that broke the contract (the client got a 502 for each). */
  violations: string[];
  close(): Promise<void>;
}

/**
 * Forwards every request to `target` with contractFetch, so that a client in another process (the command
 * line) has each answer of the API checked against the contract, as the typed client's are.
 */
export async function contractProxy(target: string): Promise<ContractProxy> {
  const violations: string[] = [];
  const hopByHop = new Set(['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = Object.entries(req.headers).flatMap(([name, value]) =>
        typeof value === 'string' && !hopByHop.has(name) ? [[name, value] as [string, string]] : [],
      );
      try {
        const response = await contractFetch(`${target}${req.url ?? '/'}`, {
          method: req.method,
          headers,
          body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
        });
        const body = Buffer.from(await response.arrayBuffer());
        // fetch has undone any content encoding.
        const passed = [...response.headers].filter(
          ([name]) => !hopByHop.has(name) && name !== 'content-encoding',
        );
        res.writeHead(response.status, Object.fromEntries(passed)).end(body);
      } catch (error) {
        violations.push(`${req.method} ${req.url}: ${String(error)}`);
        res.writeHead(502).end(String(error));
      }
    })();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    violations,
    close: () => {
      server.closeAllConnections();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

/** A name no other test uses. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

/** The environment of an app: fixed, or made from the suite's slapd once it runs. */
export type AppEnv = Record<string, string> | ((slapd: RunningSlapd) => Record<string, string>);

export interface DirectoryFixture {
  /** The suite's directory, filled in by the fixture's `before` hook. */
  readonly directory: TestDirectory;
  /** Another instance of the service on the suite's directory, stopped after the suite unless a test stops it. */
  startApp(env?: AppEnv, log?: Logger): Promise<TestApp>;
  /**
   * Has `stop` run after the suite, before what was started earlier (last started, first stopped): for
   * what a suite opens on the directory or the apps, such as a client bound to it.
   */
  cleanup(stop: () => Promise<void>): void;
}

export interface AppFixture extends DirectoryFixture {
  /** The suite's service, filled in by the fixture's `before` hook. */
  readonly app: TestApp;
}

export interface FixtureOptions {
  seedFiles?: string[];
  /** Runs on the seeded directory before any app starts (a suite's own entries). */
  prepare?: (directory: TestDirectory) => Promise<void>;
  /** For the set-up hook, when the suite's set-up takes longer than a test may. */
  timeout?: number;
}

/**
 * Registers the mocha hooks of a suite that needs a directory of its own: a seeded slapd started before
 * the suite's tests and stopped after them, once the apps started on it are. What it returns is filled
 * in place, so that the suite's closures can hold it from the start.
 */
export function useTestDirectory(options: FixtureOptions = {}): DirectoryFixture {
  const directory = {} as TestDirectory;
  const stops: (() => Promise<void>)[] = [];
  const cleanup = (stop: () => Promise<void>) => {
    stops.push(stop);
  };
  before(async function () {
    if (options.timeout) this.timeout(options.timeout);
    Object.assign(directory, await startTestDirectory({ seedFiles: options.seedFiles }));
    cleanup(() => directory.stop());
    await options.prepare?.(directory);
  });
  after(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });
  return {
    directory,
    cleanup,
    async startApp(env = {}, log) {
      const app = await startTestApp(
        directory.slapd,
        typeof env === 'function' ? env(directory.slapd) : env,
        log,
      );
      let stopped: Promise<void> | undefined;
      const stop = () => (stopped ??= app.stop());
      cleanup(stop);
      return { ...app, stop };
    },
  };
}

/**
 * Registers the mocha hooks of a suite that tests the service on a directory of its own: the directory
 * as `useTestDirectory` starts it, and the app with this environment started on it before the tests.
 */
export function useTestApp(options: FixtureOptions & { env?: AppEnv; log?: Logger } = {}): AppFixture {
  const fixture = useTestDirectory(options);
  const app = {} as TestApp;
  before(async function () {
    if (options.timeout) this.timeout(options.timeout);
    Object.assign(app, await fixture.startApp(options.env, options.log));
  });
  return { ...fixture, app };
}
