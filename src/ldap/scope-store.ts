import {
  AndFilter,
  Attribute,
  Change,
  DN,
  EqualityFilter,
  NoSuchAttributeError,
  NoSuchObjectError,
  ResultCodeError,
  type Entry,
  type Filter,
} from 'ldapts';
import type { Scope, ScopeStore, StoredScope } from '../attributes/scopes.js';
import { ConcurrentChangeError } from '../errors.js';
import { AssertionControl } from './assertion-control.js';
import type { Directory } from './directory.js';

const IS_SCOPE = new EqualityFilter({ attribute: 'objectClass', value: 'jansScope' });

/** Janssen's LDAP attribute for each scope field. */
const LDAP_NAMES = {
  id: 'jansId',
  displayName: 'displayName',
  description: 'description',
  scopeType: 'jansScopeTyp',
  defaultScope: 'jansDefScope',
  claims: 'jansClaim',
} as const;

function values(entry: Entry, name: string): string[] {
  const raw = entry[name];
  return (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
}

function fromEntry(entry: Entry): StoredScope {
  const first = (name: string) => values(entry, name)[0];
  const flag = first(LDAP_NAMES.defaultScope);
  const scope: Scope = {
    dn: entry.dn,
    inum: first('inum') ?? '',
    id: first(LDAP_NAMES.id),
    displayName: first(LDAP_NAMES.displayName),
    description: first(LDAP_NAMES.description),
    scopeType: first(LDAP_NAMES.scopeType),
    defaultScope: flag === undefined ? undefined : flag.toUpperCase() === 'TRUE',
    claims: values(entry, LDAP_NAMES.claims),
  };
  return { scope, version: first('entryCSN') };
}

/** Scopes as `jansScope` entries under `ou=scopes,<base>`. A directory without that branch has no scopes. */
export class LdapScopeStore implements ScopeStore {
  readonly container: string;

  constructor(private readonly directory: Directory) {
    this.container = `ou=scopes,${directory.options.baseDn}`;
  }

  list(): Promise<StoredScope[]> {
    return this.search(IS_SCOPE);
  }

  async get(inum: string): Promise<StoredScope | undefined> {
    const dn = `${new DN({ inum }).toString()},${this.container}`;
    try {
      const { searchEntries } = await this.directory.run((c) =>
        c.search(dn, { scope: 'base', filter: IS_SCOPE, attributes: ['*', 'entryCSN'] }),
      );
      return searchEntries[0] && fromEntry(searchEntries[0]);
    } catch (error) {
      if (error instanceof NoSuchObjectError) return undefined;
      throw error;
    }
  }

  referencing(definitionDn: string): Promise<StoredScope[]> {
    return this.search(
      new AndFilter({
        filters: [IS_SCOPE, new EqualityFilter({ attribute: LDAP_NAMES.claims, value: definitionDn })],
      }),
    );
  }

  async replace(current: StoredScope, next: Scope): Promise<void> {
    const changes = Object.entries(LDAP_NAMES).map(([field, ldapName]) => {
      const value = next[field as keyof typeof LDAP_NAMES];
      const list =
        value === undefined
          ? []
          : Array.isArray(value)
            ? value
            : [typeof value === 'boolean' ? String(value).toUpperCase() : value];
      return new Change({
        operation: 'replace',
        modification: new Attribute({ type: ldapName, values: list }),
      });
    });
    const asserted = current.version
      ? [new AssertionControl(new EqualityFilter({ attribute: 'entryCSN', value: current.version }))]
      : [];
    try {
      await this.directory.run((c) => c.modify(current.scope.dn, changes, asserted));
    } catch (error) {
      if (error instanceof ResultCodeError && error.code === AssertionControl.FAILED) {
        throw new ConcurrentChangeError();
      }
      throw error;
    }
  }

  async removeClaim(scopeInum: string, definitionDn: string): Promise<void> {
    const dn = `${new DN({ inum: scopeInum }).toString()},${this.container}`;
    const change = new Change({
      operation: 'delete',
      modification: new Attribute({ type: LDAP_NAMES.claims, values: [definitionDn] }),
    });
    try {
      await this.directory.run((c) => c.modify(dn, change));
    } catch (error) {
      if (error instanceof NoSuchAttributeError || error instanceof NoSuchObjectError) return;
      throw error;
    }
  }

  private async search(filter: Filter): Promise<StoredScope[]> {
    try {
      const { searchEntries } = await this.directory.run((c) =>
        c.search(this.container, { scope: 'one', filter, attributes: ['*', 'entryCSN'] }),
      );
      return searchEntries.map(fromEntry);
    } catch (error) {
      if (error instanceof NoSuchObjectError) return [];
      throw error;
    }
  }
}
