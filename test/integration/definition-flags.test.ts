import { expect } from 'chai';
import { call, rawEntry, uniqueName, JANSSEN_REQUIRED, useTestApp } from './harness.js';

describe('definition flags: predefined, encrypted, one-way multi-valued', () => {
  const { app, directory } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });

  const post = (body: Record<string, unknown>) =>
    call(app, 'POST', '/attributes', {
      token: app.adminToken,
      body: {
        ...JANSSEN_REQUIRED,
        name: uniqueName('fl'),
        displayName: 'Flagged',
        dataType: 'string',
        ...body,
      },
    });

  it('marks the seeded standard set as predefined, and nothing created over the API', async () => {
    const seeded = await call(app, 'GET', '/attributes/CAE3', { token: app.adminToken });
    expect(seeded.body.predefined).to.equal(true);
    const created = await post({ predefined: true });
    expect(created.status).to.equal(201);
    expect(created.body.predefined, 'predefined in a body is ignored').to.equal(undefined);
    const put = await call(app, 'PUT', '/attributes', {
      token: app.adminToken,
      body: { ...created.body, predefined: true },
    });
    expect(put.body.predefined).to.equal(undefined);
  });

  it('refuses to delete or rename a predefined definition, and allows other changes', async () => {
    const deleted = await call(app, 'DELETE', '/attributes/CAE3', { token: app.adminToken });
    expect(deleted.status).to.equal(409);
    expect(deleted.body.message).to.match(/predefined.*cannot be deleted/i);
    const renamed = await call(app, 'PATCH', '/attributes/CAE3', {
      token: app.adminToken,
      body: [{ op: 'replace', path: '/name', value: uniqueName('rn') }],
    });
    expect(renamed.status).to.equal(409);
    expect(renamed.body.message).to.match(/cannot be renamed/);
    const dropFlag = await call(app, 'PATCH', '/attributes/CAE3', {
      token: app.adminToken,
      body: [{ op: 'remove', path: '/predefined' }],
    });
    expect(dropFlag.status).to.equal(200);
    expect(dropFlag.body.predefined, 'the flag cannot be patched away').to.equal(true);
    const tooltip = await call(app, 'PATCH', '/attributes/CAE3', {
      token: app.adminToken,
      body: [{ op: 'add', path: '/tooltip', value: 'Your e-mail' }],
    });
    expect(tooltip.status).to.equal(200);
    expect((await call(app, 'GET', '/attributes/CAE3', { token: app.adminToken })).body.name).to.equal(
      'mail',
    );
  });

  it('stores encrypted through the project extension class', async () => {
    const created = await post({ encrypted: true });
    expect(created.body.encrypted).to.equal(true);
    const raw = await rawEntry(directory.slapd, created.body.dn);
    expect(raw.registryAttrEncrypted).to.deep.equal(['TRUE']);
    expect(raw.objectClass).to.include('jansAttrRegistryExt');
    const off = await call(app, 'PATCH', `/attributes/${created.body.inum}`, {
      token: app.adminToken,
      body: [{ op: 'remove', path: '/encrypted' }],
    });
    expect(off.body.encrypted).to.equal(undefined);
    const after = await rawEntry(directory.slapd, created.body.dn);
    expect(after.objectClass).to.not.include('jansAttrRegistryExt');
    await call(app, 'DELETE', `/attributes/${created.body.inum}`, { token: app.adminToken });
  });

  it('lets a single-valued attribute become multi-valued but never back (409)', async () => {
    const created = await post({});
    const path = `/attributes/${created.body.inum}`;
    const on = await call(app, 'PATCH', path, {
      token: app.adminToken,
      body: [{ op: 'replace', path: '/oxMultiValuedAttribute', value: true }],
    });
    expect(on.body.oxMultiValuedAttribute).to.equal(true);
    const back = await call(app, 'PATCH', path, {
      token: app.adminToken,
      body: [{ op: 'replace', path: '/oxMultiValuedAttribute', value: false }],
    });
    expect(back.status).to.equal(409);
    expect(back.body.message).to.contain('cannot become single-valued');
    const { oxMultiValuedAttribute: _dropped, ...rest } = on.body as Record<string, unknown>;
    const put = await call(app, 'PUT', '/attributes', { token: app.adminToken, body: rest });
    expect(put.status, 'leaving it out of a PUT is the same change').to.equal(409);
    await call(app, 'DELETE', path, { token: app.adminToken });
  });
});
