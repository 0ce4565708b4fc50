import { AlreadyExistsError, Attribute, Change, DN, EqualityFilter, NoSuchObjectError } from 'ldapts';
import { AssertionControl } from './assertion-control.js';
import type { Directory } from './directory.js';

/** Whether the definition at `dn` exists and still carries `name` (ignoring case). */
export type Holds = (dn: string, name: string) => Promise<boolean>;

/**
 * One entry per definition name, `cn=<name in lower case>,ou=attributeNames,<base>`, pointing at its
 * definition with `seeAlso`; likewise one per claim that an active definition releases (its claimName),
 * under `ou=claimNames,ou=attributeNames,<base>` (so in the same database). Adding an entry whose DN
 * exists fails atomically in every LDAP server, so a definition that is created or renamed and then
 * claims its name either gets the claim or finds the definition that holds it, and backs out: name
 * uniqueness holds under races, across any number of service instances (slapd's `unique` overlay alone
 * does not: it searches, then writes, and concurrent writers slip between the two).
 *
 * Definitions are written before they claim, so a claim whose definition no longer carries the name
 * (deleted or renamed, or a write interrupted half way) is stale and is taken over. Claims are therefore
 * never given up: a delete or rename leaves its claim to the next definition that takes the name (a
 * modify instead of an add), which spares each of them a second commit in the directory.
 */
export class NameClaims {
  /** The container of the claims last, after those it is in (each created when missing). */
  private readonly containers: string[];

  constructor(
    private readonly directory: Directory,
    kind: 'names' | 'claims',
    private readonly holds: Holds,
  ) {
    const names = `ou=attributeNames,${directory.options.baseDn}`;
    this.containers = kind === 'names' ? [names] : [names, `ou=claimNames,${names}`];
  }

  private dnOf(name: string): string {
    return `${new DN({ cn: name.toLowerCase() }).toString()},${this.containers.at(-1)}`;
  }

  /** Claims `name` for the definition at `owner`; returns false when a live definition holds it. */
  async claim(name: string, owner: string): Promise<boolean> {
    const dn = this.dnOf(name);
    const entry = { objectClass: ['applicationProcess'], cn: name.toLowerCase(), seeAlso: owner };
    try {
      await this.directory.run((c) => c.add(dn, entry));
      return true;
    } catch (error) {
      if (error instanceof NoSuchObjectError) {
        for (const container of this.containers) {
          const ou = /^ou=([^,]+),/.exec(container)?.[1] ?? '';
          await this.directory.addIfMissing(container, { objectClass: ['organizationalUnit'], ou: [ou] });
        }
        return this.claim(name, owner);
      }
      if (!(error instanceof AlreadyExistsError)) throw error;
    }
    let searchEntries;
    try {
      ({ searchEntries } = await this.directory.run((c) =>
        c.search(dn, { scope: 'base', attributes: ['seeAlso', 'entryCSN'] }),
      ));
    } catch (error) {
      // Removed since the add failed (by hand, say): add it again.
      if (error instanceof NoSuchObjectError) return this.claim(name, owner);
      throw error;
    }
    const holder = String(searchEntries[0]?.seeAlso ?? '');
    const version = String(searchEntries[0]?.entryCSN ?? '');
    // A claim naming this owner was left when it gave the name up. Taking it back is a conditional write
    // like any take-over (a replace by the same value still gives the claim a new entryCSN), so that a
    // writer that found the claim stale in the same version cannot take it over as well.
    const mine = holder.toLowerCase() === owner.toLowerCase();
    if (!mine && holder && (await this.holds(holder, name))) return false;
    try {
      const takeOver = new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'seeAlso', values: [owner] }),
      });
      const unchanged = new AssertionControl(new EqualityFilter({ attribute: 'entryCSN', value: version }));
      await this.directory.run((c) => c.modify(dn, takeOver, unchanged));
      return true;
    } catch (error) {
      if (error instanceof NoSuchObjectError) return this.claim(name, owner);
      // Someone else took the claim first.
      if ((error as { code?: number }).code === AssertionControl.FAILED) return false;
      throw error;
    }
  }
}
