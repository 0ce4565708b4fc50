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
import { createRouter } from './http/router.js';
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

/** Composition root: directory (embedded or external) → store → service → API → HTTP server. */
export async function startService(
  config: Config,
  given: Logger = pino({ level: config.logLevel }),
  /** Lines the given logger dropped, for metrics (see `createLog`). */
  { logLinesDropped = () => 0 }: { logLinesDropped?: () => number } = {},
): Promise<RunningService> {
  const log = given.child({}, { redact: LOG_REDACT });
  let slapd: RunningSlapd | undefined;
  if (!config.ldapUrl) {
    slapd = await startSlapd({
      dataDir: config.dataDir,
      suffix: config.baseDn,
      port: config.embeddedLdapPort,
      slapdPath: config.slapdPath,
    });
    log.info({ url: slapd.url, dataDir: config.dataDir }, 'embedded slapd started');
    if (slapd.schemaChanges.length > 0)
      log.info({ changes: slapd.schemaChanges }, 'embedded directory schema brought up to this version');
  }
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
    observe: (operation, seconds, error) => metrics.observeLdap(operation, seconds, error),
    failbackMs: config.ldapFailbackMs,
    switched: (from, to) => {
      metrics.providerSwitched();
      log.warn({ from, to }, 'directory: connections moved to another provider');
    },
  });
  // The directory's configuration, for schema changes: the embedded slapd's own, or a configured account.
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
  let purge: NodeJS.Timeout | undefined;
  const index = new DefinitionIndex();
  const metrics = new Metrics({
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
  let sync: IndexSync | undefined;
  try {
    if (slapd && !existsSync(join(config.dataDir, SEEDED_MARKER))) {
      const report = await seed(directory, await readLdifFiles([...STANDARD_LDIF, DEMO_LDIF]));
      await writeFile(join(config.dataDir, SEEDED_MARKER), `${new Date().toISOString()}\n`);
      log.info(
        { added: report.added.length, unchanged: report.unchanged.length },
        'standard definitions seeded',
      );
    }

    const verifier = new TokenVerifier(await verifierOptions(config, log));

    const store = new LdapAttributeStore(directory);
    sync = new IndexSync(directory, store, index, {
      pollMs: config.indexPollMs,
      changeLog: config.ldapChangeLog,
      reconcileMs: config.indexReconcileSec * 1000,
      log,
      reconciled: (reason, corrected, seconds) => metrics.observeReconcile(reason, corrected, seconds),
    });
    const indexed = new IndexedAttributeStore(store, index);
    const personSchema = new LdapPersonSchema(directory, {
      personClasses: config.personObjectClasses,
      customClass: config.customPersonClass,
      oidArc: config.schemaOidArc,
      config: configDirectory,
      allowChanges: config.schemaExtension,
    });
    const scopes = new LdapScopeStore(directory);
    // The document is the contract: the router validates requests by it, and the services hold patched
    // definitions and scopes to it.
    const document = loadOpenApiDocument();
    const router = await createRouter(document);
    const service = new AttributeService(indexed, personSchema, scopes, {
      patchedShape: router.bodyCheck('put-attributes'),
      maxPageSize: config.maxPageSize,
      schemaCheck: config.schemaCheck,
    });
    const scopeService = new ScopeService(scopes, indexed, router.schemaCheck('Scope'));
    const values = createValueService(directory, indexed, config);
    service.observe(values.observer());
    purge = setInterval(() => {
      values
        .purgeExpired()
        .catch((error: unknown) => log.warn({ err: error }, 'purging expired values failed'));
    }, config.valuePurgeIntervalSec * 1000);
    purge.unref();

    let schemaPresent = false;
    const audit = new LdapAuditStore(directory, () =>
      log.warn(
        'the directory keeps one audit record per entry (schema of an earlier version): audit events are written one by one',
      ),
    );
    const api = createApi({
      router,
      service,
      scopes: scopeService,
      verifier,
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
      // With several providers, a failed search moves the connections to one that answers and is sent
      // again there: ready while any provider answers.
      directoryReady: async () => {
        await directory.run((c) => c.search(store.container, { scope: 'base', attributes: ['1.1'] }), true);
        // A schema, once there, does not go away: only the first positive answer is asked for.
        schemaPresent ||= await directory.knowsObjectClass(DEFINITION_CLASS);
        if (!schemaPresent) throw new Error(`the directory's schema has no ${DEFINITION_CLASS} object class`);
      },
    });

    // The index loads once the synchronous set-up above is done: compiling the API's validators holds the
    // event loop long enough to time out a connection opened before it.
    sync.start();
    const server = app.listen(config.port, config.host);
    await new Promise<void>((done, fail) => server.once('listening', done).once('error', fail));
    const { port } = server.address() as AddressInfo;
    const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
    return {
      url: `http://${host}:${port}`,
      server,
      directory,
      log,
      slapd,
      devKey: config.devTokens,
      async close() {
        // Stop accepting, let requests in flight finish (for a bounded time), then close the directory.
        clearInterval(purge);
        const drained = new Promise<void>((done) => server.close(() => done()));
        // Kept-alive connections are closed as soon as they are idle (when their request in flight is
        // answered), not after their idle timeout.
        server.closeIdleConnections();
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        const deadline = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await drained;
        clearInterval(sweep);
        clearTimeout(deadline);
        await sync?.stop();
        await directory.close();
        await configDirectory?.close();
        await slapd?.stop();
      },
    };
  } catch (error) {
    clearInterval(purge);
    await sync?.stop();
    await directory.close();
    await configDirectory?.close();
    await slapd?.stop();
    throw error;
  }
}
