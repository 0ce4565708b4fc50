import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A slapd configuration (cn=config) as typed data, and the LDIF that `slapadd -n0` loads from it. Pure:
 * no files, processes or randomness (callers hash passwords), so the embedded directory, the tests that
 * need another layout and the check of the container's entrypoint all build on the same pieces.
 */

/** The system's schema files (Debian's slapd), loaded first. */
export const SYSTEM_SCHEMA_FILES = ['core', 'cosine', 'inetorgperson'].map((name) =>
  join('/etc/ldap/schema', `${name}.ldif`),
);
/** The project's schema files, in load order (after the system's). */
export const PROJECT_SCHEMA_FILES = ['eduperson', 'jans'].map((name) =>
  fileURLToPath(new URL(`../../ldif/schema/${name}.ldif`, import.meta.url)),
);
export const MODULE_DIR = '/usr/lib/ldap';

/**
 * Suffix of the database where slapd's accesslog overlay records every write under ou=attributes, so
 * that a reader can learn of changes made by others, deletes included, by polling it.
 */
export const CHANGE_LOG = 'cn=changelog';

/** The indexes of the main database (the one that holds the suffix). */
export const MAIN_INDEXES = [
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

/** What the configuration asks of the caller that it cannot give (e.g. more peers than rids). */
export class SlapdConfigError extends Error {}

/** The cn=config entry itself. */
export interface GlobalSettings {
  pidFile?: string;
  /** Certificate and key (PEM files) for ldaps:// and StartTLS. */
  tls?: { certFile: string; keyFile: string };
  /** Refuse everything but StartTLS on a connection without TLS (olcSecurity: tls=1). */
  requireTls?: boolean;
  /** This provider's olcServerID, which multi-provider replication needs. */
  serverId?: number;
}

/** Dynamically loaded modules (Debian builds backends and overlays as modules). */
export interface Modules {
  path: string;
  load: string[];
}

/** Access to cn=config itself; without it, slapadd gives the config database its defaults. */
export interface ConfigDatabase {
  rootDn?: string;
  /** As slapd stores it, e.g. `{SSHA}…`. */
  rootPassword?: string;
  access?: string[];
}

/**
 * A consumer of the database's own suffix from each peer (rids `firstRid` on, one a peer), which with
 * the syncprov overlay makes the database one of several providers.
 */
export interface Replication {
  firstRid: number;
  peers: string[];
  bindDn: string;
  /**
   * Written as it is: slapd splits the value at spaces outside double quotes, so it holds neither (the
   * embedded directory's generated password is base64url).
   */
  credentials: string;
}

export type Overlay =
  | { overlay: 'unique'; uri: string }
  | { overlay: 'syncprov'; checkpoint?: string }
  | { overlay: 'accesslog'; logDatabase: string; logBase: string; success?: boolean; purge?: string };

export interface MdbDatabase {
  suffix: string;
  directory: string;
  rootDn: string;
  /** As slapd stores it, e.g. `{SSHA}…`. */
  rootPassword?: string;
  /** olcDbMaxSize in bytes: the most the memory map may grow to. */
  maxSize?: number;
  indexes?: string[];
  access?: string[];
  replication?: Replication;
  overlays?: Overlay[];
}

export interface SlapdConfig {
  global?: GlobalSettings;
  modules: Modules;
  /** Schema files (LDIF, cn=config form), in load order. */
  schemas: string[];
  config?: ConfigDatabase;
  /** Numbered from {1} in this order; slapd wants a database whose suffix is inside another's first. */
  databases: MdbDatabase[];
}

/** An LDIF entry: its dn line, then `name: value` lines. */
type Entry = string[];

const lines = (name: string, values: readonly string[] | undefined) =>
  (values ?? []).map((value) => `${name}: ${value}`);
const optional = (value: string | number | undefined) => (value === undefined ? [] : [String(value)]);

function globalEntry(global: GlobalSettings): Entry {
  return [
    'dn: cn=config',
    'objectClass: olcGlobal',
    'cn: config',
    ...lines('olcPidFile', optional(global.pidFile)),
    ...(global.tls
      ? [`olcTLSCertificateFile: ${global.tls.certFile}`, `olcTLSCertificateKeyFile: ${global.tls.keyFile}`]
      : []),
    ...(global.requireTls ? ['olcSecurity: tls=1'] : []),
    ...lines('olcServerID', optional(global.serverId)),
  ];
}

function modulesEntry(modules: Modules): Entry {
  return [
    'dn: cn=module{0},cn=config',
    'objectClass: olcModuleList',
    'cn: module{0}',
    `olcModulePath: ${modules.path}`,
    ...lines('olcModuleLoad', modules.load),
  ];
}

/** Each include stands alone between blank lines, as slapadd reads it. */
function schemaEntries(schemas: string[]): Entry[] {
  return [
    ['dn: cn=schema,cn=config', 'objectClass: olcSchemaConfig', 'cn: schema'],
    ...schemas.map((file) => [`include: file://${file}`]),
  ];
}

const frontendEntry: Entry = [
  'dn: olcDatabase={-1}frontend,cn=config',
  'objectClass: olcDatabaseConfig',
  'objectClass: olcFrontendConfig',
  'olcDatabase: {-1}frontend',
];

function configDatabaseEntry(config: ConfigDatabase): Entry {
  return [
    'dn: olcDatabase={0}config,cn=config',
    'objectClass: olcDatabaseConfig',
    'olcDatabase: {0}config',
    ...lines('olcRootDN', optional(config.rootDn)),
    ...lines('olcRootPW', optional(config.rootPassword)),
    ...lines('olcAccess', config.access),
  ];
}

function syncreplLines(replication: Replication, searchBase: string): string[] {
  const { firstRid, peers, bindDn, credentials } = replication;
  // A rid has at most three digits.
  if (firstRid < 1 || firstRid + peers.length - 1 > 999)
    throw new SlapdConfigError(`replication: rids ${firstRid} to ${firstRid + peers.length - 1} (1 to 999)`);
  const consumers = peers.map(
    (peer, i) =>
      `olcSyncrepl: {${i}}rid=${String(firstRid + i).padStart(3, '0')} provider=${peer} bindmethod=simple ` +
      `binddn="${bindDn}" credentials=${credentials} searchbase="${searchBase}" ` +
      'type=refreshAndPersist retry="1 +" timeout=3 network-timeout=3',
  );
  return [...consumers, 'olcMultiProvider: TRUE'];
}

function overlayEntry(overlay: Overlay, position: number, databaseDn: string): Entry {
  const name = `{${position}}${overlay.overlay}`;
  const head = (objectClass: string) => [
    `dn: olcOverlay=${name},${databaseDn}`,
    'objectClass: olcOverlayConfig',
    `objectClass: ${objectClass}`,
    `olcOverlay: ${name}`,
  ];
  switch (overlay.overlay) {
    case 'unique':
      return [...head('olcUniqueConfig'), `olcUniqueURI: ${overlay.uri}`];
    case 'syncprov':
      return [...head('olcSyncProvConfig'), ...lines('olcSpCheckpoint', optional(overlay.checkpoint))];
    case 'accesslog':
      return [
        ...head('olcAccessLogConfig'),
        `olcAccessLogDB: ${overlay.logDatabase}`,
        `olcAccessLogBase: ${overlay.logBase}`,
        ...lines('olcAccessLogSuccess', overlay.success ? ['TRUE'] : []),
        ...lines('olcAccessLogPurge', optional(overlay.purge)),
      ];
  }
}

function databaseEntries(database: MdbDatabase, number: number): Entry[] {
  const dn = `olcDatabase={${number}}mdb,cn=config`;
  const entry = [
    `dn: ${dn}`,
    'objectClass: olcDatabaseConfig',
    'objectClass: olcMdbConfig',
    `olcDatabase: {${number}}mdb`,
    `olcSuffix: ${database.suffix}`,
    `olcDbDirectory: ${database.directory}`,
    `olcRootDN: ${database.rootDn}`,
    ...lines('olcRootPW', optional(database.rootPassword)),
    ...lines('olcDbMaxSize', optional(database.maxSize)),
    ...lines('olcDbIndex', database.indexes),
    ...lines('olcAccess', database.access),
    ...(database.replication ? syncreplLines(database.replication, database.suffix) : []),
  ];
  return [entry, ...(database.overlays ?? []).map((overlay, i) => overlayEntry(overlay, i, dn))];
}

/** The LDIF of `config`, for `slapadd -n0`. */
export function renderConfig(config: SlapdConfig): string {
  const entries = [
    globalEntry(config.global ?? {}),
    modulesEntry(config.modules),
    ...schemaEntries(config.schemas),
    frontendEntry,
    ...(config.config ? [configDatabaseEntry(config.config)] : []),
    ...config.databases.flatMap((database, i) => databaseEntries(database, i + 1)),
  ];
  return `${entries.map((entry) => entry.join('\n')).join('\n\n')}\n`;
}

export interface EmbeddedConfigOptions {
  /** Holds the run files and one directory per database. */
  dataDir: string;
  /** Suffix of the main database, e.g. `o=jans`. */
  suffix: string;
  /** Root DN of the databases. */
  bindDn: string;
  /** Root DN of cn=config. */
  configDn: string;
  /** The admin password in clear, which replication binds to the peers with. */
  password: string;
  /** The same password as slapd stores it (`{SSHA}…`), for the root DNs. */
  passwordHash: string;
  /** Multi-provider replication: this server's id and the URLs of the other providers. */
  replication?: { serverId: number; peers: string[] };
  /** Certificate and key (PEM files); with `startTls`, nothing but StartTLS without TLS. */
  tls?: { certFile: string; keyFile: string; startTls?: boolean };
}

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
const FOUR_GIB = 4294967296;
/** Each database's rids are a range of 100 (rids have three digits): the main one's first, 1. */
const MAX_PEERS = 99;

/**
 * The embedded directory's configuration: the name claims and the audit trail in databases of their own,
 * then the main database with the unique, syncprov and accesslog overlays, then the change log.
 * Every database replicates on its own: it consumes from each peer and provides to them (syncprov).
 */
export function embeddedConfig(options: EmbeddedConfigOptions): SlapdConfig {
  const { dataDir, suffix, bindDn, replication, tls } = options;
  if (replication && replication.peers.length > MAX_PEERS)
    throw new SlapdConfigError(`replication: at most ${MAX_PEERS} peers`);
  const replicated = (firstRid: number): Replication | undefined =>
    replication && { firstRid, peers: replication.peers, bindDn, credentials: options.password };
  const access = ['to * by anonymous auth by * none'];
  const own = OWN_DATABASES.map(({ ou, indexes }, i): MdbDatabase => ({
    suffix: `ou=${ou},${suffix}`,
    directory: join(dataDir, ou),
    rootDn: bindDn,
    maxSize: FOUR_GIB,
    indexes: [...OWN_DATABASE_INDEXES, ...indexes],
    access,
    replication: replicated((i + 1) * 100 + 1),
    overlays: [{ overlay: 'syncprov', checkpoint: '100 10' }],
  }));
  const main: MdbDatabase = {
    suffix,
    directory: join(dataDir, 'db'),
    rootDn: bindDn,
    rootPassword: options.passwordHash,
    maxSize: FOUR_GIB,
    indexes: MAIN_INDEXES,
    access,
    replication: replicated(1),
    overlays: [
      { overlay: 'unique', uri: `ldap:///ou=attributes,${suffix}?jansAttrName?one` },
      { overlay: 'syncprov', checkpoint: '100 10' },
      {
        overlay: 'accesslog',
        logDatabase: CHANGE_LOG,
        logBase: `writes ou=attributes,${suffix}`,
        success: true,
        purge: '01:00 00:10',
      },
    ],
  };
  const changeLog: MdbDatabase = {
    suffix: CHANGE_LOG,
    directory: join(dataDir, 'changelog'),
    rootDn: bindDn,
    maxSize: 1073741824,
    indexes: ['objectClass eq', 'reqEnd eq'],
    access: [`to * by dn.exact="${bindDn}" read by * none`],
  };
  return {
    global: {
      pidFile: join(dataDir, 'run', 'slapd.pid'),
      tls: tls && { certFile: tls.certFile, keyFile: tls.keyFile },
      requireTls: tls?.startTls,
      serverId: replication?.serverId,
    },
    modules: { path: MODULE_DIR, load: ['back_mdb', 'unique', 'syncprov', 'accesslog'] },
    schemas: [...SYSTEM_SCHEMA_FILES, ...PROJECT_SCHEMA_FILES],
    config: { rootDn: options.configDn, rootPassword: options.passwordHash },
    databases: [...own, main, changeLog],
  };
}
