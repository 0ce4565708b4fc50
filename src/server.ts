import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { createApp } from './app.js';
import { everyDefinition } from './attributes/query.js';
import { DefinitionIndex } from './attributes/definition-index.js';
import { IndexedAttributeStore } from './attributes/indexed-store.js';
import { ScopeService } from './attributes/scopes.js';
import { AttributeService } from './attributes/service.js';
import type { AttributeStore } from './attributes/store.js';
import { TokenVerifier, type KeySource, type VerifierOptions } from './auth/bearer.js';
import { devKeyPair } from './auth/dev-keys.js';
import type { Config } from './config.js';
import { DEMO_LDIF, STANDARD_LDIF, readLdifFiles, seed } from './directory/seed.js';
import { startSlapd, type RunningSlapd } from './directory/slapd.js';
import { createApi } from './http/api.js';
import { createRouter, type Router } from './http/router.js';
import { loadOpenApiDocument } from './http/openapi.js';
import { LdapAttributeStore } from './ldap/attribute-store.js';
import { LdapAuditStore } from './ldap/audit-store.js';
import { auditFailures } from './http/audit.js';
import { Metrics } from './http/metrics.js';
import { Directory } from './ldap/directory.js';
import { IndexSync } from './ldap/index-sync.js';
import { LdapPersonSchema } from './ldap/schema.js';
import { LdapScopeStore } from './ldap/scope-store.js';
import { LdapValueStore } from './ldap/value-store.js';
import { ValueCipher } from './values/value-cipher.js';
import { ValueService } from './values/service.js';
import { ValueSchemas } from './values/value-schema.js';

export interface RunningService {
  url: string;
  server: Server;
  directory: Directory;
  /** The service's logger: the one it was given, with LOG_REDACT applied. */
  log: Logger;
  /** The private slapd, in embedded mode. */
  slapd?: RunningSlapd;
  /** True when the public key is the development key in DATA_DIR. */
  devKey: boolean;
  close(): Promise<void>;
}

/**
 * Censored in every log line of the service, whatever logger it is given: nothing logs these today, and
 * this keeps it so if someone logs a header set, the configuration, directory options or a token by
 * mistake. Literal paths only: a `*.` wildcard makes pino run a redactor over every field of every line,
 * about ten times the cost of the request line itself.
 */
export const LOG_REDACT = [
  'authorization',
  'cookie',
  'password',
  'secret',
  'token',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'bindPassword',
  'options.bindPassword',
  'config.ldapBindPassword',
  'config.ldapConfigBindPassword',
  'config.jwtSecret',
  'config.introspectionClientSecret',
  'config.valueKeys',
  'introspection.clientSecret',
];

/** The object class of attribute definitions: readiness requires the directory's schema to define it. */
const DEFINITION_CLASS = 'jansAttr';

/** How long requests in flight may take to finish once shutdown has begun. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Marks a data directory whose standard seed has been loaded, so that deleted definitions stay deleted. */
const SEEDED_MARKER = 'seeded';

/** Token checking as configured; with nothing configured, the development key in DATA_DIR. */
async function verifierOptions(config: Config, log: Logger): Promise<VerifierOptions> {
  const claims = {
    algorithms: config.jwtAlgorithms,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clockToleranceSec: config.jwtClockToleranceSec,
  };
  let keys: KeySource | undefined;
  if (config.jwtJwksUri)
    keys = { kind: 'jwks', uri: config.jwtJwksUri, cacheMaxAgeMs: config.jwtJwksCacheSec * 1000 };
  if (config.jwtPublicKeyFile)
    keys = { kind: 'pem', publicKey: await readFile(config.jwtPublicKeyFile, 'utf8') };
  if (config.jwtSecret) {
    log.warn(
      'JWT_SECRET is set: tokens signed with a shared secret are accepted. Use this for development only.',
    );
    keys = { kind: 'secret', secret: config.jwtSecret };
  }
  if (config.devTokens) {
    if (config.ldapUrl)
      log.warn('No token source is configured: tokens are checked with the development key in DATA_DIR');
    keys = { kind: 'pem', publicKey: (await devKeyPair(config.dataDir)).publicKey };
  }
  const introspection = config.introspectionUrl
    ? {
        url: config.introspectionUrl,
        clientId: config.introspectionClientId ?? '',
        clientSecret: config.introspectionClientSecret ?? '',
        cacheTtlMs: config.introspectionCacheTtlSec * 1000,
        timeoutMs: config.ldapOperationTimeoutMs,
        issuer: config.jwtIssuer,
        audience: config.jwtAudience,
      }
    : undefined;
  return { jwt: keys && { keys, ...claims }, introspection };
}

