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
      dataDir: resolve('.data'),
      ldapUrl: undefined,
      ldapBindDn: '',
      ldapBindPassword: '',
      ldapTlsCaFile: undefined,
      baseDn: 'o=jans',
      slapdPath: undefined,
      embeddedLdapPort: undefined,
      ldapPoolSize: 4,
      ldapConnectTimeoutMs: 3000,
      ldapOperationTimeoutMs: 5000,
      schemaCheck: true,
      personObjectClasses: ['jansPerson', 'jansCustomPerson'],
      maxPageSize: 200,
      indexPollMs: 250,
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
    });
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

  it('refuses LDAP_URL without LDAP_BIND_DN', () => {
    expect(problem({ LDAP_URL: 'ldap://ldap.example' })).to.equal(
      'LDAP_URL is set, so LDAP_BIND_DN must be set too',
    );
    expect(problem({ LDAP_URL: 'ldap://ldap.example', LDAP_BIND_DN: '  ' })).to.contain('LDAP_BIND_DN');
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
