import { expect } from 'chai';
import {
  SCOPE,
  activeWithClaim,
  call,
  uniqueName,
  type Reply,
  JANSSEN_REQUIRED,
  useTestApp,
} from './harness.js';

describe('claim consistency and the claim mapping', () => {
  const { app, directory } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });

  const post = (body: Record<string, unknown>) =>
    call(app, 'POST', '/attributes', {
      token: app.adminToken,
      body: { ...JANSSEN_REQUIRED, name: uniqueName(), displayName: 'Claimed', dataType: 'string', ...body },
    });
  const remove = (inum: string) => call(app, 'DELETE', `/attributes/${inum}`, { token: app.adminToken });

  const holders = (claimName: string) => activeWithClaim(directory.slapd, claimName);

  /** Exactly one reply won (`won`), the others are 409s naming the winner's inum; answers that inum. */
  const oneWinner = async (replies: Reply[], claimName: string, won: number[]): Promise<string> => {
    const winners = replies.filter((r) => won.includes(r.status));
    expect(
      winners.map((r) => r.status),
      JSON.stringify(replies.map((r) => r.status)),
    ).to.have.length(1);
    const inum: string = winners[0]?.body.inum;
    for (const reply of replies.filter((r) => !won.includes(r.status))) {
      expect(reply.status).to.equal(409);
      expect(reply.body.description).to.contain(inum);
    }
    expect(await holders(claimName)).to.deep.equal([inum]);
    return inum;
  };

  it('serves, sorted by claim name, the active definitions with their LDAP attribute', async () => {
    const { status, body } = await call(app, 'GET', '/attributes/claims', {
      token: app.issuer.token([SCOPE.read]),
    });
    expect(status).to.equal(200);
    expect(body).to.have.length(37);
    const names = body.map((c: { claimName: string }) => c.claimName.toLowerCase());
    expect(names).to.deep.equal([...names].sort());
    expect(body.find((c: { claimName: string }) => c.claimName === 'email')).to.deep.equal({
      claimName: 'email',
      attribute: 'mail',
      inum: 'CAE3',
      dataType: 'string',
      multiValued: false,
      hideOnDiscovery: false,
    });
    expect(body.find((c: { claimName: string }) => c.claimName === 'role').multiValued).to.equal(true);
    const inactive = body.some((c: { claimName: string }) => c.claimName === 'department_number');
    expect(inactive, 'inactive ones are out').to.equal(false);
  });

  it('refuses a second active definition of a claim with 409 naming the other inum', async () => {
    const clash = await post({ claimName: 'email', status: 'active' });
    expect(clash.status).to.equal(409);
    expect(clash.body.description).to.contain('CAE3');
    const inactive = await post({ claimName: 'email', status: 'inactive' });
    expect(inactive.status, 'an inactive definition may share it').to.equal(201);
    const activate = await call(app, 'PATCH', `/attributes/${inactive.body.inum}`, {
      token: app.adminToken,
      body: [{ op: 'replace', path: '/status', value: 'active' }],
    });
    expect(activate.status).to.equal(409);
    await call(app, 'DELETE', `/attributes/${inactive.body.inum}`, { token: app.adminToken });
  });

  it('lets exactly one of 20 concurrent POSTs take an active claim, the others 409 naming it', async () => {
    const claimName = uniqueName('race');
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => post({ claimName, status: 'active' })),
    );
    const winner = await oneWinner(replies, claimName, [201]);
    await remove(winner);
  });

  it('lets exactly one of concurrent activations, a claim rename and a POST take a claim', async () => {
    const claimName = uniqueName('race');
    const inactive = await Promise.all(
      Array.from({ length: 5 }, () => post({ claimName, status: 'inactive' })),
    );
    const other = await post({ claimName: uniqueName('other'), status: 'active' });
    const created = [...inactive, other].map((r) => r.body.inum as string);
    expect([...inactive, other].map((r) => r.status)).to.deep.equal([201, 201, 201, 201, 201, 201]);
    const patch = (inum: string, path: string, value: string) =>
      call(app, 'PATCH', `/attributes/${inum}`, {
        token: app.adminToken,
        body: [{ op: 'replace', path, value }],
      });
    const replies = await Promise.all([
      ...created.slice(0, 5).map((inum) => patch(inum, '/status', 'active')),
      patch(other.body.inum, '/claimName', claimName),
      post({ claimName, status: 'active' }),
    ]);
    await oneWinner(replies, claimName, [200, 201]);
    const posted = replies[6];
    if (posted?.status === 201) created.push(posted.body.inum);
    for (const inum of created) await remove(inum);
  });

  it('answers 403 to a token without an attribute read scope', async () => {
    const reply = await call(app, 'GET', '/attributes/claims', {
      token: app.issuer.token(['https://jans.io/oauth/config/scopes.readonly']),
    });
    expect(reply.status).to.equal(403);
    expect(reply.headers.get('www-authenticate')).to.contain('error="insufficient_scope"');
  });

  it('refuses a claim name that is not one', async () => {
    for (const claimName of ['has space', '1starts_with_digit', 'quote"d', 'x'.repeat(129)]) {
      const reply = await post({ claimName, status: 'active' });
      expect(reply.status, claimName).to.equal(400);
      expect(reply.body.message).to.contain('claimName');
    }
  });
});
