import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parseLdif } from '../../src/directory/ldif.js';
import { asRoot, call, rawEntry, uniqueName, useTestApp } from './harness.js';

/** Janssen's seed definitions in the layout a Janssen deployment writes (see the fixture's header). */
const JANSSEN_LDIF = fileURLToPath(new URL('../fixtures/janssen/attributes.ldif', import.meta.url));
const BASE_LDIF = fileURLToPath(new URL('../../ldif/base.ldif', import.meta.url));
const OUR_SEED = fileURLToPath(new URL('../../ldif/attributes.ldif', import.meta.url));

describe('serving a directory that Janssen made', () => {
  const { app, directory } = useTestApp({ seedFiles: [BASE_LDIF, JANSSEN_LDIF] });
  const reference = parseLdif(readFileSync(JANSSEN_LDIF, 'utf8'), JANSSEN_LDIF);
  const one = (entry: (typeof reference)[number], name: string) => entry.attributes.get(name)?.[0];

  it('lists all 71 of Janssen’s definitions with their values', async () => {
    const { body } = await call(app, 'GET', '/attributes?limit=200', { token: app.adminToken });
    expect(reference).to.have.length(71);
    expect(body.totalEntriesCount).to.equal(71);
    const byInum = new Map(body.entries.map((e: { inum: string }) => [e.inum, e]));
    for (const entry of reference) {
      const served = byInum.get(one(entry, 'inum') ?? '') as Record<string, unknown>;
      expect(served, entry.dn).to.not.equal(undefined);
      const expected = {
        dn: entry.dn,
        name: one(entry, 'jansAttrName'),
        displayName: one(entry, 'displayName'),
        description: one(entry, 'description'),
        claimName: one(entry, 'jansClaimName'),
        dataType: one(entry, 'jansAttrTyp'),
        status: one(entry, 'jansStatus'),
        origin: one(entry, 'jansAttrOrigin'),
        urn: one(entry, 'urn'),
        saml1Uri: one(entry, 'jansSAML1URI'),
        saml2Uri: one(entry, 'jansSAML2URI'),
        oxMultiValuedAttribute: one(entry, 'jansMultivaluedAttr') === 'true',
      };
      const present = Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined));
      expect(served, entry.dn).to.include(present);
      for (const [field, value] of Object.entries(expected)) {
        if (value === undefined) expect(served, entry.dn).to.not.have.property(field);
      }
      expect(served.editType, entry.dn).to.have.members(entry.attributes.get('jansAttrEditTyp') ?? []);
      expect(served.viewType, entry.dn).to.have.members(entry.attributes.get('jansAttrViewTyp') ?? []);
    }
    expect((byInum.get('5039') as Record<string, unknown>).scimCustomAttr).to.equal(true);
    expect((byInum.get('CACA') as Record<string, unknown>).attributeValidation).to.deep.equal({
      maxLength: 2048,
    });
  });

  it('finds what Janssen’s data promises: 14 for edu, 37 active, 34 inactive', async () => {
    const count = async (q: string) =>
      (await call(app, 'GET', `/attributes?${q}`, { token: app.adminToken })).body.totalEntriesCount;
    expect(await count('pattern=edu')).to.equal(14);
    expect(await count('status=active')).to.equal(37);
    expect(await count('status=inactive')).to.equal(34);
    expect(await count('pattern=city')).to.equal(1);
  });

  it('serves an entry without the fields Janssen requires, and takes writes of it only once they are there', async () => {
    const token = app.adminToken;
    const inum = uniqueName('bare');
    const dn = `inum=${inum},ou=attributes,o=jans`;
    await asRoot(directory.slapd, (c) =>
      c.add(dn, {
        objectClass: ['top', 'jansAttr'],
        inum,
        jansAttrName: inum,
        displayName: 'Bare',
        jansAttrTyp: 'string',
      }),
    );
    try {
      // Janssen serves such an entry the same way: its schema's required fields are simply absent.
      const lacking = ['description', 'editType', 'viewType'];
      const read = await call(app, 'GET', `/attributes/${inum}`, { token, lacking });
      expect(read.status).to.equal(200);
      expect(read.body).to.include({ name: inum, displayName: 'Bare' });
      expect(read.body).to.not.have.any.keys(...lacking);

      const put = await call(app, 'PUT', '/attributes', { token, body: read.body });
      expect(put.status).to.equal(400);
      expect(put.body.description).to.contain('description');
      const rename = [{ op: 'replace', path: '/displayName', value: 'Still bare' }];
      const patched = await call(app, 'PATCH', `/attributes/${inum}`, { token, body: rename });
      expect(patched.status).to.equal(400);
      expect(patched.body.description).to.contain('description');
      expect((await rawEntry(directory.slapd, dn)).displayName).to.deep.equal(['Bare']);

      const completed = await call(app, 'PATCH', `/attributes/${inum}`, {
        token,
        body: [
          ...rename,
          { op: 'add', path: '/description', value: 'Now complete' },
          { op: 'add', path: '/editType', value: ['admin'] },
          { op: 'add', path: '/viewType', value: ['admin'] },
        ],
      });
      expect(completed.status).to.equal(200);
      expect(completed.body).to.include({ displayName: 'Still bare', description: 'Now complete' });
    } finally {
      await asRoot(directory.slapd, (c) => c.del(dn));
    }
  });

  it('replaces a Janssen entry without losing the LDAP attributes it does not map', async () => {
    const token = app.adminToken;
    const entry = (await call(app, 'GET', '/attributes/4CF1', { token })).body;
    const reply = await call(app, 'PUT', '/attributes', {
      token,
      body: { ...entry, displayName: 'Admin UI role' },
    });
    expect(reply.status).to.equal(200);
    const raw = await rawEntry(directory.slapd, entry.dn);
    expect(raw.jansAttrSystemEditTyp).to.have.members(['admin', 'user']);
    expect(raw.displayName).to.deep.equal(['Admin UI role']);
    expect(raw.jansMultivaluedAttr).to.deep.equal(['TRUE']);
  });
});

describe('the project’s seed, next to Janssen’s', () => {
  const byInum = (file: string) =>
    new Map(parseLdif(readFileSync(file, 'utf8'), file).map((e) => [e.attributes.get('inum')?.[0], e]));
  const janssen = byInum(JANSSEN_LDIF);
  const ours = byInum(OUR_SEED);
  // The texts are the project's own words, and the marks of its extension class are its own too;
  // every other LDAP attribute is a fact that OIDC and SAML consumers read and must be Janssen's.
  const OWN = new Set(['displayName', 'description', 'objectClass', 'registryAttrPredefined']);
  // OpenDJ writes booleans `true`, OpenLDAP `TRUE`: the same value.
  const facts = (entry: { attributes: Map<string, string[]> }) =>
    Object.fromEntries(
      [...entry.attributes]
        .filter(([name]) => !OWN.has(name))
        .map(([name, values]) => [
          name,
          values.map((v) => (/^(true|false)$/i.test(v) ? v.toUpperCase() : v)).sort(),
        ]),
    );

  it('holds the same 71 inums', () => {
    expect([...ours.keys()].sort()).to.deep.equal([...janssen.keys()].sort());
    expect(ours.size).to.equal(71);
  });

  it('carries Janssen’s urn, SAML URIs, claim names, types, roles and flags for every inum', () => {
    for (const [inum, reference] of janssen) {
      const mine = ours.get(inum);
      expect(mine, `inum ${inum}`).to.not.equal(undefined);
      expect(facts(mine as typeof reference), `inum ${inum}`).to.deep.equal(facts(reference));
    }
  });
});