/** Values of user and session attributes, held to the definitions in `definitions`. */
export function createValueService(
  directory: Directory,
  definitions: AttributeStore,
  config: Config,
): ValueService {
  const schemas = new ValueSchemas(async () => {
    const { entries } = await definitions.list(
      everyDefinition({ kind: 'equals', field: 'status', value: 'active' }),
    );
    return entries.map((e) => e.definition);
  }, config.valueSchemaMaxAgeMs);
  const cipher = new ValueCipher(
    config.valueKeys && { keys: config.valueKeys, writeKeyId: config.valueWriteKeyId as string },
  );
  return new ValueService(new LdapValueStore(directory), schemas, cipher);
}

/** What a start opened, closed in the reverse order, whether the start completes or fails half-way. */
class Teardown {
  private readonly steps: (() => unknown)[] = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step();
  }
}

/** The embedded directory: a private slapd under DATA_DIR, its schema brought up to this version. */
async function startEmbeddedDirectory(config: Config, log: Logger): Promise<RunningSlapd> {
  const slapd = await startSlapd({
    dataDir: config.dataDir,
    suffix: config.baseDn,
    port: config.embeddedLdapPort,
    slapdPath: config.slapdPath,
  });
  log.info({ url: slapd.url, dataDir: config.dataDir }, 'embedded slapd started');
  if (slapd.schemaChanges.length > 0)
    log.info({ changes: slapd.schemaChanges }, 'embedded directory schema brought up to this version');
  return slapd;
}

/**
 * The connections to the directory, and to its configuration for schema changes (the embedded slapd's
 * own, or a configured account).
 */
async function connectDirectory(
  config: Config,
  slapd: RunningSlapd | undefined,
  metrics: () => Metrics,
  log: Logger,
): Promise<{ directory: Directory; configDirectory?: Directory }> {
  const directory = new Directory({
    url: slapd?.url ?? (config.ldapUrl as string),
    bindDn: slapd?.bindDn ?? config.ldapBindDn,
    bindPassword: slapd?.password ?? config.ldapBindPassword,
    baseDn: config.baseDn,
    poolSize: config.ldapPoolSize,
    connectTimeoutMs: config.ldapConnectTimeoutMs,
    operationTimeoutMs: config.ldapOperationTimeoutMs,
    maxPending: config.ldapMaxPending,
    tlsCa: config.ldapTlsCaFile ? await readFile(config.ldapTlsCaFile, 'utf8') : undefined,
    startTls: config.ldapStartTls,
    observe: (operation, seconds, error) => metrics().observeLdap(operation, seconds, error),
    failbackMs: config.ldapFailbackMs,
    switched: (from, to) => {
      metrics().providerSwitched();
      log.warn({ from, to }, 'directory: connections moved to another provider');
    },
  });
  const configBindDn = slapd?.configDn ?? config.ldapConfigBindDn;
  const configDirectory = configBindDn
    ? new Directory({
        ...directory.options,
        bindDn: configBindDn,
        bindPassword: slapd?.password ?? config.ldapConfigBindPassword,
        baseDn: 'cn=config',
        poolSize: 1,
      })
    : undefined;
  return { directory, configDirectory };
}

/** A new embedded directory gets the standard definitions, the scopes and the demo data, once. */
async function seedOnce(config: Config, directory: Directory, log: Logger): Promise<void> {
  if (existsSync(join(config.dataDir, SEEDED_MARKER))) return;
  const report = await seed(directory, await readLdifFiles([...STANDARD_LDIF, DEMO_LDIF]));
  await writeFile(join(config.dataDir, SEEDED_MARKER), `${new Date().toISOString()}\n`);
  log.info({ added: report.added.length, unchanged: report.unchanged.length }, 'standard definitions seeded');
}

/** Listens, and gives the address clients reach it at. */
async function listen(
  app: ReturnType<typeof createApp>,
  config: Config,
): Promise<{ server: Server; url: string }> {
  const server = app.listen(config.port, config.host);
  await new Promise<void>((done, fail) => server.once('listening', done).once('error', fail));
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  return { server, url: `http://${host}:${port}` };
}

/**
 * Stops accepting connections and lets requests in flight finish, for at most SHUTDOWN_GRACE_MS: kept-alive
 * connections are closed as soon as they are idle (their request answered), not after their idle timeout.
 */
