import { expect } from 'chai';
import type { Directory } from '../../src/ldap/directory.js';
import { NameClaims } from '../../src/ldap/name-claims.js';
import { adminDirectory, startTestDirectory } from './harness.js';

/**
 * Name claims against a real slapd, with the order of two writers' steps fixed by the `holds` callback
 * (which the claim asks between reading a claim and taking it over).
 */
describe('name claims', () => {
  let directory: Awaited<ReturnType<typeof startTestDirectory>>;
  let ldap: Directory;

  before(async () => {
    directory = await startTestDirectory();
    ldap = adminDirectory(directory.slapd);
  });
  after(async () => {
    await ldap?.close();
    await directory?.stop();
  });

  const x = 'inum=X,ou=attributes,o=jans';
  const y = 'inum=Y,ou=attributes,o=jans';

  it('lets a stale claim go to one writer when its old holder takes it back meanwhile', async () => {
    // X held "contested", gave it up (a rename), and is taking it back while Y takes the stale claim over.
    const name = `contested${Date.now()}`;
    const held = new NameClaims(ldap, async () => false);
    expect(await held.claim(name, x)).to.equal(true);

    let xTookItBack: boolean | undefined;
    const claims = new NameClaims(ldap, async (holder) => {
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
    const claims = new NameClaims(ldap, async () => false);
    expect(await claims.claim(name, x)).to.equal(true);
    expect(await claims.claim(name, x)).to.equal(true);
    expect(await claims.claim(name, y)).to.equal(true);
    expect(await new NameClaims(ldap, async () => true).claim(name, x)).to.equal(false);
  });
});
