import { resolve } from 'node:path';
import type { Algorithm } from 'jsonwebtoken';

/** Everything the service can be told, read once from the environment and checked before anything starts. */
export interface Config {
  /** HTTP port (PORT, default 8080; 0 picks a free one). */
  port: number;
  /** Interface to listen on (HOST, default 127.0.0.1; 0.0.0.0 in a container). */
  host: string;
  /** Deployed for real (NODE_ENV=production): never pretty-printed logs. */
  production: boolean;
  /** Embedded directory, development signing key (DATA_DIR, default ./.data). */
  dataDir: string;
  /**
   * External directory, or undefined to start a private slapd under dataDir (LDAP_URL). Several providers
   * of one replicated directory may be listed, separated by spaces, in order of preference: the service
   * uses the first that answers and moves back to an earlier one when it answers again.
   */
  ldapUrl?: string;
  /** How often, while on a later provider of LDAP_URL, the earlier ones are tried again (LDAP_FAILBACK_MS, default 5000). */
  ldapFailbackMs: number;
  /** Bind DN and password for the external directory (LDAP_BIND_DN, LDAP_BIND_PASSWORD). */
  ldapBindDn: string;
  ldapBindPassword: string;
  /** CA certificates (PEM file) that ldaps:// and StartTLS connections trust (LDAP_TLS_CA_FILE; default: the system's). */
  ldapTlsCaFile?: string;
  /** Upgrade ldap:// connections with StartTLS before binding (LDAP_STARTTLS, default false). */
  ldapStartTls: boolean;
  /** Base of the tree (LDAP_BASE_DN, default o=jans). */
  baseDn: string;
  /** The slapd program for the embedded directory (SLAPD_PATH, default: found in the usual places). */
  slapdPath?: string;
  /** Loopback port of the embedded slapd (EMBEDDED_LDAP_PORT, default: a free one). */
  embeddedLdapPort?: number;
  /** Open connections to the directory (LDAP_POOL_SIZE, default 4). */
  ldapPoolSize: number;
  /** Limits for reaching the directory and for each operation (LDAP_CONNECT_TIMEOUT_MS 3000, LDAP_OPERATION_TIMEOUT_MS 5000). */
  ldapConnectTimeoutMs: number;
  ldapOperationTimeoutMs: number;
  /** Directory operations waiting at once before more are refused with 503 (LDAP_MAX_PENDING, default 1000). */
  ldapMaxPending: number;
  /** Refuse names the person object classes cannot carry (SCHEMA_CHECK, default true). */
  schemaCheck: boolean;
  /** The person object classes of that check (PERSON_OBJECT_CLASSES, default jansPerson,jansCustomPerson). */
  personObjectClasses: string[];
  /**
   * Let `POST /attributes?extendSchema=true` add attribute types through cn=config (SCHEMA_EXTENSION;
   * default true with the embedded directory, false with LDAP_URL).
   */
  schemaExtension: boolean;
  /** The cn=config account of an external directory (LDAP_CONFIG_BIND_DN, LDAP_CONFIG_BIND_PASSWORD). */
  ldapConfigBindDn?: string;
  ldapConfigBindPassword: string;
  /** The object class that new attribute types are allowed in (CUSTOM_PERSON_CLASS, default jansCustomPerson). */
  customPersonClass: string;
  /** OID arc under which new attribute types are numbered (SCHEMA_OID_ARC, default the project's .3 arc). */
  schemaOidArc: string;
  /**
   * How often the in-memory index of definitions asks the directory what changed elsewhere
   * (INDEX_POLL_MS, default 250). Changes made through this instance show at once.
   */
  indexPollMs: number;
  /**
   * Base of the directory's accesslog database that records writes under ou=attributes
   * (LDAP_CHANGELOG_DN, default cn=changelog, as the embedded directory is configured; empty: none).
   */
  ldapChangeLog: string;
  /**
   * How often the index is compared with the whole directory whatever happened (INDEX_RECONCILE_S, default
   * 60; 0: only when a fault is noticed): the bound within which a change that reached the directory
   * without reaching its change log, and without any sign the service notices, shows.
   */
  indexReconcileSec: number;
  /** Largest page of the list endpoint (MAX_PAGE_SIZE, default 200). */
  maxPageSize: number;
  /** JWKS of the authorization server, for signed access tokens (JWT_JWKS_URI). */
  jwtJwksUri?: string;
  /** How long fetched keys are kept (JWT_JWKS_CACHE_S, default 600); an unknown kid refetches sooner. */
  jwtJwksCacheSec: number;
  /** PEM public key that verifies bearer tokens (JWT_PUBLIC_KEY_FILE). */
  jwtPublicKeyFile?: string;
  /** Shared HS256 secret, for development only (JWT_SECRET). */
  jwtSecret?: string;
  /** Accepted signature algorithms (JWT_ALGORITHMS, default RS256,PS256,ES256; HS256 with JWT_SECRET). */
  jwtAlgorithms: Algorithm[];
  /**
   * Required `iss` and `aud` when set (JWT_ISSUER, JWT_AUDIENCE). With both a JWT key source and
   * introspection, JWT_ISSUER is required: it picks the JWTs verified locally; everything else is introspected.
   */
  jwtIssuer?: string;
  jwtAudience?: string;
  /** Allowed clock difference for exp and nbf (JWT_CLOCK_TOLERANCE_S, default 30). */
  jwtClockToleranceSec: number;
  /** RFC 7662 introspection of opaque tokens (INTROSPECTION_URL, INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET). */
  introspectionUrl?: string;
  introspectionClientId?: string;
  introspectionClientSecret?: string;
  /** How long an introspection answer is reused at most (INTROSPECTION_CACHE_TTL_S, default 60). */
  introspectionCacheTtlSec: number;
  /** True when no token source is configured: tokens are checked with the development key in DATA_DIR. */
  devTokens: boolean;
  /**
   * Keys for values stored encrypted (VALUE_ENCRYPTION_KEYS: comma-separated `id:base64` pairs, each key
   * 32 bytes). Every listed key can decrypt; new values are written with `valueWriteKeyId`
   * (VALUE_ENCRYPTION_WRITE_KEY, default the first listed). Undefined when not set.
   */
  valueKeys?: Map<string, Buffer>;
  valueWriteKeyId?: string;
  /** How often expired values are purged from the directory (VALUE_PURGE_INTERVAL_S, default 60). */
  valuePurgeIntervalSec: number;
  /** How long the value schema derived from the definitions is reused at most (VALUE_SCHEMA_MAX_AGE_MS, default 5000). */
  valueSchemaMaxAgeMs: number;
  /** pino level (LOG_LEVEL, default info). */
  logLevel: string;
}

