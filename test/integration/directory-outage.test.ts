import { expect } from 'chai';
import { Attribute, Change, Client, SubstringFilter, type Filter } from 'ldapts';
import { startSlapd } from '../../src/directory/slapd.js';
import { JANSSEN_REQUIRED, call, startTestApp, uniqueName, useTestApp, eventually } from './harness.js';

describe('when the directory goes away and comes back', () => {
  const { app, directory } = useTestApp();

  /** Definitions as slapd holds them, by inum: read directly, not through the service. */
  async function rawDefinitions(filter: Filter) {
    const client = new Client({ url: directory.slapd.url });
    try {
      await client.bind(directory.slapd.bindDn, directory.slapd.password);
      const { searchEntries } = await client.search('ou=attributes,o=jans', {
        scope: 'one',
        filter,
        attributes: ['inum', 'jansAttrName', 'displayName', 'jansAttrTyp'],
        paged: { pageSize: 500 },
      });
      return new Map(
        searchEntries.map((e) => [
          String(e.inum),
          {
            name: String(e.jansAttrName),
            displayName: String(e.displayName),
            dataType: String(e.jansAttrTyp),
          },
        ]),
      );
    } finally {
      await client.unbind();
    }
  }

  const ready = async () => (await fetch(`${app.service.url}/health/ready`)).status;

  it('serves reads from memory while it is down (not ready), refuses writes with 503, and catches up when it is back', async () => {
    const token = app.adminToken;
    expect((await call(app, 'GET', '/attributes/08E2', { token })).status).to.equal(200);
    expect(await ready()).to.equal(200);

    const port = Number(new URL(directory.slapd.url).port);
    await directory.slapd.stop();
    const started = Date.now();
    expect((await call(app, 'GET', '/attributes/08E2', { token })).body.name).to.equal('departmentNumber');
    expect((await call(app, 'GET', '/attributes?pattern=edu', { token })).body.totalEntriesCount).to.equal(
      14,
    );
    const write = await call(app, 'PATCH', '/attributes/08E2', {
      token,
      body: [{ op: 'replace', path: '/displayName', value: 'Away' }],
    });
    expect(write.status).to.equal(503);
    expect(write.headers.get('retry-after')).to.match(/^\d+$/);
    expect(write.body.message).to.equal('The directory is unavailable');
    expect(Date.now() - started, 'failing fast, not hanging').to.be.below(5000);
    expect(await ready()).to.equal(503);

    directory.slapd = await startSlapd({ dataDir: directory.dataDir, suffix: 'o=jans', port });
    expect(await ready()).to.equal(200);
    // Changed behind the service's back once the directory is back: the index catches up.
    const client = new Client({ url: directory.slapd.url });
    await client.bind(directory.slapd.bindDn, directory.slapd.password);
    await client.modify(
      'inum=08E2,ou=attributes,o=jans',
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'displayName', values: ['Unit'] }),
      }),
    );
    await client.unbind();
    await eventually(
      'the change showing within a second',
      async () => (await call(app, 'GET', '/attributes/08E2', { token })).body.displayName,
      (displayName) => displayName === 'Unit',
      1100,
    );
  });

  it('loses no acknowledged write when the directory stops under load and comes back', async function () {
    this.timeout(60_000);
    const writes = await startTestApp(directory.slapd, { SCHEMA_CHECK: 'false' });
    const token = writes.adminToken;
    const port = Number(new URL(directory.slapd.url).port);
    const prefix = uniqueName('load');
    /** Every write answered 201, with what it asked to store. */
    const acknowledged: { inum: string; name: string; displayName: string }[] = [];
    const statuses = new Set<number>();
    let running = true;
    const writer = async (id: number) => {
      for (let i = 0; running; i++) {
        const wanted = { name: `${prefix}_${id}_${i}`, displayName: `Load ${id}.${i}` };
        const reply = await call(writes, 'POST', '/attributes', {
          token,
          body: { ...JANSSEN_REQUIRED, ...wanted, dataType: 'string' },
        });
        statuses.add(reply.status);
        if (reply.status === 201) acknowledged.push({ inum: reply.body.inum, ...wanted });
      }
    };
    const load = Promise.all([1, 2, 3, 4].map(writer));
    try {
      await eventually(
        '20 writes acknowledged, or another status',
        async () => acknowledged.length >= 20 || statuses.size > 1,
        Boolean,
      );
      expect([...statuses]).to.deep.equal([201]);
      await directory.slapd.stop();
      await eventually('a write refused while the directory is down', async () => statuses.has(503), Boolean);
      directory.slapd = await startSlapd({ dataDir: directory.dataDir, suffix: 'o=jans', port });
      const countAtRestart = acknowledged.length;
      await eventually(
        'writes succeeding again within 2 s',
        async () => acknowledged.length,
        (count) => count > countAtRestart,
        2000,
      );
      expect(acknowledged.length, 'writes succeed again within 2 s').to.be.greaterThan(countAtRestart);
    } finally {
      running = false;
      await load;
      await writes.stop();
    }
    expect([...statuses].sort()).to.deep.equal([201, 503]);

    // The service answers reads from memory, so only the directory itself can show a lost write.
    const stored = await rawDefinitions(new SubstringFilter({ attribute: 'jansAttrName', initial: prefix }));
    for (const { inum, name, displayName } of acknowledged) {
      expect(stored.get(inum), `acknowledged ${name} (${inum}) is in the directory`).to.deep.equal({
        name,
        displayName,
        dataType: 'string',
      });
    }
  });

  it('answers writes with 503 within the operation timeout when the directory hangs, and recovers when it resumes', async () => {
    const impatient = await startTestApp(directory.slapd, { LDAP_OPERATION_TIMEOUT_MS: '300' });
    const token = impatient.adminToken;
    // Different definitions: changes to one definition take turns, and each would wait for the timeout.
    const patch = (inum: string) =>
      call(impatient, 'PATCH', `/attributes/${inum}`, {
        token,
        body: [{ op: 'add', path: '/tooltip', value: 'Tip' }],
      });
    try {
      const page = await call(impatient, 'GET', '/attributes?limit=20', { token });
      const inums: string[] = page.body.entries.map((e: { inum: string }) => e.inum);
      directory.slapd.process.kill('SIGSTOP');
      try {
        const started = Date.now();
        const replies = await Promise.all(inums.map(patch));
        expect(replies.map((r) => r.status)).to.deep.equal(replies.map(() => 503));
        expect(Date.now() - started, 'bounded by the operation timeout').to.be.below(3000);
        const read = await call(impatient, 'GET', '/attributes?pattern=edu', { token });
        expect(read.body.totalEntriesCount, 'reads still answered from memory').to.equal(14);
      } finally {
        directory.slapd.process.kill('SIGCONT');
      }
      expect((await patch('08E2')).status).to.equal(200);
    } finally {
      await impatient.stop();
    }
  });

  it('refuses at once what would wait beyond LDAP_MAX_PENDING operations while the directory hangs', async () => {
    const capped = await startTestApp(directory.slapd, {
      LDAP_MAX_PENDING: '4',
      LDAP_OPERATION_TIMEOUT_MS: '1500',
    });
    // An inum the index does not know is looked for in the directory: each such read waits for it.
    const unknown = (i: number) =>
      call(capped, 'GET', `/attributes/NOSUCH${i}`, { token: capped.adminToken });
    try {
      await call(capped, 'GET', '/attributes?limit=1', { token: capped.adminToken });
      directory.slapd.process.kill('SIGSTOP');
      try {
        const started = Date.now();
        const answered: number[] = [];
        const waiting = Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            unknown(i).then((reply) => {
              answered.push(Date.now() - started);
              return reply;
            }),
          ),
        );
        // The metrics show the operations that wait, at the cap, while they wait (up to the timeout).
        const pendingMeanwhile = await eventually(
          'the operations waiting at the cap',
          async () => (await fetch(`${capped.service.url}/metrics`)).text(),
          (metrics) => /^ldap_operations_pending 4$/m.test(metrics),
          1000,
        );
        const replies = await waiting;
        expect(replies.map((r) => r.status)).to.deep.equal(replies.map(() => 503));
        expect(replies.every((r) => r.headers.get('retry-after'))).to.equal(true);
        expect(pendingMeanwhile).to.match(/^ldap_operations_pending 4$/m);
        // Eight refused without waiting, four after the operation timeout.
        const atOnce = answered.filter((ms) => ms < 1000).length;
        expect(atOnce, `answered after ${answered.join(', ')} ms`).to.equal(8);
      } finally {
        directory.slapd.process.kill('SIGCONT');
      }
      expect((await unknown(0)).status).to.equal(404);
    } finally {
      await capped.stop();
    }
  });
});
