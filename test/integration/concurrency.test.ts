import { expect } from 'chai';
import { call, startTestApp, startTestDirectory, uniqueName, type TestApp } from './harness.js';

describe('concurrent writers: ETags, conditional writes, no lost updates', () => {
  let directory: Awaited<ReturnType<typeof startTestDirectory>>;
  /** Two instances of the service on one directory, as in a scaled-out deployment. */
  let a: TestApp;
  let b: TestApp;

  before(async () => {
    directory = await startTestDirectory();
    // No read cache: these tests read the final state through either instance right after the writes.
    a = await startTestApp(directory.slapd, { SCHEMA_CHECK: 'false' });
    b = await startTestApp(directory.slapd, { SCHEMA_CHECK: 'false' });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await directory?.stop();
  });

  /** Tokens of either instance's issuer only work on that instance. */
  const as = (app: TestApp) => ({ token: app.adminToken });

  async function create(): Promise<{ inum: string; etag: string }> {
    const reply = await call(a, 'POST', '/attributes', {
      ...as(a),
      body: {
        name: uniqueName(),
        displayName: 'Shared',
        dataType: 'string',
        editType: ['admin'],
        viewType: ['admin'],
      },
    });
    expect(reply.status).to.equal(201);
    return { inum: reply.body.inum, etag: reply.headers.get('etag') ?? '' };
  }

  it('tags every single-definition response and answers If-None-Match with 304', async () => {
    const { inum, etag } = await create();
    expect(etag).to.match(/^"[A-Za-z0-9_-]{27}"$/);
    const got = await call(a, 'GET', `/attributes/${inum}`, as(a));
    expect(got.headers.get('etag')).to.equal(etag);
    expect(
      (await call(b, 'GET', `/attributes/${inum}`, as(b))).headers.get('etag'),
      'same tag on every instance',
    ).to.equal(etag);
    const cached = await call(a, 'GET', `/attributes/${inum}`, {
      ...as(a),
      headers: { 'if-none-match': etag },
    });
    expect(cached.status).to.equal(304);
    const patched = await call(a, 'PATCH', `/attributes/${inum}`, {
      ...as(a),
      body: [{ op: 'replace', path: '/displayName', value: 'Changed' }],
    });
    expect(patched.headers.get('etag')).to.not.equal(etag);
    const stale = await call(a, 'GET', `/attributes/${inum}`, {
      ...as(a),
      headers: { 'if-none-match': etag },
    });
    expect(stale.status).to.equal(200);
  });

  it('applies PUT, PATCH and DELETE with If-Match only while the tag is current (412 otherwise)', async () => {
    const { inum, etag } = await create();
    const current = (await call(a, 'GET', `/attributes/${inum}`, as(a))).body;
    const first = await call(a, 'PUT', '/attributes', {
      ...as(a),
      headers: { 'if-match': etag },
      body: { ...current, displayName: 'First' },
    });
    expect(first.status).to.equal(200);
    const newTag = first.headers.get('etag');

    for (const [method, path, body] of [
      ['PUT', '/attributes', { ...current, displayName: 'Lost' }],
      ['PATCH', `/attributes/${inum}`, [{ op: 'replace', path: '/displayName', value: 'Lost' }]],
      ['DELETE', `/attributes/${inum}`, undefined],
    ] as const) {
      const reply = await call(b, method, path, { ...as(b), headers: { 'if-match': etag }, body });
      expect(reply.status, method).to.equal(412);
      expect(reply.headers.get('etag'), method).to.equal(newTag);
    }
    expect((await call(a, 'GET', `/attributes/${inum}`, as(a))).body.displayName).to.equal('First');
    expect(
      (await call(b, 'DELETE', `/attributes/${inum}`, { ...as(b), headers: { 'if-match': '*' } })).status,
    ).to.equal(204);
  });

  it('lets exactly one of two writers holding the same ETag win', async () => {
    const { inum, etag } = await create();
    const replies = await Promise.all(
      [a, b].map((app, i) =>
        call(app, 'PATCH', `/attributes/${inum}`, {
          ...as(app),
          headers: { 'if-match': etag },
          body: [{ op: 'replace', path: '/displayName', value: `Writer ${i}` }],
        }),
      ),
    );
    expect(replies.map((r) => r.status).sort()).to.deep.equal([200, 412]);
  });

  /**
   * The definition once both instances serve the same state: each shows its own writes at once and the
   * other's within a poll of the directory.
   */
  async function converged(inum: string) {
    for (const started = Date.now(); Date.now() - started < 5000;) {
      const [fromA, fromB] = await Promise.all(
        [a, b].map((app) => call(app, 'GET', `/attributes/${inum}`, as(app))),
      );
      if (fromA?.headers.get('etag') === fromB?.headers.get('etag')) return fromA?.body;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the two instances never agreed');
  }

  it('loses no update when concurrent PATCHes through two instances change one definition', async () => {
    const { inum } = await create();
    const changes: [string, unknown][] = [
      ['/description', 'described'],
      ['/claimName', 'shared_claim'],
      ['/origin', 'jansCustomPerson'],
      ['/saml1Uri', 'urn:one'],
      ['/saml2Uri', 'urn:two'],
      ['/sourceAttribute', 'source'],
      ['/nameIdType', 'persistent'],
      ['/tooltip', 'tip'],
      ['/status', 'inactive'],
      ['/scimCustomAttr', true],
      ['/jansHideOnDiscovery', true],
      ['/required', true],
      ['/attributeValidation', { maxLength: 9 }],
      ['/viewType', ['user']],
      ['/usageType', ['openid']],
      ['/urn', 'urn:set:once'],
    ];
    const replies = await Promise.all(
      changes.map(([path, value], i) => {
        const app = i % 2 === 0 ? a : b;
        return call(app, 'PATCH', `/attributes/${inum}`, { ...as(app), body: [{ op: 'add', path, value }] });
      }),
    );
    expect(replies.map((r) => r.status)).to.deep.equal(changes.map(() => 200));
    const final = await converged(inum);
    for (const [path, value] of changes) expect(final[path.slice(1)], path).to.deep.equal(value);
  });

  it('adds 100 concurrent editType/viewType changes without losing one', async () => {
    // Janssen's model has no free-text list, so the 100 writers share a few values: each adds one role to
    // one list and the end state must hold every role each writer added.
    const { inum } = await create();
    const roles = ['owner', 'manager', 'user', 'whitePages'];
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const app = i % 2 === 0 ? a : b;
        const list = i % 3 === 0 ? 'viewType' : 'editType';
        return call(app, 'PATCH', `/attributes/${inum}`, {
          ...as(app),
          body: [{ op: 'add', path: `/${list}/-`, value: roles[i % roles.length] }],
        });
      }),
    );
    expect(replies.filter((r) => r.status !== 200).map((r) => [r.status, r.body])).to.deep.equal([]);
    const final = await converged(inum);
    expect(final.editType).to.have.members(['admin', ...roles]);
    expect(final.viewType).to.have.members(['admin', ...roles]);
  });

  it('lets one of 50 concurrent creations of a name win, across instances', async () => {
    const name = uniqueName('race');
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const app = i % 2 === 0 ? a : b;
        return call(app, 'POST', '/attributes', {
          ...as(app),
          body: { name: i % 2 === 0 ? name : name.toUpperCase(), displayName: 'Race', dataType: 'string' },
        });
      }),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).to.have.length(1);
    expect(statuses.filter((s) => s === 409)).to.have.length(49);
    // Each instance lists the winner once it knows of it: at once when it wrote it, within a poll of the
    // change log when the other one did.
    for (const app of [a, b]) {
      let total = 0;
      for (const started = Date.now(); total === 0 && Date.now() - started < 2000;) {
        const found = await call(app, 'GET', `/attributes?fieldValuePair=name%3D${name}`, as(app));
        total = found.body.totalEntriesCount;
        if (total === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(total).to.equal(1);
    }
  });
});
