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
  SubstringFilter,
  UndefinedTypeError,
  type Entry,
  type Filter,
} from 'ldapts';
import {
  BOOLEAN_FIELDS,
  LIST_FIELDS,
  STRING_FIELDS,
  enumOf,
  type AttributeDefinition,
  type AttributeValidation,
  type StoredAttribute,
  type StoredField,
} from '../attributes/definition.js';
import { sortAndPage, type Condition, type ListQuery, type Page } from '../attributes/query.js';
import type { AttributeStore } from '../attributes/store.js';
import { BadRequestError, ConcurrentChangeError, ConflictError } from '../errors.js';
import { AssertionControl } from './assertion-control.js';
import { NameClaims } from './name-claims.js';
import { PostReadControl } from './post-read-control.js';
import type { Directory } from './directory.js';

/** Janssen's LDAP attribute for each persisted JSON field. */
export const LDAP_NAMES: Record<StoredField, string> = {
  inum: 'inum',
  name: 'jansAttrName',
  displayName: 'displayName',
  description: 'description',
  origin: 'jansAttrOrigin',
  dataType: 'jansAttrTyp',
  claimName: 'jansClaimName',
  seeAlso: 'seeAlso',
  status: 'jansStatus',
  saml1Uri: 'jansSAML1URI',
  saml2Uri: 'jansSAML2URI',
  urn: 'urn',
  sourceAttribute: 'jansSourceAttr',
  nameIdType: 'jansNameIdTyp',
  tooltip: 'jansTooltip',
  editType: 'jansAttrEditTyp',
  viewType: 'jansAttrViewTyp',
  usageType: 'jansAttrUsgTyp',
  scimCustomAttr: 'jansScimCustomAttr',
  oxMultiValuedAttribute: 'jansMultivaluedAttr',
  jansHideOnDiscovery: 'jansHideOnDiscovery',
  required: 'jansRequired',
  encrypted: 'registryAttrEncrypted',
  predefined: 'registryAttrPredefined',
  attributeValidation: 'jansValidation',
};

const FIELD_BY_LDAP_NAME = new Map(
  Object.entries(LDAP_NAMES).map(([field, ldap]) => [ldap.toLowerCase(), field]),
);

/**
 * `jansRequired`, `encrypted` and `predefined` are not in Janssen's jansAttr object class; this project's
 * auxiliary class allows them. The class is present exactly when the entry carries one of them.
 */
const EXTENSION_CLASS = 'jansAttrRegistryExt';
const EXTENSION_FIELDS = ['required', 'encrypted', 'predefined'] as const;
const usesExtension = (d: AttributeDefinition) => EXTENSION_FIELDS.some((f) => d[f] !== undefined);
const IS_DEFINITION = new EqualityFilter({ attribute: 'objectClass', value: 'jansAttr' });
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

