import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Client } from 'ldapts';
import { parseLdif } from '../../src/directory/ldif.js';
import {
  CHANGE_LOG,
  embeddedConfig,
  renderConfig,
  type SlapdConfig,
} from '../../src/directory/slapd-config.js';
import { createConfigDir, findSlapd, freePort, type RunningSlapd } from '../../src/directory/slapd.js';
import { SCOPE, call, startTestApp, tempDir, uniqueName, JANSSEN_REQUIRED, eventually } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 'entrypoint-test-password';
/** What slapd adds to every entry it stores. */
const OPERATIONAL = [
  'structuralObjectClass',
  'entryUUID',
  'creatorsName',
  'createTimestamp',
  'entryCSN',
  'modifiersName',
  'modifyTimestamp',
  'contextCSN',
];

/**
 * A configuration directory read back with `slapcat -n0`: what slapd made of the LDIF it was given,
 * whichever way that LDIF was written, as text to compare (each entry's attributes in name order).
 * Schema entries show only their dn (their contents come from the same files, so names and order are
 * what can differ), password hashes (salted) are masked, and the consumers' credentials unquoted (slapd
 * reads `credentials="x"` and `credentials=x` alike).
 */
function readConfig(configDir: string): string {
  const slapcat = (findSlapd() as string).replace(/slapd$/, 'slapcat');
  const read = spawnSync(slapcat, ['-n0', '-F', configDir, '-o', 'ldif-wrap=no'], { encoding: 'utf8' });
  expect(read.status, read.stderr).to.equal(0);
  const normal = (name: string, value: string) =>
    name === 'olcRootPW'
      ? '(hash)'
      : name === 'olcSyncrepl'
        ? value.replace(/credentials="([^"\s]*)"/, 'credentials=$1')
        : value;
  return parseLdif(read.stdout, configDir)
    .map((entry) =>
      [
        `dn: ${entry.dn}`,
        ...[...entry.attributes]
          .filter(([name]) => !OPERATIONAL.includes(name) && !entry.dn.endsWith(',cn=schema,cn=config'))
          .sort(([a], [b]) => a.localeCompare(b))
          .flatMap(([name, values]) => values.map((value) => `${name}: ${normal(name, value)}`)),
      ].join('\n'),
    )
    .join('\n\n');
}

/**
 * The openldap container's entrypoint, run as a plain process (there is no container engine here): it
 * builds the directory the compose file gives the registry, with the same schema, seed and overlays.
 */
