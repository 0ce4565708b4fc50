import { expect } from 'chai';
import { Attribute, Change, Client } from 'ldapts';
import { call, startTestApp, startTestDirectory, type TestApp } from './harness.js';

describe('reads from memory that stay coherent (CACHE_MAX_AGE_MS, default 1 s)', () => {
  let directory: Awaited<ReturnType<typeof startTestDirectory>>;
  let app: TestApp;
  let other: TestApp;

  before(async () => {
    directory = await startTestDirectory();
    app = await startTestApp(directory.slapd);
    other = await startTestApp(directory.slapd);
  });
  after(async () => {
    await app?.stop();
    await other?.stop();
    await directory?.stop();
  });

  const displayName = async (inum: string) =>
    (await call(app, 'GET', `/attributes/${inum}`, { token: app.adminToken })).body.displayName as string;

  /** Polls until the API shows `expected`, and says how long that took. */
  async function staleness(inum: string, expected: string): Promise<number> {
    const started = performance.now();
    while ((await displayName(inum)) !== expected) {
      if (performance.now() - started > 5000) throw new Error('the change never showed');
      await new Promise((r) => setTimeout(r, 10));
    }
    return performance.now() - started;
  }

  it('shows a change made behind its back (ldapmodify) within 1 s', async () => {
    expect(await displayName('6EEB')).to.equal('City');
    const client = new Client({ url: directory.slapd.url });
    await client.bind(directory.slapd.bindDn, directory.slapd.password);
    await client.modify(
      'inum=6EEB,ou=attributes,o=jans',
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'displayName', values: ['Town'] }),
      }),
    );
    await client.unbind();
    const ms = await staleness('6EEB', 'Town');
    expect(ms).to.be.below(1100);
  });

  it('shows a change made through another instance within 1 s, and one made through itself at once', async () => {
    expect(await displayName('2A3D')).to.not.equal('Postcode');
    await call(other, 'PATCH', '/attributes/2A3D', {
      token: other.adminToken,
      body: [{ op: 'replace', path: '/displayName', value: 'Postcode' }],
    });
    expect(await staleness('2A3D', 'Postcode')).to.be.below(1100);
    await call(app, 'PATCH', '/attributes/2A3D', {
      token: app.adminToken,
      body: [{ op: 'replace', path: '/displayName', value: 'Zip code' }],
    });
    expect(await displayName('2A3D')).to.equal('Zip code');
  });

  it('writes over the directory state, never over the cached copy', async () => {
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
});
