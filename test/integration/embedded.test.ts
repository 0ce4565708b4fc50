import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { freePort, isAlive } from '../../src/directory/slapd.js';
import { API_ROOT } from '../../src/http/openapi.js';
import { assertMatchesContract, tempDir, JANSSEN_REQUIRED } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What `npm start` runs after its `prestart` has compiled the sources (see `before`). */
const MAIN = 'dist/main.js';

/** `npm start`, as its own process, with its own private slapd under DATA_DIR. */
async function npmStart(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((done, fail) => {
    child.once('exit', (code) => fail(new Error(`npm start exited with ${code}`)));
    lines.on('line', (line) => {
      const match = /"msg":"attribute registry listening"/.test(line) && /"url":"([^"]+)"/.exec(line);
      if (match && match[1]) done(match[1]);
    });
  });
  child.removeAllListeners('exit');
  return { child, url };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('the embedded default: npm start with no LDAP_URL', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const compile = spawnSync('npm', ['run', '-s', 'prestart'], { cwd: ROOT, encoding: 'utf8' });
    expect(compile.status, compile.stderr).to.equal(0);
    dataDir = await tempDir('embedded');
    env = { DATA_DIR: dataDir, PORT: String(await freePort()), LOG_LEVEL: 'info', LDAP_URL: '' };
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const token = (scope?: string) =>
    spawnSync('npm', ['run', '-s', 'token', '--', ...(scope ? ['--scope', scope] : [])], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir },
      encoding: 'utf8',
    }).stdout.trim();

  async function get(url: string, path: string, bearer: string, init: RequestInit = {}) {
    const response = await fetch(`${url}${API_ROOT}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...init.headers },
    });
    const text = await response.text();
    const reply = {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
    };
    await assertMatchesContract(init.method ?? 'GET', `${API_ROOT}${path.split('?')[0]}`, reply);
    return reply;
  }

  it('starts slapd, seeds the standard set once, keeps changes across restarts, and stops slapd with it', async () => {
    const first = await npmStart(env);
    let slapdPid: number | undefined;
    let created: string | undefined;
    try {
      const bearer = token();
      expect((await get(first.url, '/attributes?limit=0', bearer)).body.totalEntriesCount).to.equal(71);
      expect((await get(first.url, '/scopes', bearer)).body).to.have.length(5);
      expect((await get(first.url, '/attributes?pattern=edu', bearer)).body.totalEntriesCount).to.equal(14);
      const post = await get(first.url, '/attributes', bearer, {
        method: 'POST',
        body: JSON.stringify({
          ...JANSSEN_REQUIRED,
          name: 'seeAlso',
          displayName: 'See also',
          dataType: 'string',
        }),
      });
      expect(post.status).to.equal(201);
      created = post.body.inum;
      // The embedded directory's schema can be extended, and a scope can release the new claim.
      const custom = await get(first.url, '/attributes?extendSchema=true', bearer, {
        method: 'POST',
        body: JSON.stringify({
          ...JANSSEN_REQUIRED,
          name: 'badgeNumber',
          displayName: 'Badge',
          dataType: 'numeric',
          claimName: 'badge',
        }),
      });
      expect(custom.status).to.equal(201);
      const released = await get(first.url, '/scopes/43F1', bearer, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json-patch+json' },
        body: JSON.stringify([{ op: 'add', path: '/claims/-', value: custom.body.dn }]),
      });
      expect(released.status).to.equal(200);
      const alice = spawnSync('npm', ['run', '-s', 'token', '--', '--scope', '', '--sub', 'demo-alice'], {
        cwd: ROOT,
        env: { ...process.env, DATA_DIR: dataDir },
        encoding: 'utf8',
      }).stdout.trim();
      const own = await get(first.url, '/users/demo-alice/attributes/nickname', alice);
      expect(own.body, 'the demo users are seeded, and reachable with their own token').to.deep.equal({
        name: 'nickname',
        value: 'Ali',
      });
      expect((await get(first.url, '/users/demo-bob/attributes/nickname', alice)).status).to.equal(403);
      expect((await get(first.url, '/users/demo-bob/attributes/locale', bearer)).body.value).to.equal(
        'en-GB',
      );
      const predefined = await get(first.url, '/attributes/08E2', bearer, { method: 'DELETE' });
      expect(predefined.status, 'the standard set cannot be deleted').to.equal(409);
      const retitled = await get(first.url, '/attributes/08E2', bearer, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json-patch+json' },
        body: JSON.stringify([{ op: 'replace', path: '/displayName', value: 'Department' }]),
      });
      expect(retitled.status).to.equal(200);
      const readOnly = token('https://jans.io/oauth/config/attributes.readonly');
      expect((await get(first.url, '/attributes/6EEB', readOnly, { method: 'DELETE' })).status).to.equal(403);
      slapdPid = Number((await readFile(join(dataDir, 'run', 'slapd.pid'), 'utf8')).trim());
      expect(isAlive(slapdPid)).to.equal(true);
    } finally {
      expect(await stop(first.child)).to.equal(0);
    }
    if (slapdPid === undefined) throw new Error('the slapd pid was not read');
    expect(isAlive(slapdPid), 'slapd stops with the service').to.equal(false);

    const second = await npmStart(env);
    try {
      const bearer = token();
      expect((await get(second.url, `/attributes/${created ?? ''}`, bearer)).body.name).to.equal('seeAlso');
      const again = await get(second.url, '/attributes?extendSchema=true', bearer, {
        method: 'POST',
        body: JSON.stringify({
          ...JANSSEN_REQUIRED,
          name: 'badgeNumber',
          displayName: 'Badge',
          dataType: 'numeric',
        }),
      });
      expect(again.status, 'the extended schema and the definition are kept').to.equal(409);
      expect(
        (await get(second.url, '/attributes/08E2', bearer)).body.displayName,
        'a changed seed entry stays changed',
      ).to.equal('Department');
      expect((await get(second.url, '/attributes?limit=0', bearer)).body.totalEntriesCount).to.equal(73);
    } finally {
      expect(await stop(second.child)).to.equal(0);
    }
  });

  it('says how to install slapd when it is missing, and exits non-zero', () => {
    const run = spawnSync(process.execPath, [MAIN], {
      cwd: ROOT,
      env: { ...process.env, ...env, SLAPD_PATH: '/nonexistent/slapd' },
      encoding: 'utf8',
    });
    expect(run.status).to.equal(1);
    expect(run.stderr).to.contain('apt-get install -y slapd');
  });

  it('fails at start with a clear message on a bad setting', () => {
    const run = spawnSync(process.execPath, [MAIN], {
      cwd: ROOT,
      env: { ...process.env, ...env, PORT: 'eighty' },
      encoding: 'utf8',
    });
    expect(run.status).to.equal(1);
    expect(run.stderr).to.contain('PORT must be a whole number');
  });
});
