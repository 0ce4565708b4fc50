import { expect } from 'chai';
import { readSubschema } from '../../src/ldap/schema.js';
import {
  SCOPE,
  adminDirectory,
  call,
  rawEntry,
  uniqueName,
  JANSSEN_REQUIRED,
  useTestApp,
} from './harness.js';

const SCOPES = {
  read: 'https://jans.io/oauth/config/scopes.readonly',
  write: 'https://jans.io/oauth/config/scopes.write',
};

describe('scopes and where definitions are used', () => {
  const { app, directory } = useTestApp({
    env: (slapd) => ({
      SCHEMA_EXTENSION: 'true',
      LDAP_CONFIG_BIND_DN: slapd.configDn,
      LDAP_CONFIG_BIND_PASSWORD: slapd.password,
    }),
  });
  let token: string;

  before(async () => {
    token = app.issuer.token([SCOPE.read, SCOPE.write, SCOPE.delete, SCOPES.read, SCOPES.write]);
  });

  /** A new definition of an existing person attribute type, released by a new claim. */
  const define = async (extra: Record<string, unknown> = {}) => {
    const reply = await call(app, 'POST', '/attributes?extendSchema=true', {
      token,
      body: {
        name: uniqueName('claim').replace('_', ''),
        displayName: 'A claim',
        description: 'Released by a scope',
        dataType: 'string',
        status: 'active',
        editType: ['admin'],
        viewType: ['admin', 'user'],
        ...extra,
      },
    });
    expect(reply.status, JSON.stringify(reply.body)).to.equal(201);
    return reply.body as { inum: string; dn: string; name: string };
  };
  const addClaim = (scope: string, dn: string) =>
    call(app, 'PATCH', `/scopes/${scope}`, { token, body: [{ op: 'add', path: '/claims/-', value: dn }] });
  const claimsOf = async (scope: string) =>
    (await rawEntry(directory.slapd, `inum=${scope},ou=scopes,o=jans`)).jansClaim ?? [];
  const inSchema = async (name: string) => {
    const admin = adminDirectory(directory.slapd);
    try {
      return (await readSubschema(admin)).attributeTypes.some((t) => t.names.includes(name));
    } finally {
      await admin.close();
    }
  };
  const insufficient = (reply: { status: number; headers: Headers }) => {
    expect(reply.status).to.equal(403);
    expect(reply.headers.get('www-authenticate')).to.contain('error="insufficient_scope"');
  };

  it('serves the seeded OpenID scopes with the claims they release', async () => {
    const { status, body } = await call(app, 'GET', '/scopes', { token: app.issuer.token([SCOPES.read]) });
    expect(status).to.equal(200);
    expect(body.map((s: { id: string }) => s.id).sort()).to.deep.equal([
      'address',
      'email',
      'openid',
      'phone',
      'profile',
    ]);
    const email = await call(app, 'GET', '/scopes/764C', { token: app.issuer.token([SCOPES.read]) });
    expect(email.body).to.deep.equal({
      dn: 'inum=764C,ou=scopes,o=jans',
      inum: '764C',
      id: 'email',
      displayName: 'view_email_address',
      description: 'View your email address.',
      scopeType: 'openid',
      defaultScope: false,
      claims: ['inum=8F88,ou=attributes,o=jans', 'inum=CAE3,ou=attributes,o=jans'],
    });
    expect(
      (await call(app, 'GET', '/scopes/NOPE', { token: app.issuer.token([SCOPES.read]) })).status,
    ).to.equal(404);
    const noScope = await call(app, 'GET', '/scopes', { token: app.issuer.token([SCOPE.read]) });
    expect(noScope.status).to.equal(403);
  });

  it('lists the scopes that use a definition', async () => {
    const mail = await call(app, 'GET', '/attributes/CAE3/usage', { token: app.issuer.token([SCOPE.read]) });
    expect(mail.status).to.equal(200);
    expect(mail.body.name).to.equal('mail');
    expect(mail.body.scopes.map((s: { id: string }) => s.id)).to.deep.equal(['email']);
    const unused = await call(app, 'GET', '/attributes/42E0/usage', {
      token: app.issuer.token([SCOPE.read]),
    });
    expect(unused.body.scopes).to.deep.equal([]);
    expect((await call(app, 'GET', '/attributes/NOPE/usage', { token })).status).to.equal(404);
  });

  it('takes a custom claim from nothing to released in two requests', async () => {
    const created = await define();
    const added = await addClaim('43F1', created.dn);
    expect(added.status).to.equal(200);
    expect(added.body.claims).to.include(created.dn);
    const usage = await call(app, 'GET', `/attributes/${created.inum}/usage`, { token });
    expect(usage.body.scopes.map((s: { inum: string }) => s.inum)).to.deep.equal(['43F1']);
  });

  it('done when: a new claim is released in two requests, cannot be clashed with, nor deleted under its scope', async () => {
    const name = uniqueName('badge').replace('_', '');
    expect(await inSchema(name), 'the attribute type is new').to.equal(false);
    const created = await define({ name, claimName: name });
    expect(await inSchema(name)).to.equal(true);
    expect((await addClaim('43F1', created.dn)).status).to.equal(200);

    const claims = await call(app, 'GET', '/attributes/claims', { token });
    expect(claims.status).to.equal(200);
    expect(claims.body.find((c: { claimName: string }) => c.claimName === name)).to.deep.include({
      attribute: name,
      inum: created.inum,
    });

    const rival = uniqueName('rival').replace('_', '');
    const clash = await call(app, 'POST', '/attributes?extendSchema=true', {
      token,
      body: {
        ...JANSSEN_REQUIRED,
        name: rival,
        displayName: 'Rival',
        dataType: 'string',
        status: 'active',
        claimName: name,
      },
    });
    expect(clash.status).to.equal(409);
    expect(clash.body.description).to.contain(created.inum);
    expect(await inSchema(rival), 'a refused POST leaves the schema alone').to.equal(false);

    const removal = await call(app, 'DELETE', `/attributes/${created.inum}`, { token });
    expect(removal.status).to.equal(409);
    expect(removal.body.description).to.contain('profile (43F1)');
    expect(await claimsOf('43F1')).to.include(created.dn);
  });

  it('answers 403 to tokens without the scope an operation needs, changing nothing', async () => {
    const created = await define();
    await addClaim('764C', created.dn);
    const scopesOnly = app.issuer.token([SCOPES.read, SCOPES.write]);
    insufficient(await call(app, 'GET', `/attributes/${created.inum}/usage`, { token: scopesOnly }));

    const readOnly = app.issuer.token([SCOPE.read, SCOPES.read]);
    const before = await claimsOf('764C');
    insufficient(
      await call(app, 'PATCH', '/scopes/764C', {
        token: readOnly,
        body: [{ op: 'replace', path: '/claims', value: [] }],
      }),
    );
    expect(await claimsOf('764C')).to.deep.equal(before);

    const noDelete = app.issuer.token([SCOPE.read, SCOPE.write, SCOPES.read, SCOPES.write]);
    insufficient(await call(app, 'DELETE', `/attributes/${created.inum}?force=true`, { token: noDelete }));
    expect((await call(app, 'GET', `/attributes/${created.inum}`, { token })).status).to.equal(200);
    expect(await claimsOf('764C')).to.include(created.dn);

    // A forced delete changes scopes too, so it needs a scope-writing scope as well as a deleting one.
    const noScopeWrite = app.issuer.token([SCOPE.read, SCOPE.delete, SCOPES.read]);
    const refused = await call(app, 'DELETE', `/attributes/${created.inum}?force=true`, {
      token: noScopeWrite,
    });
    insufficient(refused);
    expect(refused.body.description).to.contain(SCOPES.write);
    expect((await call(app, 'GET', `/attributes/${created.inum}`, { token })).status).to.equal(200);
    expect(await claimsOf('764C')).to.include(created.dn);

    const forced = await call(app, 'DELETE', `/attributes/${created.inum}?force=true`, { token });
    expect(forced.status).to.equal(204);
  });

  it('refuses to add a claim that is not a definition, changing nothing', async () => {
    const before = await claimsOf('764C');
    for (const value of ['inum=NOPE,ou=attributes,o=jans', 'cn=admin,o=jans', 'not a dn']) {
      const reply = await addClaim('764C', value);
      expect(reply.status, value).to.equal(400);
      expect(reply.body.description).to.contain('not the DN of an attribute definition');
    }
    const fixed = await call(app, 'PATCH', '/scopes/764C', {
      token,
      body: [{ op: 'replace', path: '/inum', value: 'OTHER' }],
    });
    expect(fixed.status).to.equal(400);
    const typed = await call(app, 'PATCH', '/scopes/764C', {
      token,
      body: [{ op: 'replace', path: '/defaultScope', value: 'yes' }],
    });
    expect(typed.status).to.equal(400);
    expect(typed.body.message).to.equal('Invalid field defaultScope');
    const notText = await addClaim('764C', 42 as unknown as string);
    expect([notText.status, notText.body.message]).to.deep.equal([400, 'Invalid field claims.2']);
    expect(await claimsOf('764C')).to.deep.equal(before);
  });

  it('refuses to delete a definition a scope releases, naming the scope, and changes nothing', async () => {
    const created = await define();
    await addClaim('764C', created.dn);
    const reply = await call(app, 'DELETE', `/attributes/${created.inum}`, { token });
    expect(reply.status).to.equal(409);
    expect(reply.body.description).to.contain('email (764C)');
    expect((await call(app, 'GET', `/attributes/${created.inum}`, { token })).status).to.equal(200);
    expect(await claimsOf('764C')).to.include(created.dn);
  });

  it('with force=true removes the definition from its scopes, then deletes it', async () => {
    const created = await define();
    await addClaim('764C', created.dn);
    await addClaim('D491', created.dn);
    const reply = await call(app, 'DELETE', `/attributes/${created.inum}?force=true`, { token });
    expect(reply.status).to.equal(204);
    expect(reply.headers.get('warning')).to.match(/^299 - ".*email \(764C\).*phone \(D491\).*"$/);
    expect((await call(app, 'GET', `/attributes/${created.inum}`, { token })).status).to.equal(404);
    expect(await claimsOf('764C')).to.not.include(created.dn);
    expect(await claimsOf('D491')).to.not.include(created.dn);
    expect(await claimsOf('764C')).to.include('inum=CAE3,ou=attributes,o=jans');
  });

  it('warns when a definition that scopes release is made inactive', async () => {
    const created = await define();
    await addClaim('C17A', created.dn);
    const renamed = await call(app, 'PATCH', `/attributes/${created.inum}`, {
      token,
      body: [{ op: 'replace', path: '/displayName', value: 'Renamed' }],
    });
    expect(renamed.headers.get('warning')).to.equal(null);
    const inactive = await call(app, 'PATCH', `/attributes/${created.inum}`, {
      token,
      body: [{ op: 'replace', path: '/status', value: 'inactive' }],
    });
    expect(inactive.status).to.equal(200);
    expect(inactive.headers.get('warning')).to.contain('address (C17A)');
    const unreferenced = await define();
    const put = await call(app, 'PUT', '/attributes', {
      token,
      body: { ...unreferenced, status: 'inactive' },
    });
    expect(put.status).to.equal(200);
    expect(put.headers.get('warning')).to.equal(null);
  });

  it('keeps every claim when scope patches race', async () => {
    const created = await Promise.all([define(), define(), define(), define(), define()]);
    const replies = await Promise.all(created.map((c) => addClaim('F0C4', c.dn)));
    expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200]);
    const claims = await claimsOf('F0C4');
    for (const c of created) expect(claims).to.include(c.dn);
  });
});
