import { expect } from 'chai';
import { SCOPE, call, startTestApp, startTestDirectory, uniqueName, type TestApp } from './harness.js';

describe('claim consistency and the claim mapping', () => {
  let directory: Awaited<ReturnType<typeof startTestDirectory>>;
  let app: TestApp;

  before(async () => {
    directory = await startTestDirectory();
    app = await startTestApp(directory.slapd, { SCHEMA_CHECK: 'false' });
  });
  after(async () => {
    await app?.stop();
    await directory?.stop();
  });

  const post = (body: Record<string, unknown>) =>
    call(app, 'POST', '/attributes', {
      token: app.adminToken,
      body: { name: uniqueName(), displayName: 'Claimed', dataType: 'string', ...body },
    });

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

  it('refuses a claim name that is not one', async () => {
    for (const claimName of ['has space', '1starts_with_digit', 'quote"d', 'x'.repeat(129)]) {
      const reply = await post({ claimName, status: 'active' });
      expect(reply.status, claimName).to.equal(400);
      expect(reply.body.message).to.contain('claimName');
    }
  });
});
