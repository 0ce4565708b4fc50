import { resolve } from 'node:path';
import type { Algorithm } from 'jsonwebtoken';

/** Everything the service can be told, read once from the environment and checked before anything starts. */
export interface Config {
  /** HTTP port (PORT, default 8080; 0 picks a free one). */
  port: number;
  /** Interface to listen on (HOST, default 127.0.0.1; 0.0.0.0 in a container). */
  host: string;
  /** Embedded directory, development signing key (DATA_DIR, default ./.data). */
  dataDir: string;
  /** External directory, or undefined to start a private slapd under dataDir (LDAP_URL). */
  ldapUrl?: string;
  /** Bind DN and password for the external directory (LDAP_BIND_DN, LDAP_BIND_PASSWORD). */
  ldapBindDn: string;
  ldapBindPassword: string;
  /** CA certificates (PEM file) that ldaps:// connections trust (LDAP_TLS_CA_FILE; default: the system's). */
  ldapTlsCaFile?: string;
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
  /** Refuse names the person object classes cannot carry (SCHEMA_CHECK, default true). */
  schemaCheck: boolean;
  /** The person object classes of that check (PERSON_OBJECT_CLASSES, default jansPerson,jansCustomPerson). */
  personObjectClasses: string[];
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
  /** Required `iss` and `aud` when set (JWT_ISSUER, JWT_AUDIENCE). */
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
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

  const ldapUrl = text('LDAP_URL');
  if (ldapUrl && !/^ldaps?:\/\//.test(ldapUrl))
    throw new ConfigError(`LDAP_URL must start with ldap:// or ldaps://`);
  if (ldapUrl && !text('LDAP_BIND_DN'))
    throw new ConfigError('LDAP_URL is set, so LDAP_BIND_DN must be set too');
  if (text('LDAP_TLS_CA_FILE') && !ldapUrl?.startsWith('ldaps://')) {
    throw new ConfigError(
      'LDAP_TLS_CA_FILE applies to ldaps:// directories; LDAP_URL must start with ldaps://',
    );
  }

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
  const jwksUri = text('JWT_JWKS_URI');
  if (jwksUri && !/^https?:\/\//.test(jwksUri))
    throw new ConfigError('JWT_JWKS_URI must be an http:// or https:// URL');

  return {
    port: int('PORT', 8080, 0, 65535),
    host: text('HOST') ?? '127.0.0.1',
    dataDir: resolve(text('DATA_DIR') ?? '.data'),
    ldapUrl,
    ldapBindDn: text('LDAP_BIND_DN') ?? '',
    ldapBindPassword: env.LDAP_BIND_PASSWORD ?? '',
    ldapTlsCaFile: text('LDAP_TLS_CA_FILE'),
    baseDn: text('LDAP_BASE_DN') ?? 'o=jans',
    slapdPath: text('SLAPD_PATH'),
    embeddedLdapPort: text('EMBEDDED_LDAP_PORT') ? int('EMBEDDED_LDAP_PORT', 0, 1, 65535) : undefined,
    ldapPoolSize: int('LDAP_POOL_SIZE', 4, 1, 64),
    ldapConnectTimeoutMs: int('LDAP_CONNECT_TIMEOUT_MS', 3000, 100, 600_000),
    ldapOperationTimeoutMs: int('LDAP_OPERATION_TIMEOUT_MS', 5000, 100, 600_000),
    schemaCheck: bool('SCHEMA_CHECK', true),
    personObjectClasses: (text('PERSON_OBJECT_CLASSES') ?? 'jansPerson,jansCustomPerson')
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean),
    maxPageSize: int('MAX_PAGE_SIZE', 200, 1, 10_000),
    indexPollMs: int('INDEX_POLL_MS', 250, 50, 60_000),
    ldapChangeLog: env.LDAP_CHANGELOG_DN === undefined ? 'cn=changelog' : env.LDAP_CHANGELOG_DN.trim(),
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
    introspectionClientSecret: env.INTROSPECTION_CLIENT_SECRET,
    introspectionCacheTtlSec: int('INTROSPECTION_CACHE_TTL_S', 60, 0, 3600),
    devTokens: sources.length === 0 && !introspectionUrl,
    logLevel: text('LOG_LEVEL') ?? 'info',
  };
}