export class ConfigError extends Error {}

const ASYMMETRIC: Algorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
];
const SYMMETRIC: Algorithm[] = ['HS256', 'HS384', 'HS512'];

/** Typed readers of the environment, each naming the variable in the error it throws. */
function readerOf(env: NodeJS.ProcessEnv) {
  const text = (key: string) => {
    const value = env[key]?.trim();
    return value ? value : undefined;
  };
  const int = (key: string, fallback: number, min: number, max: number) => {
    const raw = text(key);
    if (raw === undefined) return fallback;
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${key} must be a whole number from ${min} to ${max}, not "${raw}"`);
    }
    return value;
  };
  const bool = (key: string, fallback: boolean) => {
    const raw = text(key)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (!['true', 'false', '1', '0'].includes(raw))
      throw new ConfigError(`${key} must be true or false, not "${raw}"`);
    return raw === 'true' || raw === '1';
  };
  /** A secret, taken as given (spaces may be part of it). */
  const raw = (key: string) => env[key];
  return { text, int, bool, raw };
}
type Reader = ReturnType<typeof readerOf>;

/** Everything the service can be told, read from the environment once and checked before anything starts. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const read = readerOf(env);
  const { text, int } = read;
  return {
    port: int('PORT', 8080, 0, 65535),
    host: text('HOST') ?? '127.0.0.1',
    production: text('NODE_ENV') === 'production',
    dataDir: resolve(text('DATA_DIR') ?? '.data'),
    ...directorySettings(read),
    ...tokenSettings(read),
    ...valueSettings(read),
    maxPageSize: int('MAX_PAGE_SIZE', 200, 1, 10_000),
    logLevel: text('LOG_LEVEL') ?? 'info',
  };
}

/** The directory: where it is, how to reach it, its schema, and how the index follows it. */
function directorySettings({ text, int, bool, raw }: Reader) {
  const ldapUrl = text('LDAP_URL')?.split(/\s+/).join(' ');
  const ldapUrls = ldapUrl?.split(' ') ?? [];
  for (const url of ldapUrls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!/^ldaps?:\/\//.test(url) || !parsed?.hostname)
      throw new ConfigError(
        `LDAP_URL must be ldap:// or ldaps:// URLs with a host, separated by spaces; "${url}" is not one`,
      );
  }
  if (new Set(ldapUrls.map((url) => url.split(':')[0])).size > 1)
    throw new ConfigError('LDAP_URL must list providers of one scheme: all ldap:// or all ldaps://');
  if (ldapUrl && !text('LDAP_BIND_DN'))
    throw new ConfigError('LDAP_URL is set, so LDAP_BIND_DN must be set too');
  const baseDn = text('LDAP_BASE_DN') ?? 'o=jans';
  if (!ldapUrl && baseDn.replace(/\s+/g, '').toLowerCase() !== 'o=jans') {
    throw new ConfigError(
      `LDAP_BASE_DN=${baseDn} needs LDAP_URL: the embedded directory holds o=jans, as its seed is written for it`,
    );
  }
  const ldapStartTls = bool('LDAP_STARTTLS', false);
  if (ldapStartTls && !ldapUrl?.startsWith('ldap://')) {
    throw new ConfigError('LDAP_STARTTLS applies to an ldap:// LDAP_URL (ldaps:// is TLS from the start)');
  }
  if (text('LDAP_TLS_CA_FILE') && !ldapUrl?.startsWith('ldaps://') && !ldapStartTls) {
    throw new ConfigError(
      'LDAP_TLS_CA_FILE applies to TLS connections: an ldaps:// LDAP_URL, or LDAP_STARTTLS=true',
    );
  }
  const schemaExtension = bool('SCHEMA_EXTENSION', !ldapUrl);
  if (schemaExtension && ldapUrl && !text('LDAP_CONFIG_BIND_DN')) {
    throw new ConfigError(
      'SCHEMA_EXTENSION=true with LDAP_URL needs LDAP_CONFIG_BIND_DN and LDAP_CONFIG_BIND_PASSWORD (an account that may write cn=config)',
    );
  }
  const schemaOidArc = text('SCHEMA_OID_ARC') ?? '2.25.221040513893262236960339934617374457713.3';
  if (!/^\d+(\.\d+)+$/.test(schemaOidArc)) {
    throw new ConfigError(
      `SCHEMA_OID_ARC must be a numeric OID such as 1.3.6.1.4.1.99999.1, not "${schemaOidArc}"`,
    );
  }
  const changeLog = raw('LDAP_CHANGELOG_DN');
  return {
    ldapUrl,
    ldapBindDn: text('LDAP_BIND_DN') ?? '',
    ldapBindPassword: raw('LDAP_BIND_PASSWORD') ?? '',
    ldapTlsCaFile: text('LDAP_TLS_CA_FILE'),
    ldapStartTls,
    baseDn,
    slapdPath: text('SLAPD_PATH'),
    embeddedLdapPort: text('EMBEDDED_LDAP_PORT') ? int('EMBEDDED_LDAP_PORT', 0, 1, 65535) : undefined,
    ldapPoolSize: int('LDAP_POOL_SIZE', 4, 1, 64),
    ldapConnectTimeoutMs: int('LDAP_CONNECT_TIMEOUT_MS', 3000, 100, 600_000),
    ldapOperationTimeoutMs: int('LDAP_OPERATION_TIMEOUT_MS', 5000, 100, 600_000),
    ldapMaxPending: int('LDAP_MAX_PENDING', 1000, 1, 1_000_000),
    ldapFailbackMs: int('LDAP_FAILBACK_MS', 5000, 100, 3_600_000),
    schemaCheck: bool('SCHEMA_CHECK', true),
    personObjectClasses: (text('PERSON_OBJECT_CLASSES') ?? 'jansPerson,jansCustomPerson')
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean),
    schemaExtension,
    ldapConfigBindDn: text('LDAP_CONFIG_BIND_DN'),
    ldapConfigBindPassword: raw('LDAP_CONFIG_BIND_PASSWORD') ?? '',
    customPersonClass: text('CUSTOM_PERSON_CLASS') ?? 'jansCustomPerson',
    schemaOidArc,
    indexPollMs: int('INDEX_POLL_MS', 250, 50, 60_000),
    indexReconcileSec: int('INDEX_RECONCILE_S', 60, 0, 86_400),
    ldapChangeLog: changeLog === undefined ? 'cn=changelog' : changeLog.trim(),
  };
}

