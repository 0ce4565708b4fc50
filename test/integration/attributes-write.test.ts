import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { SCOPE, call, rawEntry, uniqueName, type TestApp, useTestApp } from './harness.js';

/** A request body shaped like those Janssen's own API tests send (upper-case enums, keys it ignores). */
const JANSSEN_TEST_BODY = JSON.parse(
  readFileSync(new URL('../fixtures/janssen/post-body.json', import.meta.url), 'utf8'),
);

describe('changing attribute definitions (real slapd, real HTTP)', () => {
  /** SCHEMA_CHECK=false, so that tests can use names of their own. */
  const { app, directory, startApp } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });
  /** Default configuration: names must exist in the person schema. */
  let checked: TestApp;
  let token: string;

  before(async () => {
    checked = await startApp();
    token = app.adminToken;
  });

  const definition = (overrides: Record<string, unknown> = {}) => ({
    name: uniqueName(),
    displayName: 'Test definition',
    description: 'Made by a test',
    dataType: 'string',
    status: 'active',
    editType: ['admin'],
    viewType: ['admin', 'user'],
    ...overrides,
  });

  /** Creates a definition and returns its stored form; the test's after hook removes it. */
  const created: string[] = [];
  async function create(overrides: Record<string, unknown> = {}) {
    const reply = await call(app, 'POST', '/attributes', { token, body: definition(overrides) });
    expect(reply.status, JSON.stringify(reply.body)).to.equal(201);
    created.push(reply.body.inum);
    return reply.body;
  }
  afterEach(async () => {
    for (const inum of created.splice(0)) await call(app, 'DELETE', `/attributes/${inum}`, { token });
  });

  describe('POST /attributes', () => {
    it('stores Janssen’s own test body: upper-case enums, ignored keys, server-assigned inum', async () => {
      const body = {
        ...JANSSEN_TEST_BODY,
        name: uniqueName(),
        inum: 'CLIENT',
        dn: 'inum=CLIENT,ou=attributes,o=jans',
      };
      const reply = await call(app, 'POST', '/attributes', { token, body });
      expect(reply.status).to.equal(201);
      created.push(reply.body.inum);
      expect(reply.body.inum).to.match(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect(reply.headers.get('location')).to.equal(`/jans-config-api/api/v1/attributes/${reply.body.inum}`);
      expect(reply.body).to.include({ dataType: 'string', status: 'active', jansHideOnDiscovery: true });
      expect(reply.body.editType).to.deep.equal(['admin', 'user']);
      expect(reply.body).to.not.have.any.keys('requred', 'jansMultivaluedAttr');
      const raw = await rawEntry(directory.slapd, reply.body.dn);
      expect(raw.objectClass).to.have.members(['top', 'jansAttr']);
      expect(raw.jansAttrTyp).to.deep.equal(['string']);
      expect(raw.jansAttrEditTyp).to.have.members(['admin', 'user']);
      expect(raw.jansStatus).to.deep.equal(['active']);
      expect(raw.jansHideOnDiscovery).to.deep.equal(['TRUE']);
    });

    it('reads jansMultivaluedAttr as oxMultiValuedAttribute and stores validation as a JSON string', async () => {
      const body = await create({
        jansMultivaluedAttr: true,
        attributeValidation: { minLength: 2, maxLength: 40, regexp: '^[a-z]+$' },
      });
      expect(body.oxMultiValuedAttribute).to.equal(true);
      expect(body.attributeValidation).to.deep.equal({ minLength: 2, maxLength: 40, regexp: '^[a-z]+$' });
      const raw = await rawEntry(directory.slapd, body.dn);
      expect(raw.jansMultivaluedAttr).to.deep.equal(['TRUE']);
      expect(JSON.parse(raw.jansValidation?.[0] ?? '')).to.deep.equal({
        minLength: 2,
        maxLength: 40,
        regexp: '^[a-z]+$',
      });
    });

    it('stores `required` through the project’s auxiliary class, and removes both together', async () => {
      const body = await create({ required: true });
      expect(body.required).to.equal(true);
      expect((await rawEntry(directory.slapd, body.dn)).objectClass).to.include('jansAttrRegistryExt');
      const { required: _dropped, ...rest } = body;
      const reply = await call(app, 'PUT', '/attributes', { token, body: rest });
      expect(reply.status).to.equal(200);
      expect(reply.body).to.not.have.property('required');
      const raw = await rawEntry(directory.slapd, body.dn);
      expect(raw.objectClass).to.have.members(['top', 'jansAttr']);
      expect(raw).to.not.have.property('jansRequired');
    });

    it('refuses a name taken in any case with 409 naming the other inum', async () => {
      const first = await create();
      const reply = await call(app, 'POST', '/attributes', {
        token,
        body: definition({ name: first.name.toUpperCase() }),
      });
      expect(reply.status).to.equal(409);
      expect(reply.body.description).to.contain(first.inum);
      const seeded = await call(app, 'POST', '/attributes', { token, body: definition({ name: 'MAIL' }) });
      expect(seeded.status).to.equal(409);
      expect(seeded.body.description).to.contain('CAE3');
    });

    const invalid: [string, Record<string, unknown>, string][] = [
      ['no name', { name: undefined }, 'name'],
      ['an empty displayName', { displayName: '' }, 'displayName'],
      ['no dataType', { dataType: undefined }, 'dataType'],
      ['an unknown dataType', { dataType: 'photo' }, 'dataType'],
      ['an unknown status', { status: 'sleeping' }, 'status'],
      ['an unknown role', { editType: ['root'] }, 'editType'],
      ['a name with a dash', { name: 'bad-name' }, 'name'],
      ['a name of 31 characters', { name: 'a'.repeat(31) }, 'name'],
      ['a name with a control character', { name: 'ab\u0007c' }, 'name'],
      ['a displayName of 61 characters', { displayName: 'd'.repeat(61) }, 'displayName'],
      ['minLength above maxLength', { attributeValidation: { minLength: 5, maxLength: 2 } }, 'minLength'],
      ['a broken regexp', { attributeValidation: { regexp: '([a-z' } }, 'regexp'],
      ['a seeAlso that is not a DN', { seeAlso: 'not a dn' }, 'seeAlso'],
      // Janssen's schema requires these six; a definition without one is not written.
      ['no description', { description: undefined }, 'description'],
      ['an empty description', { description: '' }, 'description'],
      ['no editType', { editType: undefined }, 'editType'],
      ['an empty editType', { editType: [] }, 'editType'],
      ['no viewType', { viewType: undefined }, 'viewType'],
      ['a null viewType', { viewType: null }, 'viewType'],
      ['a null displayName', { displayName: null }, 'displayName'],
      [
        'an attributeValidation.maxLength beyond 32 bits',
        { attributeValidation: { maxLength: 2 ** 31 } },
        'maxLength',
      ],
    ];
    for (const [what, overrides, named] of invalid) {
      it(`refuses ${what} with 400 naming ${named}, and stores nothing`, async () => {
        const body = definition(overrides);
        const reply = await call(app, 'POST', '/attributes', { token, body });
        expect(reply.status).to.equal(400);
        expect(`${reply.body.message} ${reply.body.description ?? ''}`).to.contain(named);
        if (typeof body.name === 'string') {
          const found = await call(
            app,
            'GET',
            `/attributes?fieldValuePair=${encodeURIComponent(`name=${body.name}`)}`,
            {
              token,
            },
          );
          expect(found.body.totalEntriesCount).to.equal(0);
        }
      });
    }

    it('answers malformed JSON with 400, a wrong content type with 415, a huge body with 413', async () => {
      const malformed = await call(app, 'POST', '/attributes', { token, rawBody: '{"name": "x",' });
      expect(malformed.status).to.equal(400);
      const text = await call(app, 'POST', '/attributes', {
        token,
        rawBody: JSON.stringify(definition()),
        contentType: 'text/plain',
      });
      expect(text.status).to.equal(415);
      const huge = await call(app, 'POST', '/attributes', {
        token,
        body: definition({ description: 'x'.repeat(300_000) }),
      });
      expect(huge.status).to.equal(413);
    });

    it('needs a write scope', async () => {
      const reply = await call(app, 'POST', '/attributes', {
        token: app.issuer.token([SCOPE.read]),
        body: definition(),
      });
      expect(reply.status).to.equal(403);
      expect(reply.headers.get('www-authenticate')).to.contain(SCOPE.write);
      for (const scope of [SCOPE.admin, SCOPE.writeAll]) {
        const ok = await call(app, 'POST', '/attributes', {
          token: app.issuer.token([scope]),
          body: definition(),
        });
        expect(ok.status).to.equal(201);
        created.push(ok.body.inum);
      }
    });
  });

  describe('the schema check', () => {
    it('accepts a name that a person object class allows', async () => {
      const reply = await call(checked, 'POST', '/attributes', {
        token: checked.adminToken,
        body: definition({ name: 'seeAlso' }),
      });
      expect(reply.status).to.equal(201);
      await call(checked, 'DELETE', `/attributes/${reply.body.inum}`, { token: checked.adminToken });
    });

    it('refuses a name with no attribute type with 406 saying what is missing', async () => {
      const reply = await call(checked, 'POST', '/attributes', {
        token: checked.adminToken,
        body: { ...JANSSEN_TEST_BODY },
      });
      expect(reply.status).to.equal(406);
      expect(reply.body.message).to.equal("The attribute 'testAttribute' not defined in DB schema");
      expect(reply.body.description).to.contain("no attribute type named 'testAttribute'");
    });

    it('refuses a type that exists but that no person object class allows', async () => {
      const reply = await call(checked, 'POST', '/attributes', {
        token: checked.adminToken,
        body: definition({ name: 'jansAttrName' }),
      });
      expect(reply.status).to.equal(406);
      expect(reply.body.description).to.contain('none of the person object classes');
    });

    it('applies to renames through PUT too', async () => {
      const mine = await create();
      const reply = await call(checked, 'PUT', '/attributes', {
        token: checked.adminToken,
        body: { ...mine, name: uniqueName() },
      });
      expect(reply.status).to.equal(406);
    });
  });

  describe('PUT /attributes', () => {
    it('replaces a definition: changed fields written, left-out fields removed', async () => {
      const mine = await create({ claimName: 'to_be_removed', saml2Uri: 'urn:oid:1.2.3' });
      const { claimName: _c, saml2Uri: _s, ...rest } = mine;
      const reply = await call(app, 'PUT', '/attributes', {
        token,
        body: { ...rest, displayName: 'Replaced' },
      });
      expect(reply.status).to.equal(200);
      expect(reply.body.displayName).to.equal('Replaced');
      expect(reply.body).to.not.have.any.keys('claimName', 'saml2Uri');
      const raw = await rawEntry(directory.slapd, mine.dn);
      expect(raw.displayName).to.deep.equal(['Replaced']);
      expect(raw).to.not.have.any.keys('jansClaimName', 'jansSAML2URI');
      expect((await call(app, 'GET', `/attributes/${mine.inum}`, { token })).body).to.deep.equal(reply.body);
    });

    for (const field of ['description', 'editType', 'viewType', 'displayName']) {
      it(`refuses a replacement without ${field}, which Janssen's schema requires, and changes nothing`, async () => {
        const mine = await create();
        const { [field]: _left, ...rest } = mine;
        const reply = await call(app, 'PUT', '/attributes', { token, body: rest });
        expect(reply.status).to.equal(400);
        expect(reply.body.description).to.contain(field);
        expect((await call(app, 'GET', `/attributes/${mine.inum}`, { token })).body).to.deep.equal(mine);
      });
    }

    it('renames to a free name, and refuses one that another definition has', async () => {
      const mine = await create();
      const other = await create();
      const fresh = uniqueName();
      expect(
        (await call(app, 'PUT', '/attributes', { token, body: { ...mine, name: fresh } })).body.name,
      ).to.equal(fresh);
      const clash = await call(app, 'PUT', '/attributes', { token, body: { ...mine, name: other.name } });
      expect(clash.status).to.equal(409);
      expect(clash.body.description).to.contain(other.inum);
    });

    it('keeps a stored name longer than 30 characters when it is not changed', async () => {
      const seeded = (await call(app, 'GET', '/attributes/11AA', { token })).body;
      expect(seeded.name.length).to.be.greaterThan(30);
      const reply = await call(app, 'PUT', '/attributes', { token, body: seeded });
      expect(reply.status).to.equal(200);
      expect(reply.body).to.deep.equal(seeded);
    });

    it('refuses to change inum, dn or urn', async () => {
      const mine = await create({ urn: 'urn:test:one' });
      const dn = await call(app, 'PUT', '/attributes', {
        token,
        body: { ...mine, dn: 'inum=X,ou=attributes,o=jans' },
      });
      expect(dn.status).to.equal(400);
      expect(dn.body.description).to.contain('dn');
      const urn = await call(app, 'PUT', '/attributes', { token, body: { ...mine, urn: 'urn:test:two' } });
      expect(urn.status).to.equal(400);
      expect(urn.body.description).to.contain('urn');
      const { urn: _u, ...withoutUrn } = mine;
      const kept = await call(app, 'PUT', '/attributes', { token, body: withoutUrn });
      expect(kept.body.urn).to.equal('urn:test:one');
    });

    it('answers 404 for an unknown inum and 400 without one', async () => {
      const unknown = await call(app, 'PUT', '/attributes', {
        token,
        body: { ...definition(), inum: 'NOPE' },
      });
      expect(unknown.status).to.equal(404);
      const none = await call(app, 'PUT', '/attributes', { token, body: definition() });
      expect(none.status).to.equal(400);
      expect(none.body.description).to.contain('inum');
    });
  });

  describe('PATCH /attributes/{inum}', () => {
    const patch = (inum: string, ops: unknown, contentType?: string) =>
      call(app, 'PATCH', `/attributes/${inum}`, { token, body: ops, contentType });

    it('applies every RFC 6902 operation to the JSON form', async () => {
      const mine = await create({ claimName: 'claim_a', tooltip: 'tip' });
      const reply = await patch(mine.inum, [
        { op: 'test', path: '/claimName', value: 'claim_a' },
        { op: 'replace', path: '/displayName', value: 'Patched' },
        { op: 'add', path: '/editType/-', value: 'user' },
        { op: 'remove', path: '/tooltip' },
        { op: 'copy', from: '/claimName', path: '/saml1Uri' },
        { op: 'move', from: '/saml1Uri', path: '/saml2Uri' },
        { op: 'add', path: '/jansHideOnDiscovery', value: false },
      ]);
      expect(reply.status, JSON.stringify(reply.body)).to.equal(200);
      expect(reply.body).to.include({
        displayName: 'Patched',
        saml2Uri: 'claim_a',
        jansHideOnDiscovery: false,
      });
      expect(reply.body).to.not.have.any.keys('tooltip', 'saml1Uri');
      expect(reply.body.editType).to.deep.equal(['admin', 'user']);
      expect(reply.body.userCanEdit).to.equal(true);
      expect((await call(app, 'GET', `/attributes/${mine.inum}`, { token })).body).to.deep.equal(reply.body);
    });

    it('answers a failed test with 409 and changes nothing', async () => {
      const mine = await create();
      const reply = await patch(mine.inum, [
        { op: 'replace', path: '/displayName', value: 'Should not stick' },
        { op: 'test', path: '/status', value: 'inactive' },
      ]);
      expect(reply.status).to.equal(409);
      expect((await call(app, 'GET', `/attributes/${mine.inum}`, { token })).body).to.deep.equal(mine);
    });

    const refused: [string, unknown, string][] = [
      ['a path that does not exist', [{ op: 'replace', path: '/nested/deeper', value: 1 }], 'path'],
      ['removing a required field', [{ op: 'remove', path: '/name' }], 'name'],
      ['removing the description', [{ op: 'remove', path: '/description' }], 'description'],
      ['emptying the description', [{ op: 'replace', path: '/description', value: '' }], 'description'],
      ['removing the editType', [{ op: 'remove', path: '/editType' }], 'editType'],
      ['emptying the viewType', [{ op: 'replace', path: '/viewType', value: [] }], 'viewType'],
      ['an invalid resulting value', [{ op: 'replace', path: '/dataType', value: 'photo' }], 'dataType'],
      ['a wrongly typed resulting value', [{ op: 'replace', path: '/editType', value: 'admin' }], 'editType'],
      ['changing the inum', [{ op: 'replace', path: '/inum', value: 'OTHER' }], 'inum'],
      ['changing the dn', [{ op: 'replace', path: '/dn', value: 'o=jans' }], 'dn'],
      ['patching a derived flag', [{ op: 'replace', path: '/adminCanEdit', value: false }], 'adminCanEdit'],
      ['a __proto__ path', [{ op: 'add', path: '/__proto__/polluted', value: 'yes' }], 'forbidden'],
      [
        'a constructor path',
        [{ op: 'add', path: '/constructor/prototype/polluted', value: 'yes' }],
        'forbidden',
      ],
      ['an unknown op', [{ op: 'merge', path: '/name', value: 'x' }], 'op'],
      ['a body that is not an array', { op: 'replace', path: '/name', value: 'x' }, 'body'],
      ['an op without a value', [{ op: 'replace', path: '/displayName' }], 'value'],
      ['removing the whole document', [{ op: 'remove', path: '' }], 'JSON object'],
      ['replacing the whole document with text', [{ op: 'replace', path: '', value: 'x' }], 'JSON object'],
    ];
    for (const [what, ops, named] of refused) {
      it(`refuses ${what} with 400 and changes nothing`, async () => {
        const mine = await create();
        const reply = await patch(mine.inum, ops);
        expect(reply.status, JSON.stringify(reply.body)).to.equal(400);
        expect(`${reply.body.message} ${reply.body.description ?? ''}`).to.contain(named);
        expect((await call(app, 'GET', `/attributes/${mine.inum}`, { token })).body).to.deep.equal(mine);
        expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      });
    }

    it('needs application/json-patch+json', async () => {
      const mine = await create();
      const reply = await patch(
        mine.inum,
        [{ op: 'replace', path: '/displayName', value: 'x' }],
        'application/json',
      );
      expect(reply.status).to.equal(415);
    });

    it('answers 404 for an unknown inum', async () => {
      expect((await patch('NOPE', [{ op: 'replace', path: '/displayName', value: 'x' }])).status).to.equal(
        404,
      );
    });

    it('patches a seeded definition as Janssen’s own scenario does, and back', async () => {
      const street = (await call(app, 'GET', '/attributes?pattern=street&limit=1', { token })).body
        .entries[0];
      const on = await patch(street.inum, [{ op: 'add', path: '/jansHideOnDiscovery', value: true }]);
      expect(on.body.jansHideOnDiscovery).to.equal(true);
      const off = await patch(street.inum, [{ op: 'remove', path: '/jansHideOnDiscovery' }]);
      expect(off.body).to.deep.equal(street);
    });
  });

  describe('DELETE /attributes/{inum}', () => {
    it('takes each scope the document lists for it, and refuses PUT and PATCH to a read-only token', async () => {
      const readOnly = app.issuer.token([SCOPE.read]);
      const mine = await create();
      const put = await call(app, 'PUT', '/attributes', {
        token: readOnly,
        body: { ...mine, displayName: 'No' },
      });
      expect(put.status).to.equal(403);
      expect(put.headers.get('www-authenticate')).to.contain(SCOPE.write);
      const patch = await call(app, 'PATCH', `/attributes/${mine.inum}`, {
        token: readOnly,
        body: [{ op: 'replace', path: '/displayName', value: 'No' }],
      });
      expect(patch.status).to.equal(403);
      expect((await call(app, 'GET', `/attributes/${mine.inum}`, { token })).body.displayName).to.equal(
        mine.displayName,
      );
      for (const scope of [SCOPE.delete, SCOPE.admin, SCOPE.deleteAll]) {
        const doomed = await create();
        const reply = await call(app, 'DELETE', `/attributes/${doomed.inum}`, {
          token: app.issuer.token([scope]),
        });
        expect(reply.status, scope).to.equal(204);
      }
    });

    it('deletes with a delete scope: 204, then 404', async () => {
      const mine = await create();
      const readOnly = await call(app, 'DELETE', `/attributes/${mine.inum}`, {
        token: app.issuer.token([SCOPE.write]),
      });
      expect(readOnly.status).to.equal(403);
      const reply = await call(app, 'DELETE', `/attributes/${mine.inum}`, {
        token: app.issuer.token([SCOPE.deleteAll]),
      });
      expect(reply.status).to.equal(204);
      expect((await call(app, 'GET', `/attributes/${mine.inum}`, { token })).status).to.equal(404);
      expect((await call(app, 'DELETE', `/attributes/${mine.inum}`, { token })).status).to.equal(404);
      expect(await rawEntry(directory.slapd, mine.dn)).to.deep.equal({});
    });
  });

  it('answers unknown paths and methods with an ApiError', async () => {
    expect((await call(app, 'GET', '/nothing-here', { token })).status).to.equal(404);
    expect((await call(app, 'POST', '/attributes/08E2', { token, body: {} })).status).to.equal(405);
  });
});
