import {
  AlreadyExistsError,
  AndFilter,
  Attribute,
  Change,
  ConstraintViolationError,
  DN,
  EqualityFilter,
  GreaterThanEqualsFilter,
  InvalidDNSyntaxError,
  InvalidSyntaxError,
  NoSuchObjectError,
  NotFilter,
  ObjectClassViolationError,
  ResultCodeError,
  OrFilter,
  UndefinedTypeError,
  type Filter,
} from 'ldapts';
import type { AttributeDefinition, StoredAttribute } from '../attributes/definition.js';
import { sortAndPage, type ListQuery, type Page } from '../attributes/query.js';
import type { AttributeStore } from '../attributes/store.js';
import { BadRequestError, ConcurrentChangeError, ConflictError } from '../errors.js';
import { AssertionControl } from './assertion-control.js';
import { NameClaims } from './name-claims.js';
import { PostReadControl } from './post-read-control.js';
import {
  EXTENSION_CLASS,
  FIELD_BY_LDAP_NAME,
  LDAP_NAMES,
  fromEntry,
  inumOf,
  toLdapValues,
  usesExtension,
  valuesOf,
} from './definition-entry.js';
import { IS_DEFINITION, toFilter } from './definition-filter.js';
import type { Directory } from './directory.js';

/** User attributes plus the change sequence number that versions the entry. */
const READ_ATTRIBUTES = ['*', 'entryCSN'];

/**
 * Makes a write conditional on the entry being at the version that was read. slapd's `unique` overlay
 * runs its own search under the same control, based at `ou=attributes`; the second alternative lets
 * that base pass, while for the definition itself the filter still means "entryCSN is unchanged".
 */
function unchanged(expected: StoredAttribute): AssertionControl[] {
  if (!expected.version) return [];
  const filter = new OrFilter({
    filters: [
      new EqualityFilter({ attribute: 'entryCSN', value: expected.version }),
      new NotFilter({ filter: IS_DEFINITION }),
    ],
  });
  return [new AssertionControl(filter)];
}

function isAssertionFailure(error: unknown): boolean {
  return error instanceof ResultCodeError && error.code === AssertionControl.FAILED;
}

/** Attribute definitions as `jansAttr` entries under `ou=attributes,<base>`. */
export class LdapAttributeStore implements AttributeStore {
  readonly container: string;
  private readonly names: NameClaims;
  private readonly claims: NameClaims;

  constructor(private readonly directory: Directory) {
    this.container = `ou=attributes,${directory.options.baseDn}`;
    this.names = new NameClaims(directory, 'names', async (dn, name) => {
      const holder = await this.read(dn);
      return holder?.definition.name?.toLowerCase() === name.toLowerCase();
    });
    this.claims = new NameClaims(directory, 'claims', async (dn, claim) => {
      const holder = await this.read(dn);
      return holder !== undefined && releasedClaim(holder.definition) === claim.toLowerCase();
    });
  }

  dnOf(inum: string): string {
    return `${new DN({ inum }).toString()},${this.container}`;
  }

  async list(query: ListQuery): Promise<Page> {
    const filter = query.where
      ? new AndFilter({ filters: [IS_DEFINITION, toFilter(query.where)] })
      : IS_DEFINITION;
    const entries = await this.search(filter);
    return sortAndPage(entries, query);
  }

  get(inum: string): Promise<StoredAttribute | undefined> {
    return this.read(this.dnOf(inum));
  }

  private async read(dn: string): Promise<StoredAttribute | undefined> {
    try {
      const { searchEntries } = await this.directory.run((c) =>
        c.search(dn, { scope: 'base', filter: IS_DEFINITION, attributes: READ_ATTRIBUTES }),
      );
      return searchEntries[0] && fromEntry(searchEntries[0]);
    } catch (error) {
      // An inum that makes no valid DN (a NUL character, say) names no definition.
      if (error instanceof NoSuchObjectError || error instanceof InvalidDNSyntaxError) return undefined;
      throw error;
    }
  }

  /**
   * The definitions among `inums` that exist, read with one search, by inum in lower case (inums match
   * ignoring case).
   */
  async getMany(inums: string[]): Promise<Map<string, StoredAttribute>> {
    const filter = new AndFilter({
      filters: [
        IS_DEFINITION,
        new OrFilter({
          filters: inums.map((inum) => new EqualityFilter({ attribute: LDAP_NAMES.inum, value: inum })),
        }),
      ],
    });
    try {
      const { searchEntries } = await this.directory.run((c) =>
        c.search(this.container, { scope: 'one', filter, attributes: READ_ATTRIBUTES }),
      );
      return new Map(searchEntries.map(fromEntry).map((read) => [read.definition.inum.toLowerCase(), read]));
    } catch (error) {
      // No container: no definitions.
      if (error instanceof NoSuchObjectError) return new Map();
      throw error;
    }
  }

