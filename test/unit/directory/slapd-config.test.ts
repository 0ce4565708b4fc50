import { expect } from 'chai';
import { parseLdif } from '../../../src/directory/ldif.js';
import {
  MAIN_INDEXES,
  SlapdConfigError,
  embeddedConfig,
  renderConfig,
  type EmbeddedConfigOptions,
  type SlapdConfig,
} from '../../../src/directory/slapd-config.js';
import { earlierConfig, withoutProjectSchema } from '../../fixtures/slapd-configs.js';
import { caught } from '../helpers.js';

const OPTIONS: EmbeddedConfigOptions = {
  dataDir: '/data',
  suffix: 'o=jans',
  bindDn: 'cn=admin,o=jans',
  configDn: 'cn=admin,cn=config',
  password: 'clear-text',
  passwordHash: '{SSHA}hash',
};

/** The rendered entries (the schema's include lines, which are no entries, left out) by dn. */
function entries(config: SlapdConfig) {
  const text = renderConfig(config)
    .split('\n')
    .filter((line) => !line.startsWith('include: '))
    .join('\n');
  return new Map(parseLdif(text, 'cn=config.ldif').map((e) => [e.dn, Object.fromEntries(e.attributes)]));
}

const includes = (config: SlapdConfig) =>
  renderConfig(config)
    .split('\n')
    .filter((line) => line.startsWith('include: '));

/** Suffix of each mdb database, by its configuration entry's dn. */
const databases = (config: SlapdConfig) =>
  [...entries(config)]
    .filter(([dn]) => /^olcDatabase=\{\d+\}mdb,cn=config$/.test(dn))
    .map(([dn, attributes]) => [dn, attributes.olcSuffix?.[0]]);

const everyValue = (config: SlapdConfig, name: string) =>
  [...entries(config).values()].flatMap((attributes) => attributes[name] ?? []);

describe('renderConfig', () => {
  it('writes entries between blank lines, each schema include on its own, and ends with one newline', () => {
    const text = renderConfig(withoutProjectSchema('/data', 'secret'));
    expect(text).to.equal(
      [
        'dn: cn=config\nobjectClass: olcGlobal\ncn: config',
        'dn: cn=module{0},cn=config\nobjectClass: olcModuleList\ncn: module{0}\nolcModulePath: /usr/lib/ldap\nolcModuleLoad: back_mdb',
        'dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema',
        'include: file:///etc/ldap/schema/core.ldif',
        'dn: olcDatabase={-1}frontend,cn=config\nobjectClass: olcDatabaseConfig\nobjectClass: olcFrontendConfig\nolcDatabase: {-1}frontend',
        'dn: olcDatabase={1}mdb,cn=config\nobjectClass: olcDatabaseConfig\nobjectClass: olcMdbConfig\nolcDatabase: {1}mdb\n' +
          'olcSuffix: o=jans\nolcDbDirectory: /data/db\nolcRootDN: cn=admin,o=jans\nolcRootPW: secret',
      ].join('\n\n') + '\n',
    );
  });

  it('numbers the databases from {1} and each database’s overlays from {0}, in the order given', () => {
    const config = embeddedConfig(OPTIONS);
    const dns = [...entries(config).keys()].filter((dn) => dn.includes('mdb'));
    expect(dns).to.deep.equal([
      'olcDatabase={1}mdb,cn=config',
      'olcOverlay={0}syncprov,olcDatabase={1}mdb,cn=config',
      'olcDatabase={2}mdb,cn=config',
      'olcOverlay={0}syncprov,olcDatabase={2}mdb,cn=config',
      'olcDatabase={3}mdb,cn=config',
      'olcOverlay={0}unique,olcDatabase={3}mdb,cn=config',
      'olcOverlay={1}syncprov,olcDatabase={3}mdb,cn=config',
      'olcOverlay={2}accesslog,olcDatabase={3}mdb,cn=config',
      'olcDatabase={4}mdb,cn=config',
    ]);
  });

  it('refuses rids that do not fit in three digits', () => {
    const config = withoutProjectSchema('/data', 'secret');
    const [database] = config.databases;
    if (!database) throw new Error('no database');
    database.replication = {
      firstRid: 990,
      peers: Array(10).fill('ldap://p'),
      bindDn: 'x',
      credentials: 'y',
    };
    expect(renderConfig(config)).to.contain('rid=999 ');
    database.replication.peers.push('ldap://q');
    expect(caught(() => renderConfig(config), SlapdConfigError).message).to.contain('990 to 1000');
  });
});

