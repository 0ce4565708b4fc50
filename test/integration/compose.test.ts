import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Volume = string | { type?: string; source?: string; target?: string; read_only?: boolean };
interface Service {
  environment?: Record<string, string | null>;
  volumes?: Volume[];
  depends_on?: Record<string, { condition?: string }> | string[];
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
});
