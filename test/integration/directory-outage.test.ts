import { expect } from 'chai';
import { startSlapd } from '../../src/directory/slapd.js';
import { call, startTestApp, startTestDirectory, type TestApp } from './harness.js';

describe('when the directory goes away and comes back', () => {
  let directory: Awaited<ReturnType<typeof startTestDirectory>>;
  let app: TestApp;

  before(async () => {
    directory = await startTestDirectory();
    // Without the read cache, so that every read goes to the directory (the cache would answer reads of
    // a definition it read less than a second ago).
    app = await startTestApp(directory.slapd, { CACHE_MAX_AGE_MS: '0' });
  });
  after(async () => {
    await app?.stop();
    await directory?.stop();
  });

  const ready = async () => (await fetch(`${app.service.url}/health/ready`)).status;

  it('answers 503 with Retry-After while it is down, and recovers by itself when it is back', async () => {
    const token = app.adminToken;
    expect((await call(app, 'GET', '/attributes/08E2', { token })).status).to.equal(200);
    expect(await ready()).to.equal(200);

    const port = Number(new URL(directory.slapd.url).port);
    await directory.slapd.stop();
    const started = Date.now();
    for (const path of ['/attributes/08E2', '/attributes?pattern=edu']) {
      const reply = await call(app, 'GET', path, { token });
      expect(reply.status).to.equal(503);
      expect(reply.headers.get('retry-after')).to.match(/^\d+$/);
      expect(reply.body.message).to.equal('The directory is unavailable');
    }
    const write = await call(app, 'DELETE', '/attributes/08E2', { token });
    expect(write.status).to.equal(503);
    expect(Date.now() - started, 'failing fast, not hanging').to.be.below(5000);
    expect(await ready()).to.equal(503);

    directory.slapd = await startSlapd({ dataDir: directory.dataDir, suffix: 'o=jans', port });
    const back = await call(app, 'GET', '/attributes/08E2', { token });
    expect(back.status).to.equal(200);
    expect(back.body.name).to.equal('departmentNumber');
    expect(await ready()).to.equal(200);
  });

  it('loses no acknowledged write when the directory stops under load and comes back', async function () {
    this.timeout(60_000);
    const writes = await startTestApp(directory.slapd, { SCHEMA_CHECK: 'false' });
    const token = writes.adminToken;
    const port = Number(new URL(directory.slapd.url).port);
    const acknowledged: string[] = [];
    const statuses = new Set<number>();
    let running = true;
    const writer = async (id: number) => {
      for (let i = 0; running; i++) {
        const reply = await call(writes, 'POST', '/attributes', {
          token,
          body: { name: `load_${id}_${i}_${Date.now()}`, displayName: 'Load', dataType: 'string' },
        });
        statuses.add(reply.status);
        if (reply.status === 201) acknowledged.push(reply.body.inum);
      }
    };
    const load = Promise.all([1, 2, 3, 4].map(writer));
    while (acknowledged.length < 20 && statuses.size <= 1) await new Promise((r) => setImmediate(r));
    expect([...statuses]).to.deep.equal([201]);
    await directory.slapd.stop();
    await new Promise((r) => setTimeout(r, 300));
    directory.slapd = await startSlapd({ dataDir: directory.dataDir, suffix: 'o=jans', port });
    const restarted = Date.now();
    const countAtRestart = acknowledged.length;
    while (acknowledged.length === countAtRestart && Date.now() - restarted < 2000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(acknowledged.length, 'writes succeed again within 2 s').to.be.greaterThan(countAtRestart);
    running = false;
    await load;
    expect([...statuses].sort()).to.deep.equal([201, 503]);
    for (const inum of acknowledged) {
      expect((await call(writes, 'GET', `/attributes/${inum}`, { token })).status, inum).to.equal(200);
    }
    await writes.stop();
  });

  it('answers 503 within the operation timeout when the directory hangs, and recovers when it resumes', async () => {
    const impatient = await startTestApp(directory.slapd, { LDAP_OPERATION_TIMEOUT_MS: '300' });
    const token = impatient.adminToken;
    try {
      expect((await call(impatient, 'GET', '/attributes/08E2', { token })).status).to.equal(200);
      directory.slapd.process.kill('SIGSTOP');
      try {
        const started = Date.now();
        const replies = await Promise.all(
          Array.from({ length: 20 }, () => call(impatient, 'GET', '/attributes?pattern=edu', { token })),
        );
        expect(replies.map((r) => r.status)).to.deep.equal(replies.map(() => 503));
        expect(Date.now() - started, 'bounded by the operation timeout').to.be.below(3000);
      } finally {
        directory.slapd.process.kill('SIGCONT');
      }
      const back = await call(impatient, 'GET', '/attributes?pattern=edu', { token });
      expect(back.status).to.equal(200);
      expect(back.body.totalEntriesCount).to.equal(14);
    } finally {
      await impatient.stop();
    }
  });
});