describe('embeddedConfig', () => {
  it('keeps the name claims and the audit trail in databases of their own ahead of the main one, then the change log', () => {
    expect(databases(embeddedConfig(OPTIONS))).to.deep.equal([
      ['olcDatabase={1}mdb,cn=config', 'ou=attributeNames,o=jans'],
      ['olcDatabase={2}mdb,cn=config', 'ou=audit,o=jans'],
      ['olcDatabase={3}mdb,cn=config', 'o=jans'],
      ['olcDatabase={4}mdb,cn=config', 'cn=changelog'],
    ]);
    const config = embeddedConfig(OPTIONS);
    expect(config.databases.map((d) => d.directory)).to.deep.equal([
      '/data/attributeNames',
      '/data/audit',
      '/data/db',
      '/data/changelog',
    ]);
  });

  it('gives the main database its indexes, the unique name rule and the change log of writes under ou=attributes', () => {
    const all = entries(embeddedConfig({ ...OPTIONS, suffix: 'o=example' }));
    expect(all.get('olcDatabase={3}mdb,cn=config')?.olcDbIndex).to.deep.equal(MAIN_INDEXES);
    expect(all.get('olcOverlay={0}unique,olcDatabase={3}mdb,cn=config')?.olcUniqueURI).to.deep.equal([
      'ldap:///ou=attributes,o=example?jansAttrName?one',
    ]);
    const log = all.get('olcOverlay={2}accesslog,olcDatabase={3}mdb,cn=config') ?? {};
    expect([log.olcAccessLogDB, log.olcAccessLogBase, log.olcAccessLogPurge]).to.deep.equal([
      ['cn=changelog'],
      ['writes ou=attributes,o=example'],
      ['01:00 00:10'],
    ]);
    expect(all.get('olcDatabase={2}mdb,cn=config')?.olcDbIndex).to.include('registryAuditTarget eq');
  });

  it('holds the password only as its hash, for the root of cn=config and of the suffix, without replication', () => {
    const config = embeddedConfig(OPTIONS);
    expect(renderConfig(config)).not.to.contain('clear-text');
    const all = entries(config);
    expect(all.get('olcDatabase={0}config,cn=config')?.olcRootPW).to.deep.equal(['{SSHA}hash']);
    expect(all.get('olcDatabase={3}mdb,cn=config')?.olcRootPW).to.deep.equal(['{SSHA}hash']);
    expect(everyValue(config, 'olcRootPW')).to.have.length(2);
  });

  it('with replication: a server id and, on the three replicated databases, one consumer per peer with distinct rids', () => {
    const peers = ['ldap://a:1389', 'ldap://b:1389', 'ldaps://c:1636'];
    const config = embeddedConfig({ ...OPTIONS, replication: { serverId: 7, peers } });
    const all = entries(config);
    expect(all.get('cn=config')?.olcServerID).to.deep.equal(['7']);
    const replicated = ['ou=attributeNames,o=jans', 'ou=audit,o=jans', 'o=jans'];
    const rids: string[] = [];
    for (const [dn, attributes] of all) {
      const syncrepl = attributes.olcSyncrepl ?? [];
      if (!replicated.includes(attributes.olcSuffix?.[0] ?? '')) {
        expect(syncrepl, dn).to.deep.equal([]);
        continue;
      }
      expect(attributes.olcMultiProvider, dn).to.deep.equal(['TRUE']);
      expect(
        syncrepl.map((s) => /provider=(\S+)/.exec(s)?.[1]),
        dn,
      ).to.deep.equal(peers);
      for (const [i, value] of syncrepl.entries()) {
        expect(value).to.match(new RegExp(`^\\{${i}\\}rid=\\d{3} `));
        expect(value).to.contain(`searchbase="${attributes.olcSuffix?.[0]}"`);
        expect(value).to.contain('binddn="cn=admin,o=jans" credentials=clear-text');
        rids.push(/rid=(\d+)/.exec(value)?.[1] ?? '');
      }
    }
    expect(rids).to.have.length(9);
    expect(new Set(rids).size).to.equal(9);
  });

  it('without replication: no server id, consumers or multi-provider flag', () => {
    const config = embeddedConfig(OPTIONS);
    for (const name of ['olcServerID', 'olcSyncrepl', 'olcMultiProvider'])
      expect(everyValue(config, name), name).to.deep.equal([]);
  });

  it('refuses more than 99 peers, so that each database keeps its own range of rids', () => {
    const peers = Array.from({ length: 100 }, (_, i) => `ldap://p${i}`);
    expect(() =>
      embeddedConfig({ ...OPTIONS, replication: { serverId: 1, peers: peers.slice(1) } }),
    ).not.to.throw();
    const error = caught(
      () => embeddedConfig({ ...OPTIONS, replication: { serverId: 1, peers } }),
      SlapdConfigError,
    );
    expect(error.message).to.equal('replication: at most 99 peers');
  });

  it('names the certificate and key only with TLS, and requires TLS only with StartTLS', () => {
    const tls = { certFile: '/tls/cert.pem', keyFile: '/tls/key.pem' };
    const global = (options: EmbeddedConfigOptions) =>
      entries(embeddedConfig(options)).get('cn=config') ?? {};
    const settings = (options: EmbeddedConfigOptions) => {
      const { olcTLSCertificateFile, olcTLSCertificateKeyFile, olcSecurity } = global(options);
      return { olcTLSCertificateFile, olcTLSCertificateKeyFile, olcSecurity };
    };
    expect(settings(OPTIONS)).to.deep.equal({
      olcTLSCertificateFile: undefined,
      olcTLSCertificateKeyFile: undefined,
      olcSecurity: undefined,
    });
    expect(settings({ ...OPTIONS, tls })).to.deep.equal({
      olcTLSCertificateFile: ['/tls/cert.pem'],
      olcTLSCertificateKeyFile: ['/tls/key.pem'],
      olcSecurity: undefined,
    });
    expect(settings({ ...OPTIONS, tls: { ...tls, startTls: true } })).to.deep.equal({
      olcTLSCertificateFile: ['/tls/cert.pem'],
      olcTLSCertificateKeyFile: ['/tls/key.pem'],
      olcSecurity: ['tls=1'],
    });
    expect(global(OPTIONS).olcPidFile).to.deep.equal(['/data/run/slapd.pid']);
  });

  it('loads the system schemas, then the project’s', () => {
    expect(includes(embeddedConfig(OPTIONS)).map((line) => line.replace(/^.*\//, ''))).to.deep.equal([
      'core.ldif',
      'cosine.ldif',
      'inetorgperson.ldif',
      'eduperson.ldif',
      'jans.ldif',
    ]);
  });
});

describe('the layouts the integration tests start from', () => {
  it('earlier version: the whole suffix in {1}mdb, the change log in {2}mdb, and indexes that are missing now', () => {
    const config = earlierConfig('/old', 'secret');
    expect(databases(config)).to.deep.equal([
      ['olcDatabase={1}mdb,cn=config', 'o=jans'],
      ['olcDatabase={2}mdb,cn=config', 'cn=changelog'],
    ]);
    const all = entries(config);
    const main = all.get('olcDatabase={1}mdb,cn=config') ?? {};
    expect(main.olcRootPW).to.deep.equal(['secret']);
    expect(main.olcDbIndex).to.include('inum eq').and.not.include('jansStatus eq');
    expect(MAIN_INDEXES).to.include('jansStatus eq');
    expect(all.get('olcDatabase={0}config,cn=config')?.olcRootDN).to.deep.equal(['cn=admin,cn=config']);
    expect(all.get('olcOverlay={1}accesslog,olcDatabase={1}mdb,cn=config')?.olcAccessLogBase).to.deep.equal([
      'writes ou=attributes,o=jans',
    ]);
    expect(includes(config)).to.have.length(5);
  });

  it('without the project’s schema: the core schema only and one database', () => {
    const config = withoutProjectSchema('/bare', 'secret');
    expect(includes(config)).to.deep.equal(['include: file:///etc/ldap/schema/core.ldif']);
    expect(databases(config)).to.deep.equal([['olcDatabase={1}mdb,cn=config', 'o=jans']]);
  });
});
