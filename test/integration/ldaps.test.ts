import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { Client, ConfidentialityRequiredError } from 'ldapts';
import { STANDARD_LDIF, readLdifFiles, seed } from '../../src/directory/seed.js';
import { startSlapd, type RunningSlapd } from '../../src/directory/slapd.js';
import { adminDirectory, call, startTestApp, tempDir, eventually } from './harness.js';

/** A private CA and a certificate for 127.0.0.1 signed by it, made with openssl. */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Test CA',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
  );
  await writeFile(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('san.ext'),
    '-out',
    file('server.pem'),
  );
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}

interface TlsDirectory {
  dir: string;
  /** The slapd running now: a test that restarts it puts the new one here. */
  slapd: RunningSlapd;
  /** The CA file that certifies it. */
  ca: string;
  tls: { certFile: string; keyFile: string; startTls: boolean };
}

/**
 * Registers the hooks of a suite with a seeded slapd of its own that speaks TLS, on ldaps:// or (with
 * `startTls`) by StartTLS, certified by a private CA. What it returns is filled in by the `before` hook.
 */
function useTlsDirectory(prefix: string, startTls: boolean): TlsDirectory {
  const directory = {} as TlsDirectory;
  before(async () => {
    directory.dir = await tempDir(prefix);
    const certificates = await makeCertificates(directory.dir);
    directory.ca = certificates.ca;
    directory.tls = { certFile: certificates.cert, keyFile: certificates.key, startTls };
    directory.slapd = await startSlapd({
      dataDir: join(directory.dir, 'slapd'),
      suffix: 'o=jans',
      tls: directory.tls,
    });
    const admin = adminDirectory(directory.slapd, await readFile(directory.ca, 'utf8'), startTls);
    await seed(admin, await readLdifFiles(STANDARD_LDIF));
    await admin.close();
  });
  after(async () => {
    await directory.slapd?.stop();
    if (directory.dir) await rm(directory.dir, { recursive: true, force: true });
  });
  return directory;
}

describe('an external directory over ldaps:// with a CA file', () => {
  const directory = useTlsDirectory('ldaps', false);

  it('serves the directory when the CA is trusted, and refuses to talk when it is not', async () => {
    expect(directory.slapd.url).to.match(/^ldaps:\/\//);
    const trusting = await startTestApp(directory.slapd, { LDAP_TLS_CA_FILE: directory.ca });
    try {
      const reply = await call(trusting, 'GET', '/attributes/08E2', { token: trusting.adminToken });
      expect(reply.status).to.equal(200);
    } finally {
      await trusting.stop();
    }
    const doubting = await startTestApp(directory.slapd);
    try {
      expect(
        (await call(doubting, 'GET', '/attributes/08E2', { token: doubting.adminToken })).status,
      ).to.equal(503);
    } finally {
      await doubting.stop();
    }
  });
});

describe('an external directory that requires StartTLS', () => {
  const directory = useTlsDirectory('starttls', true);

  it('is refused in clear text, so every answer below came over TLS', async () => {
    expect(directory.slapd.url).to.match(/^ldap:\/\//);
    const plain = new Client({ url: directory.slapd.url });
    const refused = await plain
      .bind(directory.slapd.bindDn, directory.slapd.password)
      .catch((error: unknown) => error);
    await plain.unbind();
    expect(refused).to.be.instanceOf(ConfidentialityRequiredError);
  });

  it('serves the directory with LDAP_STARTTLS, answers 503 without it, and upgrades again after a restart', async () => {
    const clear = await startTestApp(directory.slapd);
    try {
      const reply = await call(clear, 'GET', '/attributes/08E2', { token: clear.adminToken });
      expect(reply.status).to.equal(503);
    } finally {
      await clear.stop();
    }
    const app = await startTestApp(directory.slapd, {
      LDAP_STARTTLS: 'true',
      LDAP_TLS_CA_FILE: directory.ca,
    });
    try {
      expect((await call(app, 'GET', '/attributes/08E2', { token: app.adminToken })).status).to.equal(200);
      const port = Number(new URL(directory.slapd.url).port);
      await directory.slapd.stop();
      directory.slapd = await startSlapd({
        dataDir: join(directory.dir, 'slapd'),
        suffix: 'o=jans',
        tls: directory.tls,
        port,
      });
      const status = await eventually(
        'the reconnected pool upgrading its connections again',
        async () => (await call(app, 'GET', '/attributes/08E2', { token: app.adminToken })).status,
        (answered) => answered === 200,
      );
      expect(status, 'the reconnected pool upgraded its connections again').to.equal(200);
    } finally {
      await app.stop();
    }
  });
});