/** Bearer tokens: a JWT key source, introspection, or both (or the development key, with neither). */
function tokenSettings({ text, int, raw }: Reader) {
  const sources = ['JWT_JWKS_URI', 'JWT_PUBLIC_KEY_FILE', 'JWT_SECRET'].filter((key) => text(key));
  if (sources.length > 1) throw new ConfigError(`Set only one of ${sources.join(', ')}`);
  const secret = text('JWT_SECRET');
  const allowed = secret ? SYMMETRIC : ASYMMETRIC;
  const algorithms = (text('JWT_ALGORITHMS') ?? (secret ? 'HS256' : 'RS256,PS256,ES256'))
    .split(',')
    .map((a) => a.trim()) as Algorithm[];
  for (const algorithm of algorithms) {
    if (!allowed.includes(algorithm)) {
      throw new ConfigError(
        `JWT_ALGORITHMS may list only ${allowed.join(', ')}${secret ? ' with JWT_SECRET' : ''}; "${algorithm}" is not one of them`,
      );
    }
  }
  if (secret && secret.length < 32) throw new ConfigError('JWT_SECRET must be at least 32 characters long');
  const introspectionUrl = text('INTROSPECTION_URL');
  if (introspectionUrl && !/^https?:\/\//.test(introspectionUrl)) {
    throw new ConfigError('INTROSPECTION_URL must be an http:// or https:// URL');
  }
  if (introspectionUrl && !(text('INTROSPECTION_CLIENT_ID') && text('INTROSPECTION_CLIENT_SECRET'))) {
    throw new ConfigError(
      'INTROSPECTION_URL is set, so INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET must be set too',
    );
  }
  // With both, the issuer is what tells a JWT to verify here from one to introspect; without it every JWT
  // would be verified locally and a JWT from another issuer could never be introspected.
  if (sources.length > 0 && introspectionUrl && !text('JWT_ISSUER')) {
    throw new ConfigError(
      `${sources[0]} and INTROSPECTION_URL are both set, so JWT_ISSUER must be set too: JWTs naming that issuer are verified locally, every other token is introspected`,
    );
  }
  const jwksUri = text('JWT_JWKS_URI');
  if (jwksUri && !/^https?:\/\//.test(jwksUri))
    throw new ConfigError('JWT_JWKS_URI must be an http:// or https:// URL');
  return {
    jwtJwksUri: jwksUri,
    jwtJwksCacheSec: int('JWT_JWKS_CACHE_S', 600, 1, 86_400),
    jwtPublicKeyFile: text('JWT_PUBLIC_KEY_FILE'),
    jwtSecret: secret,
    jwtAlgorithms: algorithms,
    jwtIssuer: text('JWT_ISSUER'),
    jwtAudience: text('JWT_AUDIENCE'),
    jwtClockToleranceSec: int('JWT_CLOCK_TOLERANCE_S', 30, 0, 600),
    introspectionUrl,
    introspectionClientId: text('INTROSPECTION_CLIENT_ID'),
    introspectionClientSecret: raw('INTROSPECTION_CLIENT_SECRET'),
    introspectionCacheTtlSec: int('INTROSPECTION_CACHE_TTL_S', 60, 0, 3600),
    devTokens: sources.length === 0 && !introspectionUrl,
  };
}

/** Values of user and session attributes: encryption keys, expiry purges, the value schema's age. */
function valueSettings({ text, int }: Reader) {
  const valueKeys = parseValueKeys(text('VALUE_ENCRYPTION_KEYS'));
  const valueWriteKeyId = text('VALUE_ENCRYPTION_WRITE_KEY') ?? valueKeys?.keys().next().value;
  if (text('VALUE_ENCRYPTION_WRITE_KEY') && !valueKeys?.has(valueWriteKeyId ?? '')) {
    throw new ConfigError('VALUE_ENCRYPTION_WRITE_KEY must be the id of a key in VALUE_ENCRYPTION_KEYS');
  }
  return {
    valueKeys,
    valueWriteKeyId,
    valuePurgeIntervalSec: int('VALUE_PURGE_INTERVAL_S', 60, 1, 86_400),
    valueSchemaMaxAgeMs: int('VALUE_SCHEMA_MAX_AGE_MS', 5000, 0, 600_000),
  };
}

/** `id:base64,id:base64`: each key 32 bytes (AES-256). The values never appear in an error message. */
function parseValueKeys(raw: string | undefined): Map<string, Buffer> | undefined {
  if (raw === undefined) return undefined;
  const keys = new Map<string, Buffer>();
  for (const [index, pair] of raw.split(',').entries()) {
    const colon = pair.indexOf(':');
    const id = pair.slice(0, colon).trim();
    const key = Buffer.from(pair.slice(colon + 1).trim(), 'base64');
    if (colon < 1 || !/^[A-Za-z0-9._-]{1,32}$/.test(id)) {
      throw new ConfigError(
        `VALUE_ENCRYPTION_KEYS entry ${index + 1} must be <id>:<base64 key> with an id of letters, digits, . _ -`,
      );
    }
    if (key.length !== 32) {
      throw new ConfigError(`VALUE_ENCRYPTION_KEYS key '${id}' must be 32 bytes (44 base64 characters)`);
    }
    if (keys.has(id)) throw new ConfigError(`VALUE_ENCRYPTION_KEYS lists the id '${id}' twice`);
    keys.set(id, key);
  }
  return keys;
}
