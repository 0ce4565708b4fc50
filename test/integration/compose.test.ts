import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Volume = string | { type?: string; source?: string; target?: string; read_only?: boolean };
type Port = string | number | { published?: string | number; target?: string | number };
interface Service {
  environment?: Record<string, string | null>;
  volumes?: Volume[];
  depends_on?: Record<string, { condition?: string }> | string[];
  ports?: Port[];
  profiles?: string[];
}

/** Runs docker-compose (scripts/setup --test installs it) on the project's compose file. */
function compose(...args: string[]) {
  const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  expect(result.error, 'docker-compose could not be run').to.equal(undefined);
  return result;
}

/** Published ports as host and container port, from the short or the long syntax. */
function publishedPorts(service: Service) {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') return { host: String(port.published), container: String(port.target) };
    const [container, host] = String(port).split(':').reverse();
    return { host: String(host), container: String(container).split('/')[0] };
  });
}

/** Bind mounts as source, target and read-only flag, from the short or the long syntax. */
function bindMounts(service: Service) {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume !== 'string') {
      return { source: volume.source, target: volume.target, readOnly: volume.read_only === true };
    }
    const [source, target, mode] = volume.split(':');
    return { source, target, readOnly: mode?.split(',').includes('ro') ?? false };
  });
}

describe('docker-compose.yml', () => {
  it('passes docker-compose config -q', () => {
    const result = compose('config', '-q');
    expect(result.status, result.stderr).to.equal(0);
  });

  it('points the registry at the openldap service, which gets ldif/ read-only', () => {
    const result = compose('config');
    expect(result.status, result.stderr).to.equal(0);
    const { services } = parse(result.stdout) as { services: Record<string, Service | undefined> };
    const registry = services.registry ?? {};
    const openldap = services.openldap ?? {};

    const url = new URL(String(registry.environment?.LDAP_URL));
    expect(url.protocol).to.equal('ldap:');
    expect(url.hostname).to.equal('openldap');
    expect(url.port).to.equal(openldap.environment?.LDAP_PORT);
    expect(registry.environment?.LDAP_BIND_DN).to.equal('cn=admin,o=jans');
    expect(registry.environment?.LDAP_BIND_PASSWORD).to.equal(openldap.environment?.LDAP_ADMIN_PASSWORD);
    expect(registry.depends_on).to.deep.include({ openldap: { condition: 'service_healthy' } });

    expect(bindMounts(openldap)).to.deep.include({
      source: join(ROOT, 'ldif'),
      target: '/ldif',
      readOnly: true,
    });
  });

  it('passes docker-compose --profile replicated config -q, and keeps the profile out of the default', () => {
    const result = compose('--profile', 'replicated', 'config', '-q');
    expect(result.status, result.stderr).to.equal(0);

    const config = compose('config');
    expect(config.status, config.stderr).to.equal(0);
    const { services } = parse(config.stdout) as { services: Record<string, Service | undefined> };
    expect(services.openldap?.profiles, 'openldap').to.equal(undefined);
    expect(services.registry?.profiles, 'registry').to.equal(undefined);
    for (const name of ['openldap-a', 'openldap-b', 'registry-a', 'registry-b']) {
      expect(services[name]?.profiles, name).to.deep.equal(['replicated']);
    }
  });

  it('in the replicated profile, points registry-a/-b at openldap-a/-b, which name each other as peers', () => {
    const result = compose('--profile', 'replicated', 'config');
    expect(result.status, result.stderr).to.equal(0);
    const { services } = parse(result.stdout) as { services: Record<string, Service | undefined> };
    const pairs = [
      { registry: 'registry-a', provider: 'openldap-a', peer: 'openldap-b' },
      { registry: 'registry-b', provider: 'openldap-b', peer: 'openldap-a' },
    ];

    for (const { registry: registryName, provider: providerName, peer: peerName } of pairs) {
      const registry = services[registryName] ?? {};
      const provider = services[providerName] ?? {};
      const peer = services[peerName] ?? {};

      const url = new URL(String(registry.environment?.LDAP_URL));
      expect(url.protocol, registryName).to.equal('ldap:');
      expect(url.hostname, registryName).to.equal(providerName);
      expect(url.port, registryName).to.equal(provider.environment?.LDAP_PORT);
      expect(registry.environment?.LDAP_BIND_DN, registryName).to.equal('cn=admin,o=jans');
      expect(registry.environment?.LDAP_BIND_PASSWORD, registryName).to.equal(
        provider.environment?.LDAP_ADMIN_PASSWORD,
      );
      expect(registry.depends_on, registryName).to.deep.include({
        [providerName]: { condition: 'service_healthy' },
      });

      const peerUrls = String(provider.environment?.LDAP_PEER_URLS).trim().split(/\s+/);
      expect(peerUrls, providerName).to.have.length(1);
      const peerUrl = new URL(peerUrls[0] ?? '');
      expect(peerUrl.protocol, providerName).to.equal('ldap:');
      expect(peerUrl.hostname, providerName).to.equal(peerName);
      expect(peerUrl.port, providerName).to.equal(peer.environment?.LDAP_PORT);
      // Replication binds to the peer as cn=admin,o=jans with this provider's password.
      expect(provider.environment?.LDAP_ADMIN_PASSWORD, providerName).to.equal(
        peer.environment?.LDAP_ADMIN_PASSWORD,
      );
      expect(bindMounts(provider), providerName).to.deep.include({
        source: join(ROOT, 'ldif'),
        target: '/ldif',
        readOnly: true,
      });
    }

    const providers = pairs.map(({ provider }) => services[provider]?.environment ?? {});
    expect(new Set(providers.map((env) => env.LDAP_SERVER_ID)).size, 'distinct LDAP_SERVER_IDs').to.equal(2);
    for (const env of providers) expect(env.LDAP_SERVER_ID).to.match(/^[1-9][0-9]*$/);
    // One provider loads the seed, the other receives it by replication.
    expect(providers.map((env) => env.LDAP_SEED ?? 'true').sort()).to.deep.equal(['false', 'true']);

    // Both registries publish the service, on different host ports, also different from the default's.
    const hostPorts = ['registry', 'registry-a', 'registry-b'].map((name) => {
      const ports = publishedPorts(services[name] ?? {});
      expect(ports, name).to.have.length(1);
      expect(ports[0]?.container, name).to.equal('8080');
      return ports[0]?.host;
    });
    expect(new Set(hostPorts).size, hostPorts.join(', ')).to.equal(3);
  });
});