async function drain(server: Server): Promise<void> {
  const drained = new Promise<void>((done) => server.close(() => done()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  await drained;
  clearInterval(sweep);
  clearTimeout(deadline);
}

/** The service's metrics, reading the directory's connections and the index's conflicts when scraped. */
function serviceMetrics(
  directory: Directory,
  index: DefinitionIndex,
  logLinesDropped: () => number,
): Metrics {
  return new Metrics({
    connectionsOpen: () => directory.connectionsOpen(),
    operationsPending: () => directory.operationsPending(),
    auditFailures: () => auditFailures.count,
    logLinesDropped,
    provider: () => directory.urls.indexOf(directory.url),
    conflicts: () => {
      const counts = { name: 0, claimName: 0 };
      for (const { kind } of index.conflicts()) counts[kind]++;
      return counts;
    },
  });
}

/**
 * The domain over the directory: the definitions' store and its in-memory index (kept coherent by the
 * sync, started later), the definition, scope and value services, each given the contract checks it
 * holds patched documents to.
 */
function composeDomain(
  config: Config,
  parts: {
    directory: Directory;
    configDirectory?: Directory;
    index: DefinitionIndex;
    router: Router;
    metrics: Metrics;
    log: Logger;
  },
) {
  const { directory, index, router, metrics, log } = parts;
  const store = new LdapAttributeStore(directory);
  const sync = new IndexSync(directory, store, index, {
    pollMs: config.indexPollMs,
    changeLog: config.ldapChangeLog,
    reconcileMs: config.indexReconcileSec * 1000,
    log,
    reconciled: (reason, corrected, seconds) => metrics.observeReconcile(reason, corrected, seconds),
  });
  const indexed = new IndexedAttributeStore(store, index);
  const scopeStore = new LdapScopeStore(directory);
  const personSchema = new LdapPersonSchema(directory, {
    personClasses: config.personObjectClasses,
    customClass: config.customPersonClass,
    oidArc: config.schemaOidArc,
    config: parts.configDirectory,
    allowChanges: config.schemaExtension,
  });
  const service = new AttributeService(indexed, personSchema, scopeStore, {
    patchedShape: router.bodyCheck('put-attributes'),
    maxPageSize: config.maxPageSize,
    schemaCheck: config.schemaCheck,
  });
  const values = createValueService(directory, indexed, config);
  service.observe(values.observer());
  const scopes = new ScopeService(scopeStore, indexed, router.schemaCheck('Scope'));
  return { store, sync, service, scopes, values };
}

/**
 * Composition root: the directory (embedded or external) → the stores and the index → the services → the
 * API → the HTTP server. Whatever it opened is closed again, in reverse order, on `close()` or when a step
 * fails.
 */
export async function startService(
  config: Config,
  given: Logger = pino({ level: config.logLevel }),
  /** Lines the given logger dropped, for metrics (see `createLog`). */
  { logLinesDropped = () => 0 }: { logLinesDropped?: () => number } = {},
): Promise<RunningService> {
  const log = given.child({}, { redact: LOG_REDACT });
  const teardown = new Teardown();
  try {
    const slapd = config.ldapUrl ? undefined : await startEmbeddedDirectory(config, log);
    if (slapd) teardown.add(() => slapd.stop());
    const index = new DefinitionIndex();
    const { directory, configDirectory } = await connectDirectory(config, slapd, () => metrics, log);
    teardown.add(() => directory.close());
    if (configDirectory) teardown.add(() => configDirectory.close());
    const metrics = serviceMetrics(directory, index, logLinesDropped);
    if (slapd) await seedOnce(config, directory, log);

    // The document is the contract: the router validates requests by it, and the services hold patched
    // definitions and scopes to it.
    const document = loadOpenApiDocument();
    const router = await createRouter(document);
    const { store, sync, service, scopes, values } = composeDomain(config, {
      directory,
      configDirectory,
      index,
      router,
      metrics,
      log,
    });
    teardown.add(() => sync.stop());
    const purge = setInterval(() => {
      values
        .purgeExpired()
        .catch((error: unknown) => log.warn({ err: error }, 'purging expired values failed'));
    }, config.valuePurgeIntervalSec * 1000);
    purge.unref();
    teardown.add(() => clearInterval(purge));

    const audit = new LdapAuditStore(directory, () =>
      log.warn(
        'the directory keeps one audit record per entry (schema of an earlier version): audit events are written one by one',
      ),
    );
    const api = createApi({
      router,
      service,
      scopes,
      verifier: new TokenVerifier(await verifierOptions(config, log)),
      audit,
      maxPageSize: config.maxPageSize,
      values,
      valueSchemas: values.schemas,
      log,
    });
    const app = createApp({
      api,
      audit,
      metrics,
      document,
      log,
      directoryReady: readiness(directory, store.container),
    });

    // The index loads once the synchronous set-up above is done: compiling the API's validators holds the
    // event loop long enough to time out a connection opened before it.
    sync.start();
    const { server, url } = await listen(app, config);
    return {
      url,
      server,
      directory,
      log,
      slapd,
      devKey: config.devTokens,
      async close() {
        await drain(server);
        await teardown.run();
      },
    };
  } catch (error) {
    await teardown.run();
    throw error;
  }
}

/**
 * Ready when the directory answers and its schema has the definitions' object class. With several
 * providers, a failed search moves the connections to one that answers and is sent again there: ready
 * while any provider answers.
 */
function readiness(directory: Directory, container: string): () => Promise<void> {
  let schemaPresent = false;
  return async () => {
    await directory.run((c) => c.search(container, { scope: 'base', attributes: ['1.1'] }), true);
    // A schema, once there, does not go away: only the first positive answer is asked for.
    schemaPresent ||= await directory.knowsObjectClass(DEFINITION_CLASS);
    if (!schemaPresent) throw new Error(`the directory's schema has no ${DEFINITION_CLASS} object class`);
  };
}