  findByName(name: string): Promise<StoredAttribute[]> {
    return this.search(
      new AndFilter({
        filters: [IS_DEFINITION, new EqualityFilter({ attribute: LDAP_NAMES.name, value: name })],
      }),
    );
  }

  /**
   * Every definition, read a page at a time so that only one page of raw entries is held at once. Small
   * pages matter: raw entries of a page that outlive a young-generation collection are promoted, and the
   * old generation then grows to several times what the index needs (at 100 000 definitions, pages of
   * 1000 left a peak RSS of about 460 MiB, pages of 200 about 250 MiB, and loaded faster).
   */
  async readAll(): Promise<StoredAttribute[]> {
    return this.directory.paged(async (c) => {
      const all: StoredAttribute[] = [];
      const pages = await c.searchPaginated(this.container, {
        scope: 'one',
        filter: IS_DEFINITION,
        attributes: READ_ATTRIBUTES,
        paged: { pageSize: 200 },
      });
      for await (const page of pages) for (const entry of page.searchEntries) all.push(fromEntry(entry));
      return all;
    });
  }

  /**
   * The inum (lower case) and entryCSN ('' where the directory keeps none) of every definition: what a
   * reconcile compares with the index. One paged search that returns no user attribute (the DN gives the
   * inum), so it costs the directory a walk of its objectClass index and little else.
   */
  async versions(): Promise<Map<string, string>> {
    return this.directory
      .paged(async (c) => {
        const all = new Map<string, string>();
        const pages = await c.searchPaginated(this.container, {
          scope: 'one',
          filter: IS_DEFINITION,
          attributes: ['entryCSN'],
          paged: { pageSize: 1000 },
        });
        for await (const page of pages) {
          for (const entry of page.searchEntries) {
            const inum = inumOf(entry.dn);
            if (inum !== undefined) all.set(inum.toLowerCase(), valuesOf(entry.entryCSN)[0] ?? '');
          }
        }
        return all;
      })
      .catch((error: unknown) => {
        // No container: no definitions.
        if (error instanceof NoSuchObjectError) return new Map<string, string>();
        throw error;
      });
  }

  /** Every definition whose entryCSN is at least `csn` (all of them when it is empty). */
  async changedSince(csn: string): Promise<StoredAttribute[]> {
    if (!csn) return this.readAll();
    return this.search(
      new AndFilter({
        filters: [IS_DEFINITION, new GreaterThanEqualsFilter({ attribute: 'entryCSN', value: csn })],
      }),
    );
  }

  /** The entry as a write left it: from the post-read control, or read again if the server ignored it. */
  private async written(dn: string, control: PostReadControl): Promise<StoredAttribute> {
    const stored = control.entry ? fromEntry(control.entry) : await this.read(dn);
    if (!stored) throw new ConcurrentChangeError();
    return stored;
  }

  async create(definition: AttributeDefinition): Promise<StoredAttribute | undefined> {
    const attributes: Record<string, string[]> = { objectClass: ['top', 'jansAttr'] };
    if (usesExtension(definition)) attributes.objectClass?.push(EXTENSION_CLASS);
    for (const [ldapName, values] of toLdapValues(definition)) {
      if (values.length > 0) attributes[ldapName] = values;
    }
    const dn = this.dnOf(definition.inum);
    const name = definition.name ?? '';
    const postRead = new PostReadControl(READ_ATTRIBUTES);
    try {
      await this.directory.run((c) => c.add(dn, attributes, postRead));
    } catch (error) {
      if (error instanceof AlreadyExistsError) return undefined;
      throw writeError(error, definition);
    }
    // The definition first, then its claims: a claim always names a definition that exists or existed.
    const claim = releasedClaim(definition);
    const refusal = !(await this.names.claim(name, dn))
      ? nameTaken(name)
      : claim !== undefined && !(await this.claims.claim(claim, dn))
        ? claimTaken(claim)
        : undefined;
    if (refusal) {
      await this.directory.run((c) => c.del(dn));
      throw refusal;
    }
    return this.written(dn, postRead);
  }

