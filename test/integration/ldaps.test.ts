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

describe('an external directory over ldaps:// with a CA file', () => {
  let dir: string;
  let slapd: RunningSlapd;
  let ca: string;

  before(async () => {
    dir = await tempDir('ldaps');
    const certificates = await makeCertificates(dir);
    ca = certificates.ca;
    slapd = await startSlapd({
      dataDir: join(dir, 'slapd'),
      suffix: 'o=jans',
      tls: { certFile: certificates.cert, keyFile: certificates.key },
    });
    const directory = adminDirectory(slapd, await readFile(certificates.ca, 'utf8'));
    await seed(directory, await readLdifFiles(STANDARD_LDIF));
    await directory.close();
  });
  after(async () => {
    await slapd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the directory when the CA is trusted, and refuses to talk when it is not', async () => {
    expect(slapd.url).to.match(/^ldaps:\/\//);
    const trusting = await startTestApp(slapd, { LDAP_TLS_CA_FILE: ca });
    try {
      const reply = await call(trusting, 'GET', '/attributes/08E2', { token: trusting.adminToken });
      expect(reply.status).to.equal(200);
    } finally {
      await trusting.stop();
    }
    const doubting = await startTestApp(slapd);
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
  let dir: string;
  let slapd: RunningSlapd;
  let ca: string;
  let tls: { certFile: string; keyFile: string; startTls: boolean };

  before(async () => {
    dir = await tempDir('starttls');
    const certificates = await makeCertificates(dir);
    ca = certificates.ca;
    tls = { certFile: certificates.cert, keyFile: certificates.key, startTls: true };
    slapd = await startSlapd({ dataDir: join(dir, 'slapd'), suffix: 'o=jans', tls });
    const directory = adminDirectory(slapd, await readFile(ca, 'utf8'), true);
    await seed(directory, await readLdifFiles(STANDARD_LDIF));
    await directory.close();
  });
  after(async () => {
    await slapd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('is refused in clear text, so every answer below came over TLS', async () => {
    expect(slapd.url).to.match(/^ldap:\/\//);
    const plain = new Client({ url: slapd.url });
    const refused = await plain.bind(slapd.bindDn, slapd.password).catch((error: unknown) => error);
    await plain.unbind();
    expect(refused).to.be.instanceOf(ConfidentialityRequiredError);
  });

  it('serves the directory with LDAP_STARTTLS, answers 503 without it, and upgrades again after a restart', async () => {
    const clear = await startTestApp(slapd);
    try {
      const reply = await call(clear, 'GET', '/attributes/08E2', { token: clear.adminToken });
      expect(reply.status).to.equal(503);
    } finally {
      await clear.stop();
    }
    const app = await startTestApp(slapd, { LDAP_STARTTLS: 'true', LDAP_TLS_CA_FILE: ca });
    try {
      expect((await call(app, 'GET', '/attributes/08E2', { token: app.adminToken })).status).to.equal(200);
      const port = Number(new URL(slapd.url).port);
      await slapd.stop();
      slapd = await startSlapd({ dataDir: join(dir, 'slapd'), suffix: 'o=jans', tls, port });
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
