import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { Client } from 'ldapts';
import { STANDARD_LDIF, readLdifFiles, seed } from '../../src/directory/seed.js';
import { freePort, startSlapd, type RunningSlapd } from '../../src/directory/slapd.js';
import { adminDirectory, call, startTestApp, tempDir, type TestApp, JANSSEN_REQUIRED } from './harness.js';

/** Polls until `check` holds: replication has no event a client could wait on. */
async function eventually<T>(
  what: string,
  read: () => Promise<T>,
  check: (v: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('two directory providers replicating each other, one service instance on each', () => {
  const providers: RunningSlapd[] = [];
  const dirs: string[] = [];
  let a: TestApp;
  let b: TestApp;

  before(async () => {
    const ports = [await freePort(), await freePort()];
    const urls = ports.map((p) => `ldap://127.0.0.1:${p}`);
    for (const [i, port] of ports.entries()) {
      const dataDir = await tempDir(`provider-${i}`);
      dirs.push(dataDir);
      providers.push(
        await startSlapd({
          dataDir,
          suffix: 'o=jans',
          port,
          password: 'shared-test-secret',
          replication: { serverId: i + 1, peers: urls.filter((_, j) => j !== i) },
        }),
      );
    }
    const [first, second] = providers as [RunningSlapd, RunningSlapd];
    const directory = adminDirectory(first);
    await seed(directory, await readLdifFiles(STANDARD_LDIF));
    await directory.close();
    a = await startTestApp(first, { SCHEMA_CHECK: 'false' });
    b = await startTestApp(second, { SCHEMA_CHECK: 'false' });
    const reader = new Client({ url: second.url });
    await reader.bind(second.bindDn, second.password);
    await eventually(
      'the seed reaching the second provider',
      async () =>
        (
          await reader
            .search('ou=attributes,o=jans', { scope: 'one', attributes: ['1.1'] })
            .catch(() => ({ searchEntries: [] }))
        ).searchEntries.length,
      (n) => n === 71,
    );
    await reader.unbind();
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    for (const p of providers) await p.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('shows a write made through one instance on the other within a bounded time', async () => {
    const started = Date.now();
    const created = await call(a, 'POST', '/attributes', {
      token: a.adminToken,
      body: { ...JANSSEN_REQUIRED, name: 'replicated_one', displayName: 'Replicated', dataType: 'string' },
    });
    expect(created.status).to.equal(201);
    const seen = await eventually(
      'the new definition on instance B',
      () => call(b, 'GET', `/attributes/${created.body.inum}`, { token: b.adminToken }),
      (r) => r.status === 200,
      5000,
    );
    expect(seen.body.name).to.equal('replicated_one');
    expect(seen.headers.get('etag'), 'the same state has the same ETag on both').to.equal(
      created.headers.get('etag'),
    );
    expect(Date.now() - started).to.be.below(5000);
  });

  it('carries the name claim and the audit record, kept in databases of their own, to the other provider', async () => {
    const created = await call(a, 'POST', '/attributes', {
      token: a.adminToken,
      body: { ...JANSSEN_REQUIRED, name: 'replicated_three', displayName: 'Claimed', dataType: 'string' },
    });
    expect(created.status).to.equal(201);
    const second = providers[1] as RunningSlapd;
    const reader = new Client({ url: second.url });
    await reader.bind(second.bindDn, second.password);
    try {
      const found = (base: string, filter: string) => async () =>
        (
          await reader
            .search(base, { scope: 'one', filter, attributes: ['seeAlso'] })
            .catch(() => ({ searchEntries: [] }))
        ).searchEntries;
      const claim = await eventually(
        'the claim on the second provider',
        found('ou=attributeNames,o=jans', '(cn=replicated_three)'),
        (entries) => entries.length === 1,
      );
      expect(String(claim[0]?.seeAlso)).to.match(new RegExp(`^inum=${created.body.inum},`, 'i'));
      await eventually(
        'the audit record on the second provider',
        found('ou=audit,o=jans', `(registryAuditTarget=${created.body.inum})`),
        (entries) => entries.length === 1,
      );
    } finally {
      await reader.unbind();
    }
    const again = await call(b, 'POST', '/attributes', {
      token: b.adminToken,
      body: { ...JANSSEN_REQUIRED, name: 'replicated_three', displayName: 'Twice', dataType: 'string' },
    });
    expect(again.status, 'the name is taken on the other instance too').to.equal(409);
  });

  it('refuses, through the other instance, a change based on a state that has been replaced', async () => {
    const created = await call(a, 'POST', '/attributes', {
      token: a.adminToken,
      body: { ...JANSSEN_REQUIRED, name: 'replicated_two', displayName: 'Before', dataType: 'string' },
    });
    const path = `/attributes/${created.body.inum}`;
    const stale = created.headers.get('etag') ?? '';
    await eventually(
      'the definition on B',
      () => call(b, 'GET', path, { token: b.adminToken }),
      (r) => r.status === 200,
    );
    const changed = await call(a, 'PATCH', path, {
      token: a.adminToken,
      body: [{ op: 'replace', path: '/displayName', value: 'Changed on A' }],
    });
    const fresh = changed.headers.get('etag');
    await eventually(
      'the change reaching B',
      () => call(b, 'GET', path, { token: b.adminToken }),
      (r) => r.headers.get('etag') === fresh,
    );
    const lost = await call(b, 'PATCH', path, {
      token: b.adminToken,
      headers: { 'if-match': stale },
      body: [{ op: 'replace', path: '/displayName', value: 'Would overwrite' }],
    });
    expect(lost.status).to.equal(412);
    expect(lost.headers.get('etag')).to.equal(fresh);
    expect((await call(a, 'GET', path, { token: a.adminToken })).body.displayName).to.equal('Changed on A');
  });
});
