import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config.js';
import { caught } from './helpers.js';

const problem = (env: Record<string, string>) => caught(() => loadConfig(env), ConfigError).message;

describe('loadConfig', () => {
  it('has a default for everything, and an embedded directory when LDAP_URL is not set', () => {
    expect(loadConfig({})).to.deep.equal({
      port: 8080,
      host: '127.0.0.1',
      production: false,
      dataDir: resolve('.data'),
      ldapUrl: undefined,
      ldapBindDn: '',
      ldapBindPassword: '',
      ldapTlsCaFile: undefined,
      ldapStartTls: false,
      baseDn: 'o=jans',
      slapdPath: undefined,
      embeddedLdapPort: undefined,
      ldapPoolSize: 4,
      ldapConnectTimeoutMs: 3000,
      ldapOperationTimeoutMs: 5000,
      ldapMaxPending: 1000,
      ldapFailbackMs: 5000,
      schemaCheck: true,
      personObjectClasses: ['jansPerson', 'jansCustomPerson'],
      schemaExtension: true,
      ldapConfigBindDn: undefined,
      ldapConfigBindPassword: '',
      customPersonClass: 'jansCustomPerson',
      schemaOidArc: '2.25.221040513893262236960339934617374457713.3',
      maxPageSize: 200,
      indexPollMs: 250,
      indexReconcileSec: 60,
      ldapChangeLog: 'cn=changelog',
      jwtJwksUri: undefined,
      jwtJwksCacheSec: 600,
      jwtPublicKeyFile: undefined,
      jwtSecret: undefined,
      jwtAlgorithms: ['RS256', 'PS256', 'ES256'],
      jwtIssuer: undefined,
      jwtAudience: undefined,
      jwtClockToleranceSec: 30,
      introspectionUrl: undefined,
      introspectionClientId: undefined,
      introspectionClientSecret: undefined,
      introspectionCacheTtlSec: 60,
      devTokens: true,
      logLevel: 'info',
      valueKeys: undefined,
      valueWriteKeyId: undefined,
      valuePurgeIntervalSec: 60,
      valueSchemaMaxAgeMs: 5000,
    });
  });

  it('reads value encryption keys by id, writing with the first unless told, and refuses bad ones without echoing them', () => {
    const a = Buffer.alloc(32, 1).toString('base64');
    const b = Buffer.alloc(32, 2).toString('base64');
    const config = loadConfig({ VALUE_ENCRYPTION_KEYS: `old:${a}, new:${b}` });
    expect([...(config.valueKeys?.keys() ?? [])]).to.deep.equal(['old', 'new']);
    expect(config.valueWriteKeyId).to.equal('old');
    expect(
      loadConfig({ VALUE_ENCRYPTION_KEYS: `old:${a},new:${b}`, VALUE_ENCRYPTION_WRITE_KEY: 'new' })
        .valueWriteKeyId,
    ).to.equal('new');
    const short = Buffer.alloc(16, 3).toString('base64');
    const tooShort = problem({ VALUE_ENCRYPTION_KEYS: `k:${short}` });
    expect(tooShort).to.contain('32 bytes').and.not.contain(short);
    expect(problem({ VALUE_ENCRYPTION_KEYS: a })).to.contain('<id>:<base64 key>');
    expect(problem({ VALUE_ENCRYPTION_KEYS: `k:${a},k:${b}` })).to.contain('twice');
    expect(problem({ VALUE_ENCRYPTION_KEYS: `k:${a}`, VALUE_ENCRYPTION_WRITE_KEY: 'other' })).to.contain(
      'VALUE_ENCRYPTION_WRITE_KEY',
    );
  });

  it('reads settings, trimming blanks and treating blank values as unset', () => {
    const config = loadConfig({
      PORT: ' 0 ',
      HOST: '0.0.0.0',
      LDAP_URL: 'ldaps://ldap.example:636',
      LDAP_BIND_DN: 'cn=directory manager',
      LDAP_BIND_PASSWORD: ' secret with spaces ',
      LDAP_BASE_DN: '   ',
      SCHEMA_CHECK: 'FALSE',
      PERSON_OBJECT_CLASSES: ' jansPerson , ,inetOrgPerson ',
      MAX_PAGE_SIZE: '1000',
      JWT_ALGORITHMS: 'RS256, ES256',
      EMBEDDED_LDAP_PORT: '3890',
    });
    expect(config).to.deep.include({
      port: 0,
      host: '0.0.0.0',
      ldapUrl: 'ldaps://ldap.example:636',
      ldapBindDn: 'cn=directory manager',
      ldapBindPassword: ' secret with spaces ',
      baseDn: 'o=jans',
      schemaCheck: false,
      personObjectClasses: ['jansPerson', 'inetOrgPerson'],
      maxPageSize: 1000,
      jwtAlgorithms: ['RS256', 'ES256'],
      embeddedLdapPort: 3890,
    });
  });

  it('reads SCHEMA_CHECK as true/false/1/0 and nothing else', () => {
    expect(loadConfig({ SCHEMA_CHECK: '0' }).schemaCheck).to.equal(false);
    expect(loadConfig({ SCHEMA_CHECK: 'True' }).schemaCheck).to.equal(true);
    expect(problem({ SCHEMA_CHECK: 'yes' })).to.contain('SCHEMA_CHECK must be true or false');
  });

  it('refuses integers that are not whole or out of range, naming the setting and the value', () => {
    expect(problem({ PORT: 'http' })).to.equal('PORT must be a whole number from 0 to 65535, not "http"');
    expect(problem({ PORT: '65536' })).to.contain('PORT must be a whole number');
    expect(problem({ LDAP_POOL_SIZE: '2.5' })).to.contain('LDAP_POOL_SIZE');
    expect(problem({ LDAP_POOL_SIZE: '0' })).to.contain('LDAP_POOL_SIZE');
    expect(problem({ MAX_PAGE_SIZE: '-5' })).to.contain('MAX_PAGE_SIZE');
    expect(problem({ LDAP_OPERATION_TIMEOUT_MS: '10' })).to.contain('LDAP_OPERATION_TIMEOUT_MS');
    expect(problem({ EMBEDDED_LDAP_PORT: '0' })).to.contain('EMBEDDED_LDAP_PORT');
  });

  it('refuses an LDAP_URL that is not ldap:// or ldaps://', () => {
    expect(problem({ LDAP_URL: 'http://ldap.example', LDAP_BIND_DN: 'cn=admin' })).to.contain('ldap://');
  });

  it('takes several providers in LDAP_URL, separated by any white space, all of one scheme', () => {
    const bind = { LDAP_BIND_DN: 'cn=admin,o=jans' };
    expect(loadConfig({ ...bind, LDAP_URL: ' ldap://a:1389 \t ldap://b:1389\n' }).ldapUrl).to.equal(
      'ldap://a:1389 ldap://b:1389',
    );
    expect(problem({ ...bind, LDAP_URL: 'ldap://a:1389,ldap://b:1389' })).to.contain('separated by spaces');
    expect(problem({ ...bind, LDAP_URL: 'ldap://a:1389 b:1389' })).to.contain('"b:1389"');
    expect(problem({ ...bind, LDAP_URL: 'ldap://a:1389 ldaps://b:1636' })).to.contain('one scheme');
    expect(problem({ ...bind, LDAP_URL: 'ldaps://a:1636 ldaps://b:1636', LDAP_STARTTLS: 'true' })).to.contain(
      'LDAP_STARTTLS',
    );
  });

  it('refuses LDAP_URL without LDAP_BIND_DN', () => {
    expect(problem({ LDAP_URL: 'ldap://ldap.example' })).to.equal(
      'LDAP_URL is set, so LDAP_BIND_DN must be set too',
    );
    expect(problem({ LDAP_URL: 'ldap://ldap.example', LDAP_BIND_DN: '  ' })).to.contain('LDAP_BIND_DN');
  });

  it('switches schema extension off for an external directory unless it has cn=config credentials', () => {
    const external = { LDAP_URL: 'ldap://ldap.example', LDAP_BIND_DN: 'cn=admin,o=jans' };
    expect(loadConfig(external).schemaExtension).to.equal(false);
    expect(problem({ ...external, SCHEMA_EXTENSION: 'true' })).to.contain('LDAP_CONFIG_BIND_DN');
    const allowed = loadConfig({
      ...external,
      SCHEMA_EXTENSION: 'true',
      LDAP_CONFIG_BIND_DN: 'cn=admin,cn=config',
    });
    expect(allowed.schemaExtension).to.equal(true);
    expect(problem({ SCHEMA_OID_ARC: '2.25.x' })).to.contain('SCHEMA_OID_ARC');
  });

  it('takes LDAP_STARTTLS and LDAP_TLS_CA_FILE only where TLS applies', () => {
    const bind = { LDAP_BIND_DN: 'cn=admin,o=jans' };
    expect(problem({ ...bind, LDAP_URL: 'ldaps://ldap.example', LDAP_STARTTLS: 'true' })).to.contain(
      'ldap://',
    );
    expect(problem({ ...bind, LDAP_URL: 'ldap://ldap.example', LDAP_TLS_CA_FILE: 'ca.pem' })).to.contain(
      'LDAP_STARTTLS=true',
    );
    const config = loadConfig({
      ...bind,
      LDAP_URL: 'ldap://ldap.example',
      LDAP_STARTTLS: 'true',
      LDAP_TLS_CA_FILE: 'ca.pem',
    });
    expect([config.ldapStartTls, config.ldapTlsCaFile]).to.deep.equal([true, 'ca.pem']);
  });

  it('refuses symmetric and missing signature algorithms', () => {
    for (const algorithms of ['HS256', 'none', 'RS256,HS512', 'rs256']) {
      expect(problem({ JWT_ALGORITHMS: algorithms }), algorithms).to.contain('JWT_ALGORITHMS may list only');
    }
    expect(problem({ JWT_ALGORITHMS: 'none' })).to.contain('"none" is not one of them');
  });

  it('refuses token settings that do not go together', () => {
    const refused = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        return (error as Error).message;
      }
      return expect.fail('expected a ConfigError');
    };
    expect(refused({ JWT_JWKS_URI: 'https://as.example/jwks', JWT_PUBLIC_KEY_FILE: '/k.pem' })).to.contain(
      'only one',
    );
    expect(refused({ JWT_SECRET: 'x'.repeat(40), JWT_ALGORITHMS: 'RS256' })).to.contain('with JWT_SECRET');
    expect(refused({ JWT_SECRET: 'short' })).to.contain('32 characters');
    expect(refused({ JWT_JWKS_URI: 'https://as.example/jwks', JWT_ALGORITHMS: 'HS256' })).to.contain('HS256');
    expect(refused({ INTROSPECTION_URL: 'https://as.example/introspect' })).to.contain(
      'INTROSPECTION_CLIENT_ID',
    );
    expect(refused({ JWT_JWKS_URI: 'file:///etc/keys' })).to.contain('JWT_JWKS_URI');
  });

  it('needs JWT_ISSUER when both a JWT key source and introspection are set, to tell which is which', () => {
    const introspection = {
      INTROSPECTION_URL: 'https://as.example/introspect',
      INTROSPECTION_CLIENT_ID: 'registry',
      INTROSPECTION_CLIENT_SECRET: 'secret',
    };
    for (const [key, value] of [
      ['JWT_JWKS_URI', 'https://as.example/jwks'],
      ['JWT_PUBLIC_KEY_FILE', '/k.pem'],
      ['JWT_SECRET', 'z'.repeat(40)],
    ] as const) {
      const message = problem({ ...introspection, [key]: value });
      expect(message, key).to.contain(`${key} and INTROSPECTION_URL are both set, so JWT_ISSUER must be set`);
    }
    expect(
      problem({ ...introspection, JWT_JWKS_URI: 'https://as.example/jwks', JWT_ISSUER: ' ' }),
    ).to.contain('JWT_ISSUER');
    const both = loadConfig({
      ...introspection,
      JWT_JWKS_URI: 'https://as.example/jwks',
      JWT_ISSUER: 'https://as.example',
    });
    expect([both.jwtIssuer, both.introspectionUrl]).to.deep.equal([
      'https://as.example',
      'https://as.example/introspect',
    ]);
  });

  it('turns the development key off once any token source is configured', () => {
    expect(loadConfig({ JWT_JWKS_URI: 'https://as.example/jwks' }).devTokens).to.equal(false);
    const introspection = {
      INTROSPECTION_URL: 'https://as.example/introspect',
      INTROSPECTION_CLIENT_ID: 'registry',
      INTROSPECTION_CLIENT_SECRET: 'secret',
    };
    expect(loadConfig(introspection).devTokens).to.equal(false);
    expect(loadConfig({ JWT_SECRET: 'y'.repeat(40) }).jwtAlgorithms).to.deep.equal(['HS256']);
  });
});

describe('the configuration page', () => {
  /** The variables loadConfig reads, with and without an external directory. */
  function variablesRead(): Set<string> {
    const read = new Set<string>();
    for (const env of [{}, { LDAP_URL: 'ldap://127.0.0.1:1389', LDAP_BIND_DN: 'cn=admin,o=jans' }]) {
      const watched = new Proxy(env as Record<string, string>, {
        get: (target, key) => {
          if (typeof key === 'string') read.add(key);
          return target[key as string];
        },
      });
      loadConfig(watched);
    }
    return read;
  }

  it('documents exactly the variables the service reads', () => {
    const page = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const documented = new Set(
      page
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) =>
          [...(line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!),
        ),
    );
    expect([...documented].sort()).to.deep.equal([...variablesRead()].sort());
  });
});
