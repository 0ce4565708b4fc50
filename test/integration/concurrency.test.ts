import { expect } from 'chai';
import { Client, EqualityFilter, OrFilter } from 'ldapts';
import {
  activeWithClaim,
  call,
  rawEntry,
  uniqueName,
  type TestApp,
  JANSSEN_REQUIRED,
  useTestApp,
  eventually,
} from './harness.js';

describe('concurrent writers: ETags, conditional writes, no lost updates', () => {
  /** Two instances of the service on one directory, as in a scaled-out deployment. */
  const { app: a, directory, startApp } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });
  let b: TestApp;

  before(async () => {
    // No read cache: these tests read the final state through either instance right after the writes.
    b = await startApp({ SCHEMA_CHECK: 'false' });
  });

  /** Tokens of either instance's issuer only work on that instance. */
  const as = (app: TestApp) => ({ token: app.adminToken });

  async function create(
    fields: Record<string, unknown> = {},
  ): Promise<{ inum: string; dn: string; etag: string }> {
    const reply = await call(a, 'POST', '/attributes', {
      ...as(a),
      body: {
        name: uniqueName(),
        displayName: 'Shared',
        description: 'Written concurrently',
        dataType: 'string',
        editType: ['admin'],
        viewType: ['admin'],
        ...fields,
      },
    });
    expect(reply.status).to.equal(201);
    return { inum: reply.body.inum, dn: reply.body.dn, etag: reply.headers.get('etag') ?? '' };
  }

  /** The definitions slapd holds under this name in either spelling, read directly, by inum. */
  async function holdersOf(...spellings: string[]): Promise<Map<string, string>> {
    const client = new Client({ url: directory.slapd.url });
    try {
      await client.bind(directory.slapd.bindDn, directory.slapd.password);
      const { searchEntries } = await client.search('ou=attributes,o=jans', {
        scope: 'one',
        filter: new OrFilter({
          filters: spellings.map((value) => new EqualityFilter({ attribute: 'jansAttrName', value })),
        }),
        attributes: ['inum', 'jansAttrName'],
      });
      return new Map(searchEntries.map((e) => [String(e.inum), String(e.jansAttrName)]));
    } finally {
      await client.unbind();
    }
  }

  /**
   * What each instance lists under `name`, once both list `count` definitions (or 2 s passed): each learns
   * of the other's writes within a poll of the change log.
   */
  async function listedByBoth(name: string, count: number): Promise<number[]> {
    const totals: number[] = [];
    for (const app of [a, b]) {
      const listed = async () =>
        (await call(app, 'GET', `/attributes?fieldValuePair=name%3D${name}`, as(app))).body.totalEntriesCount;
      totals.push(
        await eventually(`${count} listed under ${name}`, listed, (total) => total === count, 2000),
      );
    }
    return totals;
  }

  it('tags every single-definition response and answers If-None-Match with 304', async () => {
    const { inum, etag } = await create();
    // The entry's entryCSN, quoted: a strong tag that changes with every change of the entry.
    expect(etag).to.match(/^"\d{14}\.\d{6}Z#[0-9a-f]{6}#[0-9a-f]{3}#[0-9a-f]{6}"$/);
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
    const [fromA] = await eventually(
      'the two instances agreeing',
      () => Promise.all([a, b].map((app) => call(app, 'GET', `/attributes/${inum}`, as(app)))),
      ([fromA, fromB]) => fromA?.headers.get('etag') === fromB?.headers.get('etag'),
      5000,
    );
    return fromA?.body;
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

  it('applies each of 100 concurrent PATCHes of one definition once, each to the result of another', async function () {
    this.timeout(60_000);
    // Janssen's model has no free-text list: roles alone would hide most lost updates. So each PATCH also
    // sets a description of its own and copies the one it replaces into tooltip. Its audit event then
    // names both its own value and the state it was applied to: without a lost update, the events form
    // one chain from the stored entry back to the created one, through all 100.
    const { inum, dn } = await create({ description: 'initial' });
    const roles = ['owner', 'manager', 'user', 'whitePages'];
    const own = (i: number) => `writer ${i}`;
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const app = i % 2 === 0 ? a : b;
        const list = i % 3 === 0 ? 'viewType' : 'editType';
        return call(app, 'PATCH', `/attributes/${inum}`, {
          ...as(app),
          body: [
            { op: 'copy', from: '/description', path: '/tooltip' },
            { op: 'replace', path: '/description', value: own(i) },
            { op: 'add', path: `/${list}/-`, value: roles[i % roles.length] },
          ],
        });
      }),
    );
    expect(replies.filter((r) => r.status !== 200).map((r) => [r.status, r.body])).to.deep.equal([]);

    const history = await call(a, 'GET', `/attributes/${inum}/history?limit=200`, as(a));
    const patches: { status: number; diff?: { path: string; value?: unknown }[] }[] =
      history.body.entries.filter((e: { operation: string }) => e.operation === 'patch-attributes-by-inum');
    expect(patches.map((e) => e.status)).to.deep.equal(replies.map(() => 200));
    /** Each PATCH's own description → the description it replaced. */
    const replaced = new Map<unknown, unknown>();
    for (const { diff = [] } of patches) {
      const value = (path: string) => diff.find((op) => op.path === path)?.value;
      expect(replaced.has(value('/description')), `${String(value('/description'))} applied once`).to.equal(
        false,
      );
      replaced.set(value('/description'), value('/tooltip'));
    }
    expect([...replaced.keys()], 'each event names its own value').to.have.members(
      replies.map((_, i) => own(i)),
    );
    expect(new Set(replaced.values()).size, 'no two PATCHes applied to the same state').to.equal(100);

    const stored = await rawEntry(directory.slapd, dn);
    const chain: unknown[] = [];
    for (let at: unknown = stored.description?.[0]; at !== 'initial' && chain.length <= 100;) {
      chain.push(at);
      at = replaced.get(at);
    }
    expect(chain, 'the stored entry is the end of one chain through every PATCH').to.have.members(
      replies.map((_, i) => own(i)),
    );
    expect(stored.jansTooltip).to.deep.equal([replaced.get(chain[0])]);
    expect(stored.jansAttrEditTyp).to.have.members(['admin', ...roles]);
    expect(stored.jansAttrViewTyp).to.have.members(['admin', ...roles]);
    const final = await converged(inum);
    expect(final.description, 'both instances serve what is stored').to.equal(chain[0]);
  });

  it('lets exactly one of a creation and a rename racing for a new name win, the other 409', async function () {
    this.timeout(60_000);
    // Through one instance and across two (the service's own check, then the directory's claim), each
    // request sent first half of the time.
    const pairs = [
      [a, a],
      [a, b],
      [b, a],
      [b, b],
    ] as const;
    const rounds = pairs.flatMap(([renamer, creator]) =>
      [true, false].map((postFirst) => ({ renamer, creator, postFirst })),
    );
    for (const { renamer, creator, postFirst } of rounds) {
      const { inum, dn } = await create();
      const current = (await call(renamer, 'GET', `/attributes/${inum}`, as(renamer))).body;
      const name = uniqueName('contested');
      const rename = () =>
        call(renamer, 'PUT', '/attributes', {
          ...as(renamer),
          body: { ...current, name, description: 'Renamed along' },
        });
      const creation = () =>
        call(creator, 'POST', '/attributes', {
          ...as(creator),
          body: {
            ...JANSSEN_REQUIRED,
            name: name.toUpperCase(),
            displayName: 'Contender',
            dataType: 'string',
          },
        });
      const first = postFirst ? creation() : rename();
      const second = postFirst ? rename() : creation();
      const [one, two] = await Promise.all([first, second]);
      const [put, post] = postFirst ? [two, one] : [one, two];
      const holders = await holdersOf(name, name.toUpperCase());
      if (put.status === 200) {
        expect(post.status, 'the creation loses to the rename').to.equal(409);
        expect([...holders.keys()]).to.deep.equal([inum]);
      } else {
        expect([put.status, post.status], 'the rename loses to the creation').to.deep.equal([409, 201]);
        expect([...holders.keys()]).to.deep.equal([post.body.inum]);
        const kept = await rawEntry(directory.slapd, dn);
        expect(kept.jansAttrName, 'no half-done rename').to.deep.equal([current.name]);
        expect(kept.description, 'nothing else of the refused PUT').to.deep.equal([current.description]);
      }
    }
  });

  it('stores exactly one of concurrent PUTs of one definition without If-Match, never a mix', async function () {
    this.timeout(60_000);
    const { inum, dn } = await create();
    const current = (await call(a, 'GET', `/attributes/${inum}`, as(a))).body;
    const roles = ['admin', 'owner', 'manager', 'user', 'whitePages'];
    // Every body differs from every other in each scalar field, so a mix of two shows.
    const bodies = Array.from({ length: 20 }, (_, i) => ({
      ...current,
      displayName: `Put ${i}`,
      description: `put number ${i}`,
      tooltip: `tip ${i}`,
      saml1Uri: `urn:put:${i}`,
      status: i % 2 === 0 ? 'active' : 'inactive',
      attributeValidation: { maxLength: 10 + i },
      editType: [roles[i % 5], roles[(i + 1) % 5]],
      viewType: [roles[(i + 2) % 5]],
    }));
    /** The fields the PUTs set, in a fixed key order (so equal views have equal JSON). */
    const view = (d: Record<string, unknown>) =>
      JSON.stringify({
        displayName: d.displayName,
        description: d.description,
        tooltip: d.tooltip,
        saml1Uri: d.saml1Uri,
        status: d.status,
        maxLength: (d.attributeValidation as { maxLength?: number } | undefined)?.maxLength,
        editType: [...((d.editType as string[] | undefined) ?? [])].sort(),
        viewType: [...((d.viewType as string[] | undefined) ?? [])].sort(),
      });
    const replies = await Promise.all(
      bodies.map((body, i) => {
        const app = i % 2 === 0 ? a : b;
        return call(app, 'PUT', '/attributes', { ...as(app), body });
      }),
    );
    expect(replies.map((r) => r.status)).to.deep.equal(bodies.map(() => 200));
    // Each answer is the entry as that PUT's write left it: the body, whole.
    replies.forEach((reply, i) => expect(view(reply.body), `PUT ${i}`).to.equal(view(bodies[i] ?? {})));

    const raw = await rawEntry(directory.slapd, dn);
    const one = (ldapName: string) => raw[ldapName]?.[0];
    const stored = view({
      displayName: one('displayName'),
      description: one('description'),
      tooltip: one('jansTooltip'),
      saml1Uri: one('jansSAML1URI'),
      status: one('jansStatus'),
      attributeValidation: JSON.parse(one('jansValidation') ?? '{}'),
      editType: raw.jansAttrEditTyp,
      viewType: raw.jansAttrViewTyp,
    });
    const matching = bodies.filter((body) => view(body) === stored);
    expect(matching, `the stored entry ${stored} is one of the bodies`).to.have.length(1);
    const final = await converged(inum);
    expect(view(final), 'both instances serve what is stored').to.equal(stored);
  });

  it('lets one of 50 concurrent creations of a name win, across instances', async () => {
    const name = uniqueName('race');
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const app = i % 2 === 0 ? a : b;
        return call(app, 'POST', '/attributes', {
          ...as(app),
          body: {
            ...JANSSEN_REQUIRED,
            name: i % 2 === 0 ? name : name.toUpperCase(),
            displayName: 'Race',
            dataType: 'string',
          },
        });
      }),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).to.have.length(1);
    expect(statuses.filter((s) => s === 409)).to.have.length(49);
    // Each instance lists the winner once it knows of it: at once when it wrote it, within a poll of the
    // change log when the other one did.
    expect(await listedByBoth(name, 1)).to.deep.equal([1, 1]);
  });

  it('lets one active definition of concurrent writers release a claim, across instances', async () => {
    const claim = uniqueName('claim').toLowerCase();
    const releasing = () => activeWithClaim(directory.slapd, claim);
    const creations = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const app = i % 2 === 0 ? a : b;
        return call(app, 'POST', '/attributes', {
          ...as(app),
          body: {
            ...JANSSEN_REQUIRED,
            name: uniqueName('c'),
            displayName: 'Claim race',
            dataType: 'string',
            status: 'active',
            claimName: claim,
          },
        });
      }),
    );
    const created = creations.filter((r) => r.status === 201);
    expect(created).to.have.length(1);
    expect(creations.filter((r) => r.status === 409)).to.have.length(19);
    expect(await releasing()).to.deep.equal([created[0]?.body.inum]);

    // Inactive definitions with the claim, switched on at once through both instances: one wins.
    const dormant = await Promise.all(
      Array.from({ length: 10 }, () => create({ status: 'inactive', claimName: claim.toUpperCase() })),
    );
    const winner = created[0]?.body.inum as string;
    expect((await call(a, 'DELETE', `/attributes/${winner}`, as(a))).status).to.equal(204);
    // Each instance checks the claim against what it knows first; let both learn of the delete.
    for (const app of [a, b]) {
      await eventually(
        'the delete known',
        async () => (await call(app, 'GET', `/attributes/${winner}`, as(app))).status,
        (status) => status === 404,
        2000,
      );
    }
    const activations = await Promise.all(
      dormant.map(({ inum }, i) => {
        const app = i % 2 === 0 ? a : b;
        return call(app, 'PATCH', `/attributes/${inum}`, {
          ...as(app),
          body: [{ op: 'replace', path: '/status', value: 'active' }],
        });
      }),
    );
    expect(activations.filter((r) => r.status === 200)).to.have.length(1);
    expect(activations.filter((r) => r.status === 409)).to.have.length(9);
    expect(await releasing()).to.have.length(1);
  });

  it('frees the name of a deleted or renamed definition for one new holder, across instances', async () => {
    const race = async (name: string) => {
      // Each instance checks the name against what it knows first; let both learn of the last change.
      expect(await listedByBoth(name, 0)).to.deep.equal([0, 0]);
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) => {
          const app = i % 2 === 0 ? a : b;
          return call(app, 'POST', '/attributes', {
            ...as(app),
            body: { ...JANSSEN_REQUIRED, name, displayName: 'Again', dataType: 'string' },
          });
        }),
      );
      const won = replies.filter((r) => r.status === 201);
      expect(won, name).to.have.length(1);
      expect(replies.filter((r) => r.status === 409)).to.have.length(9);
      return won[0]?.body as { inum: string; dn: string };
    };
    const name = uniqueName('again');
    const first = await race(name);
    const deleted = await call(b, 'DELETE', `/attributes/${first.inum}`, as(b));
    expect(deleted.status).to.equal(204);
    const second = await race(name);
    expect([...(await holdersOf(name)).keys()]).to.deep.equal([second.inum]);

    const renamed = await call(a, 'PATCH', `/attributes/${second.inum}`, {
      ...as(a),
      body: [{ op: 'replace', path: '/name', value: uniqueName('elsewhere') }],
    });
    expect(renamed.status).to.equal(200);
    const third = await race(name);
    expect([...(await holdersOf(name)).keys()]).to.deep.equal([third.inum]);
    // The definition that gave the name up cannot take it back from its new holder.
    const back = await call(a, 'PATCH', `/attributes/${second.inum}`, {
      ...as(a),
      body: [{ op: 'replace', path: '/name', value: name }],
    });
    expect(back.status).to.equal(409);
  });

  it('lets a definition taking back a name it gave up race like any other writer', async () => {
    for (let round = 0; round < 5; round++) {
      const name = uniqueName('back');
      const { inum } = await create({ name });
      const away = await call(a, 'PATCH', `/attributes/${inum}`, {
        ...as(a),
        body: [{ op: 'replace', path: '/name', value: uniqueName('away') }],
      });
      expect(away.status).to.equal(200);
      expect(await listedByBoth(name, 0)).to.deep.equal([0, 0]);
      const replies = await Promise.all([
        call(b, 'PATCH', `/attributes/${inum}`, {
          ...as(b),
          body: [{ op: 'replace', path: '/name', value: name }],
        }),
        ...Array.from({ length: 9 }, (_, i) => {
          const app = i % 2 === 0 ? a : b;
          return call(app, 'POST', '/attributes', {
            ...as(app),
            body: { ...JANSSEN_REQUIRED, name, displayName: 'Contender', dataType: 'string' },
          });
        }),
      ]);
      const statuses = replies.map((r) => r.status);
      expect(
        statuses.filter((s) => s === 200 || s === 201),
        String(statuses),
      ).to.have.length(1);
      expect(statuses.filter((s) => s === 409)).to.have.length(9);
      expect((await holdersOf(name)).size, 'definitions holding the name').to.equal(1);
    }
  });
});
