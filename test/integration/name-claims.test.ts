import { expect } from 'chai';
import { AlreadyExistsError } from 'ldapts';
import type { Directory } from '../../src/ldap/directory.js';
import type { AttributeDefinition, StoredAttribute } from '../../src/attributes/definition.js';
import { ConflictError } from '../../src/errors.js';
import { LdapAttributeStore } from '../../src/ldap/attribute-store.js';
import { NameClaims } from '../../src/ldap/name-claims.js';
import { adminDirectory, rawEntry, useTestDirectory } from './harness.js';

/**
 * Name claims against a real slapd, with the order of two writers' steps fixed by the `holds` callback
 * (which the claim asks between reading a claim and taking it over).
 */
describe('name claims', () => {
  const { directory, cleanup } = useTestDirectory();
  let ldap: Directory;

  before(() => {
    ldap = adminDirectory(directory.slapd);
    cleanup(() => ldap.close());
  });

  const x = 'inum=X,ou=attributes,o=jans';
  const y = 'inum=Y,ou=attributes,o=jans';

  it('lets a stale claim go to one writer when its old holder takes it back meanwhile', async () => {
    // X held "contested", gave it up (a rename), and is taking it back while Y takes the stale claim over.
    const name = `contested${Date.now()}`;
    const held = new NameClaims(ldap, 'names', async () => false);
    expect(await held.claim(name, x)).to.equal(true);

    let xTookItBack: boolean | undefined;
    const claims = new NameClaims(ldap, 'names', async (holder) => {
      // Y has read the claim (held by X) and asks whether X still carries the name: X's rename back has
      // not committed when Y looks, so no; before Y acts on that answer, X claims the name again.
      if (holder === x && xTookItBack === undefined) xTookItBack = await held.claim(name, x);
      return false;
    });
    const yTookItOver = await claims.claim(name, y);
    expect(xTookItBack).to.equal(true);
    expect(yTookItOver, 'both writers were told the name is theirs').to.equal(false);
  });

  it('gives a claim back to its holder when nobody took it meanwhile', async () => {
    const name = `mine${Date.now()}`;
    const claims = new NameClaims(ldap, 'names', async () => false);
    expect(await claims.claim(name, x)).to.equal(true);
    expect(await claims.claim(name, x)).to.equal(true);
    expect(await claims.claim(name, y)).to.equal(true);
    expect(await new NameClaims(ldap, 'names', async () => true).claim(name, x)).to.equal(false);
  });

  it('keeps the claims of claim names apart from those of definition names, below them', async () => {
    const key = `shared${Date.now()}`;
    expect(await new NameClaims(ldap, 'claims', async () => true).claim(key, x)).to.equal(true);
    expect(await new NameClaims(ldap, 'names', async () => true).claim(key, y)).to.equal(true);
    const owner = async (base: string) =>
      (await rawEntry(directory.slapd, `cn=${key.toLowerCase()},${base}`)).seeAlso;
    expect(await owner('ou=claimNames,ou=attributeNames,o=jans')).to.deep.equal([x]);
    expect(await owner('ou=attributeNames,o=jans')).to.deep.equal([y]);
  });

  it('undoes all of a change whose claim another definition holds, and keeps no creation that lost one', async () => {
    const store = new LdapAttributeStore(ldap);
    const stamp = Date.now();
    const claim = `undone${stamp}`;
    const definition = (key: string, fields: Partial<AttributeDefinition>): AttributeDefinition => ({
      inum: `${key}${stamp}`,
      name: `${key}${stamp}`,
      displayName: key,
      dataType: 'string',
      status: 'active',
      ...fields,
    });
    await store.create(definition('holder', { claimName: claim }));
    const other = await store.create(definition('other', {}));
    if (!other) throw new Error('not created');
    // Past the service's own check (as when another instance's write has not reached it yet).
    const taking = { ...other.definition, claimName: claim.toUpperCase(), description: 'Taking the claim' };
    const refused = await store.replace(other, taking).catch((error: unknown) => error);
    expect(refused).to.be.instanceOf(ConflictError);
    const kept = await rawEntry(directory.slapd, other.dn);
    expect([kept.jansClaimName, kept.description]).to.deep.equal([undefined, undefined]);
    // An inactive definition releases no claim, so it may carry one that another definition holds.
    const now = (await store.get(other.definition.inum)) as StoredAttribute;
    const inactive = await store.replace(now, { ...taking, status: 'inactive' });
    expect(inactive.definition.claimName).to.equal(claim.toUpperCase());

    const creation = await store.create(definition('third', { claimName: claim })).catch((e: unknown) => e);
    expect(creation).to.be.instanceOf(ConflictError);
    expect(await store.get(`third${stamp}`)).to.equal(undefined);
  });

  it('claims a name again when its claim is removed between a failed add and the read that follows', async () => {
    const name = `removed${Date.now()}`;
    expect(await new NameClaims(ldap, 'names', async () => false).claim(name, x)).to.equal(true);
    // A directory that removes the claim right after the claim's add has failed, as someone cleaning up
    // claims by hand might.
    const dn = `cn=${name.toLowerCase()},ou=attributeNames,o=jans`;
    let removed = false;
    const racing = Object.create(ldap) as Directory;
    racing.run = async (operation) => {
      try {
        return await ldap.run(operation);
      } catch (error) {
        if (!removed && error instanceof AlreadyExistsError) {
          removed = true;
          await ldap.run((c) => c.del(dn));
        }
        throw error;
      }
    };
    expect(await new NameClaims(racing, 'names', async () => true).claim(name, y)).to.equal(true);
    expect(removed).to.equal(true);
    expect((await rawEntry(directory.slapd, dn)).seeAlso).to.deep.equal([y]);
  });
});
