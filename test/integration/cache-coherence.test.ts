import { expect } from 'chai';
import { Attribute, Change, Client } from 'ldapts';
import {
  call,
  startTestApp,
  uniqueName,
  type TestApp,
  JANSSEN_REQUIRED,
  useTestApp,
  eventually,
} from './harness.js';

/** The promise of the in-memory index: changes made elsewhere show within 1 s, changes made here at once. */
const WITHIN_MS = 1000;

describe('reads from the in-memory index that stay coherent with the directory', () => {
  const { app, directory, startApp, cleanup } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });
  let other: TestApp;
  let client: Client;

  before(async () => {
    other = await startApp();
    client = new Client({ url: directory.slapd.url });
    cleanup(() => client.unbind());
    await client.bind(directory.slapd.bindDn, directory.slapd.password);
  });

  const get = (inum: string) => call(app, 'GET', `/attributes/${inum}`, { token: app.adminToken });
  const displayName = async (inum: string) => (await get(inum)).body?.displayName as string | undefined;
  const list = (query: string) => call(app, 'GET', `/attributes?${query}`, { token: app.adminToken });

  /** Polls until `shows()` holds, and says how long that took. */
  async function staleness(shows: () => Promise<boolean>): Promise<number> {
    const started = performance.now();
    await eventually('the change showing', shows, Boolean, 5000);
    return performance.now() - started;
  }

  const rename = (dn: string, value: string) =>
    client.modify(
      dn,
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'displayName', values: [value] }),
      }),
    );

  it('shows a change made behind its back (ldapmodify) within 1 s', async () => {
    expect(await displayName('6EEB')).to.equal('City');
    await rename('inum=6EEB,ou=attributes,o=jans', 'Town');
    expect(await staleness(async () => (await displayName('6EEB')) === 'Town')).to.be.below(WITHIN_MS);
  });

  it('shows a definition added and then deleted behind its back within 1 s each, in lists too', async () => {
    const name = uniqueName('oob');
    const dn = `inum=OOB1,ou=attributes,o=jans`;
    await client.add(dn, {
      objectClass: ['top', 'jansAttr'],
      inum: 'OOB1',
      jansAttrName: name,
      displayName: 'Out of band',
      description: 'Added over LDAP',
      jansAttrTyp: 'string',
      jansAttrEditTyp: 'admin',
      jansAttrViewTyp: 'admin',
      jansStatus: 'active',
    });
    const added = await staleness(async () => (await get('OOB1')).status === 200);
    expect(added).to.be.below(WITHIN_MS);
    expect((await list(`pattern=${name}`)).body.totalEntriesCount).to.equal(1);
    await client.del(dn);
    expect(await staleness(async () => (await get('OOB1')).status === 404)).to.be.below(WITHIN_MS);
    expect((await list(`pattern=${name}`)).body.totalEntriesCount).to.equal(0);
  });

  it('catches up with a burst made behind its back: more definitions than one re-read takes, changed and deleted', async () => {
    const prefix = uniqueName('burst');
    const count = 250;
    const inums = Array.from({ length: count }, (_, i) => `BURST${String(i).padStart(3, '0')}`);
    const dnOf = (inum: string) => `inum=${inum},ou=attributes,o=jans`;
    for (const [i, inum] of inums.entries()) {
      await client.add(dnOf(inum), {
        objectClass: ['top', 'jansAttr'],
        inum,
        jansAttrName: `${prefix}${i}`,
        displayName: 'Before',
        description: 'Added over LDAP',
        jansAttrTyp: 'string',
        jansAttrEditTyp: 'admin',
        jansAttrViewTyp: 'admin',
        jansStatus: 'active',
      });
    }
    await staleness(async () => (await list(`pattern=${prefix}&limit=0`)).body.totalEntriesCount === count);
    // Every other one changed, the rest deleted; the log names them with the inum in lower case too.
    await Promise.all(
      inums.map((inum, i) =>
        i % 2 === 0 ? rename(dnOf(inum.toLowerCase()), 'After') : client.del(dnOf(inum)),
      ),
    );
    await staleness(async () => {
      const { body } = await list(`pattern=${prefix}&limit=200`);
      const names = (body.entries ?? []) as { displayName: string }[];
      return body.totalEntriesCount === count / 2 && names.every((e) => e.displayName === 'After');
    });
    expect(await displayName(inums[0] as string)).to.equal('After');
    expect((await get(inums[1] as string)).status).to.equal(404);
  });

  it('shows a change made through another instance within 1 s, and one made through itself at once', async () => {
    expect(await displayName('2A3D')).to.not.equal('Postcode');
    await call(other, 'PATCH', '/attributes/2A3D', {
      token: other.adminToken,
      body: [{ op: 'replace', path: '/displayName', value: 'Postcode' }],
    });
    expect(await staleness(async () => (await displayName('2A3D')) === 'Postcode')).to.be.below(WITHIN_MS);
    await call(app, 'PATCH', '/attributes/2A3D', {
      token: app.adminToken,
      body: [{ op: 'replace', path: '/displayName', value: 'Zip code' }],
    });
    expect(await displayName('2A3D')).to.equal('Zip code');
    const sorted = await list('sortBy=displayName&sortOrder=descending&limit=200');
    expect(sorted.body.entries.map((e: { inum: string }) => e.inum)).to.include('2A3D');
  });

  it('shows its own creations and deletions at once, in lists and by inum', async () => {
    const name = uniqueName('own');
    const created = await call(app, 'POST', '/attributes', {
      token: app.adminToken,
      body: { ...JANSSEN_REQUIRED, name, displayName: 'Own', dataType: 'string' },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect((await get(created.body.inum)).headers.get('etag')).to.equal(created.headers.get('etag'));
    expect((await list(`pattern=${name}`)).body.totalEntriesCount).to.equal(1);
    await call(app, 'DELETE', `/attributes/${created.body.inum}`, { token: app.adminToken });
    expect((await get(created.body.inum)).status).to.equal(404);
    expect((await list(`pattern=${name}`)).body.totalEntriesCount).to.equal(0);
  });

  it('writes over the directory state, never over its copy in memory', async () => {
    expect(await displayName('E6B8')).to.be.a('string');
    const elsewhere = await call(other, 'PATCH', '/attributes/E6B8', {
      token: other.adminToken,
      body: [{ op: 'add', path: '/tooltip', value: 'set elsewhere' }],
    });
    expect(elsewhere.status).to.equal(200);
    const reply = await call(app, 'PATCH', '/attributes/E6B8', {
      token: app.adminToken,
      body: [{ op: 'replace', path: '/displayName', value: 'Region' }],
    });
    expect(reply.status).to.equal(200);
    expect(reply.body).to.include({ displayName: 'Region', tooltip: 'set elsewhere' });
  });

  it('without a change log, still shows a change made behind its back within 1 s (contextCSN)', async () => {
    const blind = await startTestApp(directory.slapd, { LDAP_CHANGELOG_DN: '' });
    try {
      const read = async () =>
        (await call(blind, 'GET', '/attributes/64A0', { token: blind.adminToken })).body.displayName;
      expect(await read()).to.be.a('string');
      await rename('inum=64A0,ou=attributes,o=jans', 'Changed without a log');
      expect(await staleness(async () => (await read()) === 'Changed without a log')).to.be.below(WITHIN_MS);
    } finally {
      await blind.stop();
    }
  });

  it('answers If-Match with a tag from another instance that its own copy has not caught up with', async () => {
    const changed = await call(other, 'PATCH', '/attributes/0C18', {
      token: other.adminToken,
      body: [{ op: 'add', path: '/tooltip', value: 'newer' }],
    });
    const reply = await call(app, 'PATCH', '/attributes/0C18', {
      token: app.adminToken,
      headers: { 'if-match': changed.headers.get('etag') ?? '' },
      body: [{ op: 'replace', path: '/tooltip', value: 'newest' }],
    });
    expect(reply.status).to.equal(200);
  });

  const entryCsn = async (dn: string) =>
    String((await client.search(dn, { scope: 'base', attributes: ['entryCSN'] })).searchEntries[0]?.entryCSN);

  it('writes nothing for a PUT of what the directory already holds, and keeps the entity tag', async () => {
    const before = await get('29DA');
    const csn = await entryCsn('inum=29DA,ou=attributes,o=jans');
    const reply = await call(app, 'PUT', '/attributes', { token: app.adminToken, body: before.body });
    expect(reply.status).to.equal(200);
    expect(reply.headers.get('etag')).to.equal(before.headers.get('etag'));
    expect(await entryCsn('inum=29DA,ou=attributes,o=jans')).to.equal(csn);
  });

  it('still writes a PUT that equals only its own stale copy, not what the directory holds', async () => {
    // An instance that would not notice the change behind its back for a minute.
    const slow = await startTestApp(directory.slapd, { INDEX_POLL_MS: '60000' });
    try {
      const dn = 'inum=B4B0,ou=attributes,o=jans';
      const stale = await call(slow, 'GET', '/attributes/B4B0', { token: slow.adminToken });
      await rename(dn, 'Changed behind its back');
      const reply = await call(slow, 'PUT', '/attributes', { token: slow.adminToken, body: stale.body });
      expect(reply.status).to.equal(200);
      expect(reply.body.displayName).to.equal(stale.body.displayName);
      const held = await client.search(dn, { scope: 'base', attributes: ['displayName'] });
      expect(held.searchEntries[0]?.displayName).to.equal(stale.body.displayName);
    } finally {
      await slow.stop();
    }
  });
});