  async replace(current: StoredAttribute, definition: AttributeDefinition): Promise<StoredAttribute> {
    const had = usesExtension(current.definition);
    const has = usesExtension(definition);
    // Only what differs is written: every attribute in a modify costs index updates, a change-log record
    // and, for the name, a uniqueness search in slapd. (Extension types a definition does not use are
    // then never mentioned, as a directory made by Janssen has none.)
    const was = new Map(toLdapValues(current.definition));
    // What to write, and what undoes it (should the definition not get its name or claim).
    const changes: Change[] = [];
    const undo: Change[] = [];
    if (has && !had) {
      changes.push(change('add', 'objectClass', [EXTENSION_CLASS]));
      undo.push(change('delete', 'objectClass', [EXTENSION_CLASS]));
    }
    for (const [ldapName, values] of toLdapValues(definition)) {
      const before = was.get(ldapName) ?? [];
      if (ldapName === LDAP_NAMES.inum || sameValues(before, values)) continue;
      changes.push(change('replace', ldapName, values));
      undo.push(change('replace', ldapName, before));
    }
    if (had && !has) {
      changes.push(change('delete', 'objectClass', [EXTENSION_CLASS]));
      undo.push(change('add', 'objectClass', [EXTENSION_CLASS]));
    }
    if (changes.length === 0) {
      // Nothing to write, if what was read is still what the directory holds.
      const now = await this.read(current.dn);
      if (!now || now.version !== current.version) throw new ConcurrentChangeError();
      return now;
    }
    const newName = definition.name ?? '';
    const renamed = (current.definition.name ?? '').toLowerCase() !== newName.toLowerCase();
    const claim = releasedClaim(definition);
    const claims = claim !== undefined && claim !== releasedClaim(current.definition);
    const postRead = new PostReadControl(READ_ATTRIBUTES);
    try {
      await this.directory.run((c) => c.modify(current.dn, changes, [...unchanged(current), postRead]));
    } catch (error) {
      if (isAssertionFailure(error)) throw new ConcurrentChangeError();
      throw writeError(error, definition);
    }
    // The definition first, then its claims; a claim another definition holds undoes the whole change, so
    // that a refused write changes nothing (a concurrent write of the same fields in between is undone too).
    const refusal =
      renamed && !(await this.names.claim(newName, current.dn))
        ? nameTaken(newName)
        : claims && !(await this.claims.claim(claim, current.dn))
          ? claimTaken(claim)
          : undefined;
    if (refusal) {
      await this.directory.run((c) => c.modify(current.dn, undo));
      throw refusal;
    }
    return this.written(current.dn, postRead);
  }

  async remove(inum: string, expected?: StoredAttribute): Promise<boolean> {
    try {
      await this.directory.run((c) => c.del(this.dnOf(inum), expected ? unchanged(expected) : []));
      return true;
    } catch (error) {
      if (error instanceof NoSuchObjectError) return false;
      if (isAssertionFailure(error)) throw new ConcurrentChangeError();
      throw error;
    }
  }

  private async search(filter: Filter): Promise<StoredAttribute[]> {
    const { searchEntries } = await this.directory.paged((c) =>
      c.search(this.container, {
        scope: 'one',
        filter,
        attributes: READ_ATTRIBUTES,
        paged: { pageSize: 1000 },
      }),
    );
    return searchEntries.map(fromEntry);
  }
}

function sameValues(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

function change(operation: 'add' | 'delete' | 'replace', type: string, values: string[]): Change {
  return new Change({ operation, modification: new Attribute({ type, values }) });
}

/** The claim an OIDC provider releases for a definition: its claimName while it is active. */
function releasedClaim(definition: AttributeDefinition): string | undefined {
  return definition.status === 'active' ? definition.claimName?.toLowerCase() : undefined;
}

function claimTaken(claim: string): ConflictError {
  return new ConflictError(
    `Claim '${claim}' is already released by another active definition`,
    'Another active definition took this claim at the same time.',
  );
}

function nameTaken(name: string): ConflictError {
  return new ConflictError(
    `Attribute with same name '${name}' already exists!`,
    'Another definition holds this name (it was created or renamed at the same time).',
  );
}

/** Maps the directory's refusal of a write to an error the client can act on. */
function writeError(error: unknown, definition: AttributeDefinition): unknown {
  if (error instanceof ConstraintViolationError) return nameTaken(definition.name ?? '');
  if (error instanceof InvalidSyntaxError) {
    const field = FIELD_BY_LDAP_NAME.get(/^(\w+):/.exec(error.message)?.[1]?.toLowerCase() ?? '');
    return new BadRequestError(
      field ? `Invalid value for ${field}` : 'Invalid value',
      field
        ? `The directory does not accept this ${field}${field === 'seeAlso' ? ' (it must be a DN)' : ''}`
        : 'The directory does not accept one of the values',
    );
  }
  if (error instanceof ObjectClassViolationError || error instanceof UndefinedTypeError) {
    return new BadRequestError(
      'The directory schema cannot store this definition',
      "A field is not allowed by the directory schema (for example `required` on a directory without this project's schema extension).",
    );
  }
  return error;
}