/** The inum in `inum=<value>,ou=attributes,...`, with DN escapes undone. */
export function inumOf(dn: string): string | undefined {
  const value = /^inum=((?:[^,+\\]|\\.)+),/i.exec(dn)?.[1];
  if (value === undefined) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value[i] === '\\' ? /^[0-9a-f]{2}/i.exec(value.slice(i + 1))?.[0] : undefined;
    if (hex) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      if (value[i] === '\\') i++;
      bytes.push(...Buffer.from(value[i] ?? '', 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function sameValues(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

function change(operation: 'add' | 'delete' | 'replace', type: string, values: string[]): Change {
  return new Change({ operation, modification: new Attribute({ type, values }) });
}

/** Translates a domain condition into ldapts filter objects: user text only ever becomes a value. */
export function toFilter(condition: Condition): Filter {
  switch (condition.kind) {
    case 'equals':
      return new EqualityFilter({
        attribute: LDAP_NAMES[condition.field],
        value: condition.value === true ? 'TRUE' : condition.value,
      });
    case 'contains':
      return new OrFilter({
        filters: condition.fields.map(
          (field) => new SubstringFilter({ attribute: LDAP_NAMES[field], any: [condition.text] }),
        ),
      });
    case 'any':
      return new OrFilter({ filters: condition.of.map(toFilter) });
    case 'all':
      return new AndFilter({ filters: condition.of.map(toFilter) });
    case 'not':
      return new NotFilter({ filter: toFilter(condition.of) });
  }
}

/** Every mapped LDAP attribute with its values for this definition; no values means "not present". */
function toLdapValues(d: AttributeDefinition): [string, string[]][] {
  const out: [string, string[]][] = [[LDAP_NAMES.inum, [d.inum]]];
  for (const field of STRING_FIELDS) out.push([LDAP_NAMES[field], d[field] === undefined ? [] : [d[field]]]);
  for (const field of LIST_FIELDS) out.push([LDAP_NAMES[field], d[field] ?? []]);
  for (const field of BOOLEAN_FIELDS) {
    const value = d[field];
    out.push([LDAP_NAMES[field], value === undefined ? [] : [value ? 'TRUE' : 'FALSE']]);
  }
  const v = d.attributeValidation;
  // Janssen stores all three keys, with nulls for the ones not set.
  const json =
    v &&
    JSON.stringify({
      minLength: v.minLength ?? null,
      maxLength: v.maxLength ?? null,
      regexp: v.regexp ?? '',
    });
  out.push([LDAP_NAMES.attributeValidation, json ? [json] : []]);
  return out;
}

function valuesOf(raw: Entry[string] | undefined): string[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
}

/** Directory values may be in any case (`ADMIN`); serve the canonical spelling where one exists. */
function canonicalSpelling(field: StoredField, value: string): string {
  const allowed = enumOf(field as (typeof STRING_FIELDS)[number]);
  return allowed?.find((a) => a.toLowerCase() === value.toLowerCase()) ?? value;
}

/**
 * Values that most definitions share (origin, role lists, ...): one copy each, so that an index of every
 * definition does not hold a hundred thousand copies of "jansCustomPerson" or ["admin"]. Lists are frozen
 * because they are internedValues.
 */
const SHARED_FIELDS = new Set<StoredField>([
  'origin',
  'dataType',
  'status',
  'nameIdType',
  'editType',
  'viewType',
  'usageType',
]);
const internedValues = new Map<string, unknown>();
function interned<T extends string | string[]>(value: T): T {
  const key = typeof value === 'string' ? value : `[]${value.join('\u0000')}`;
  const found = internedValues.get(key) as T | undefined;
  if (found !== undefined) return found;
  if (internedValues.size < 10_000)
    internedValues.set(key, typeof value === 'string' ? value : Object.freeze(value));
  return value;
}

export function fromEntry(entry: Entry): StoredAttribute {
  const byField = new Map<string, string[]>();
  for (const [key, raw] of Object.entries(entry)) {
    const field = FIELD_BY_LDAP_NAME.get(key.toLowerCase());
    if (field) byField.set(field, valuesOf(raw));
  }
  const definition: AttributeDefinition = { inum: byField.get('inum')?.[0] ?? '' };
  for (const field of STRING_FIELDS) {
    // Some directories carry two descriptions; the JSON form has room for one.
    const first = byField.get(field)?.[0];
    if (first === undefined || first === '') continue;
    const value = canonicalSpelling(field, first);
    definition[field] = SHARED_FIELDS.has(field) ? interned(value) : value;
  }
  for (const field of LIST_FIELDS) {
    const values = byField.get(field);
    if (values && values.length > 0)
      definition[field] = interned<string[]>(values.map((v) => canonicalSpelling(field, v)));
  }
  for (const field of BOOLEAN_FIELDS) {
    const first = byField.get(field)?.[0];
    if (first !== undefined) definition[field] = first.toLowerCase() === 'true';
  }
  const validation = validationFromLdap(byField.get('attributeValidation')?.[0]);
  if (validation) definition.attributeValidation = validation;
  const version = valuesOf(entry.entryCSN)[0];
  return { dn: entry.dn, definition, ...(version ? { version } : {}) };
}

function validationFromLdap(json: string | undefined): AttributeValidation | undefined {
  if (!json) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const p = parsed as Record<string, unknown>;
  const out: AttributeValidation = {};
  if (Number.isInteger(p.minLength)) out.minLength = p.minLength as number;
  if (Number.isInteger(p.maxLength)) out.maxLength = p.maxLength as number;
  if (typeof p.regexp === 'string' && p.regexp !== '') out.regexp = p.regexp;
  return Object.keys(out).length > 0 ? out : undefined;
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