describe('the openldap container entrypoint, run without a container', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let url: string;
  let ldapi: string;

  before(async () => {
    dataDir = await tempDir('entrypoint');
    const port = await freePort();
    url = `ldap://127.0.0.1:${port}`;
    ldapi = `ldapi://${encodeURIComponent(join(dataDir, 'ldapi'))}`;
    env = {
      PATH: `${process.env.PATH ?? ''}:/usr/sbin`,
      LDAP_ADMIN_PASSWORD: PASSWORD,
      LDAP_PORT: String(port),
      LDIF_DIR: join(ROOT, 'ldif'),
      LDAP_DATA_DIR: join(dataDir, 'openldap'),
      LDAP_LDAPI_URL: ldapi,
      SLAPD_LOG_LEVEL: 'none',
    };
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Starts the entrypoint and waits until its slapd answers on the port. */
  async function start(startEnv = env, startUrl = url): Promise<{ child: ChildProcess; log: () => string }> {
    const child = spawn('sh', [join(ROOT, 'docker/openldap/entrypoint.sh')], { env: startEnv });
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const answers = async () => {
      if (child.exitCode !== null) throw new Error(`the entrypoint exited: ${log}`);
      const client = new Client({ url: startUrl, connectTimeout: 200, timeout: 500 });
      const answered = await client.search('', { scope: 'base' }).then(
        () => true,
        () => false,
      );
      await client.unbind().catch(() => undefined);
      return answered;
    };
    try {
      await eventually(`slapd answering on ${startUrl}`, answers, Boolean, 15_000);
    } catch (error) {
      if (child.exitCode !== null) throw error;
      child.kill('SIGKILL');
      throw new Error(`slapd did not answer on ${startUrl}: ${log}`, { cause: error });
    }
    return { child, log: () => log };
  }

  async function stop(child: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  const directory = () => ({ url, bindDn: 'cn=admin,o=jans', password: PASSWORD }) as RunningSlapd;

  it('builds the seeded directory, passes its health check, and serves the registry', async () => {
    const first = await start();
    try {
      expect(first.log()).to.contain('loading');
      const health = spawnSync(
        'ldapsearch',
        ['-Q', '-Y', 'EXTERNAL', '-H', ldapi, '-b', 'ou=attributes,o=jans', '-s', 'base', '-LLL', '1.1'],
        { encoding: 'utf8' },
      );
      expect(health.status, health.stderr).to.equal(0);

      const app = await startTestApp(directory(), { SCHEMA_CHECK: 'false' });
      try {
        const token = app.issuer.token([
          SCOPE.read,
          SCOPE.write,
          'https://jans.io/oauth/config/scopes.readonly',
        ]);
        expect((await call(app, 'GET', '/attributes?limit=0', { token })).body.totalEntriesCount).to.equal(
          71,
        );
        expect((await call(app, 'GET', '/scopes', { token })).body).to.have.length(5);
        const name = uniqueName('ep');
        const body = { ...JANSSEN_REQUIRED, name, displayName: 'Entrypoint', dataType: 'string' };
        const replies = await Promise.all(
          [1, 2, 3].map(() => call(app, 'POST', '/attributes', { token, body })),
        );
        expect(replies.map((r) => r.status).sort()).to.deep.equal([201, 409, 409]);

        const kept = await call(app, 'POST', '/attributes', {
          token,
          body: { ...body, name: uniqueName('kept') },
        });
        expect(kept.status).to.equal(201);
        // A change made behind the registry's back shows within a second: the entrypoint's directory has
        // the change log the registry follows (a delete, which only the log reveals).
        const created = replies.find((r) => r.status === 201)?.body as { dn: string; inum: string };
        const client = new Client({ url });
        await client.bind('cn=admin,o=jans', PASSWORD);
        await client.del(created.dn);
        await client.unbind();
        await eventually(
          'the delete showing within a second',
          async () =>
            (await call(app, 'GET', `/attributes?pattern=${name}`, { token })).body.totalEntriesCount,
          (total) => total === 0,
          1000,
        );
      } finally {
        await app.stop();
      }
    } finally {
      await stop(first.child);
    }

    const second = await start();
    try {
      expect(second.log()).to.contain('using the existing configuration');
      const app = await startTestApp(directory());
      try {
        const token = app.issuer.token([SCOPE.read]);
        // The definition kept in the first run is there; the one deleted behind the registry's back is not.
        expect((await call(app, 'GET', '/attributes?limit=0', { token })).body.totalEntriesCount).to.equal(
          72,
        );
      } finally {
        await app.stop();
      }
    } finally {
      await stop(second.child);
    }
  });

  it('creates on its first start the layout of the embedded directory (embeddedConfig), replication included', async () => {
    const home = join(dataDir, 'layout');
    const port = await freePort();
    // Nothing answers there: only the configuration is compared.
    const peers = ['ldap://127.0.0.1:9', 'ldap://localhost:9'];
    const provider = await start(
      {
        ...env,
        LDAP_PORT: String(port),
        LDAP_DATA_DIR: home,
        LDAP_LDAPI_URL: `ldapi://${encodeURIComponent(`${home}-ldapi`)}`,
        LDAP_PEER_URLS: peers.join(' '),
        LDAP_SERVER_ID: '3',
        LDAP_SEED: 'false',
      },
      `ldap://127.0.0.1:${port}`,
    );
    await stop(provider.child);

    const embedded = embeddedConfig({
      dataDir: home,
      suffix: 'o=jans',
      bindDn: 'cn=admin,o=jans',
      configDn: 'cn=admin,cn=config',
      password: PASSWORD,
      passwordHash: '{SSHA}masked',
      replication: { serverId: 3, peers },
    });
    // What the container does differently, and only that: slapd runs in its foreground (no pid file),
    // and the container's own user administers it through ldapi:/// instead of a cn=config password.
    const peer = `gidNumber=${process.getgid?.()}+uidNumber=${process.getuid?.()},cn=peercred,cn=external,cn=auth`;
    const container: SlapdConfig = {
      ...embedded,
      global: { ...embedded.global, pidFile: undefined },
      config: { access: [`to * by dn.exact="${peer}" manage by * none`] },
      databases: embedded.databases.map((database) =>
        database.suffix === CHANGE_LOG
          ? database
          : { ...database, access: [`to * by dn.exact="${peer}" manage by anonymous auth by * none`] },
      ),
    };
    const expected = join(dataDir, 'layout-expected', 'slapd.d');
    createConfigDir(expected, renderConfig(container));
    expect(readConfig(join(home, 'slapd.d'))).to.equal(readConfig(expected));
  });

  it('replicates the definitions, the name claims and the audit trail between two providers', async () => {
    const ports = [await freePort(), await freePort()];
    const urls = ports.map((port) => `ldap://127.0.0.1:${port}`);
    const providers = [];
    for (const [i, port] of ports.entries()) {
      const home = join(dataDir, `provider-${i}`);
      const peerEnv = {
        ...env,
        LDAP_PORT: String(port),
        LDAP_DATA_DIR: home,
        LDAP_LDAPI_URL: `ldapi://${encodeURIComponent(`${home}-ldapi`)}`,
        LDAP_PEER_URLS: urls[1 - i],
        LDAP_SERVER_ID: String(i + 1),
        LDAP_SEED: i === 0 ? 'true' : 'false',
      };
      providers.push(await start(peerEnv, urls[i]));
    }
    try {
      const app = await startTestApp(
        { url: urls[0], bindDn: 'cn=admin,o=jans', password: PASSWORD } as RunningSlapd,
        { SCHEMA_CHECK: 'false' },
      );
      let inum: string;
      const name = uniqueName('replicated');
      try {
        const created = await call(app, 'POST', '/attributes', {
          token: app.adminToken,
          body: { ...JANSSEN_REQUIRED, name, displayName: 'Replicated', dataType: 'string' },
        });
        expect(created.status).to.equal(201);
        inum = created.body.inum;
      } finally {
        await app.stop();
      }
      const reader = new Client({ url: urls[1] as string });
      await reader.bind('cn=admin,o=jans', PASSWORD);
      try {
        const count = async (base: string, filter: string) =>
          (
            await reader
              .search(base, { scope: 'one', filter, attributes: ['1.1'] })
              .catch(() => ({ searchEntries: [] }))
          ).searchEntries.length;
        const arrived = async () =>
          (await count('ou=attributes,o=jans', `(inum=${inum})`)) === 1 &&
          (await count('ou=attributeNames,o=jans', `(cn=${name.toLowerCase()})`)) === 1 &&
          (await count('ou=audit,o=jans', `(registryAuditTarget=${inum})`)) === 1;
        await eventually('the second provider having all three within 10 s', arrived, Boolean, 10_000);
      } finally {
        await reader.unbind();
      }
    } finally {
      for (const provider of providers) await stop(provider.child);
    }
  });
});
