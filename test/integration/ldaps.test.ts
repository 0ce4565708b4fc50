import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { STANDARD_LDIF, readLdifFiles, seed } from '../../src/directory/seed.js';
import { startSlapd, type RunningSlapd } from '../../src/directory/slapd.js';
import { adminDirectory, call, startTestApp, tempDir } from './harness.js';

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
