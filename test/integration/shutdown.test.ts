import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { API_ROOT } from '../../src/http/openapi.js';
import { TokenIssuer, startTestDirectory, tempDir } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('graceful shutdown', () => {
  it('on SIGTERM finishes the request in flight, closes the directory and exits 0', async () => {
    const directory = await startTestDirectory();
    const issuer = new TokenIssuer();
    const dir = await tempDir('shutdown');
    await writeFile(join(dir, 'public.pem'), issuer.publicKey);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: '0',
        DATA_DIR: dir,
        LDAP_URL: directory.slapd.url,
        LDAP_BIND_DN: directory.slapd.bindDn,
        LDAP_BIND_PASSWORD: directory.slapd.password,
        JWT_PUBLIC_KEY_FILE: join(dir, 'public.pem'),
      },
    });
    try {
      const url = await new Promise<string>((done) =>
        createInterface({ input: child.stdout }).on('line', (line) => {
          const match = /"url":"(http[^"]+)".*attribute registry listening/.exec(line);
          if (match?.[1]) done(match[1]);
        }),
      );
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      // Hold the directory so that the request is still in flight when the signal arrives.
      directory.slapd.process.kill('SIGSTOP');
      const inFlight = fetch(`${url}${API_ROOT}/attributes/08E2`, {
        headers: {
          authorization: `Bearer ${issuer.token(['https://jans.io/oauth/config/attributes.readonly'])}`,
        },
      });
      // Nothing signals "the request has reached the service"; a short pause stands in for it.
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      directory.slapd.process.kill('SIGCONT');
      const response = await inFlight;
      expect(response.status).to.equal(200);
      expect((await response.json()).inum).to.equal('08E2');
      expect(await exited).to.equal(0);
      const refused = await fetch(`${url}/health/live`).then(
        () => 'answered',
        () => 'refused',
      );
      expect(refused).to.equal('refused');
    } finally {
      directory.slapd.process.kill('SIGCONT');
      child.kill('SIGKILL');
      await directory.stop();
    }
  });
});
