import {
  Attribute,
  Change,
  DN,
  EqualityFilter,
  InvalidSyntaxError,
  LessThanEqualsFilter,
  NoSuchObjectError,
  NotAllowedOnRDNError,
  ObjectClassViolationError,
  OrFilter,
  PresenceFilter,
  ResultCodeError,
  UndefinedTypeError,
  type Entry,
  type Filter,
} from 'ldapts';
import { BadRequestError, ConcurrentChangeError } from '../errors.js';
import type { HolderRef, HolderState, ValueMeta, ValueStore, ValueWrite } from '../values/store.js';
import { AssertionControl } from './assertion-control.js';
import type { Directory } from './directory.js';
import { readSubschema } from './schema.js';

/** Syntaxes that take any printable text, and so the `{aes256gcm}<id>:<base64>` form of ciphertext. */
const TEXT_SYNTAXES = new Set([
  '1.3.6.1.4.1.1466.115.121.1.15', // Directory String
  '1.3.6.1.4.1.1466.115.121.1.26', // IA5 String
  '1.3.6.1.4.1.1466.115.121.1.40', // Octet String
]);

/** The auxiliary class that lets a user entry carry value bookkeeping. */
const HOLDER_CLASS = 'registryValueHolder';
const SESSION_CLASS = 'registrySession';
const META = 'registryValueMeta';
const NEXT_EXPIRY = 'registryValueNextExpiry';
const SESSION_ID = 'registrySessionId';
const SESSION_USER = 'registrySessionUser';
const SESSION_VALUE = 'registrySessionValue';

/** Attributes of a user entry that are the entry's machinery, never values. */
const NOT_VALUES = new Set(['dn', 'objectclass', 'entrycsn', META.toLowerCase(), NEXT_EXPIRY.toLowerCase()]);

function valuesOf(raw: Entry[string] | undefined): string[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

function change(operation: 'add' | 'delete' | 'replace', type: string, values: string[]): Change {
  return new Change({ operation, modification: new Attribute({ type, values }) });
}

/** 2026-01-01T12:00:00.000Z → 20260101120000.000Z (the directory's Generalized Time). */
function generalizedTime(iso: string): string {
  return new Date(iso).toISOString().replace(/[-:T]/g, '');
}

function parseMeta(lines: string[]): Map<string, ValueMeta> {
  const out = new Map<string, ValueMeta>();
  for (const line of lines) {
    try {
      const meta = JSON.parse(line) as ValueMeta;
      if (typeof meta.name === 'string') out.set(meta.name.toLowerCase(), meta);
    } catch {
      // A line that is not ours is left alone rather than failing every read of the entry.
    }
  }
  return out;
}

/**
 * Values on user entries (`inum=<id>,ou=people,<base>`: each value is the LDAP attribute the definition
 * names, so the OIDC side reads it as Janssen does) and on session entries
 * (`registrySessionId=<id>,ou=sessions,<base>`: values as JSON lines). Bookkeeping (times, expiry) is
 * JSON in `registryValueMeta`; the earliest expiry is in `registryValueNextExpiry`, indexed for the purge.
 * Every write is one modify, conditional on the entryCSN that was read.
 */
export class LdapValueStore implements ValueStore {
  readonly people: string;
  readonly sessions: string;

  constructor(private readonly directory: Directory) {
    this.people = `ou=people,${directory.options.baseDn}`;
    this.sessions = `ou=sessions,${directory.options.baseDn}`;
  }

  dnOf(holder: HolderRef): string {
    return holder.kind === 'user'
      ? `${new DN({ inum: holder.id }).toString()},${this.people}`
      : `${new DN({ [SESSION_ID]: holder.id }).toString()},${this.sessions}`;
  }

  async read(holder: HolderRef): Promise<HolderState | undefined> {
    let entry: Entry | undefined;
    try {
      const { searchEntries } = await this.directory.run((c) =>
        c.search(this.dnOf(holder), { scope: 'base', attributes: ['*', 'entryCSN'] }),
      );
      entry = searchEntries[0];
    } catch (error) {
      if (error instanceof NoSuchObjectError) return undefined;
      throw error;
    }
    if (!entry) return undefined;
    const classes = valuesOf(entry.objectClass).map((c) => c.toLowerCase());
    const version = valuesOf(entry.entryCSN)[0];
    const meta = parseMeta(valuesOf(entry[META]));
    const values = new Map<string, { name: string; values: string[] }>();
    if (holder.kind === 'session') {
      if (!classes.includes(SESSION_CLASS.toLowerCase())) return undefined;
      for (const line of valuesOf(entry[SESSION_VALUE])) {
        try {
          const parsed = JSON.parse(line) as { name: string; values: string[] };
          values.set(parsed.name.toLowerCase(), parsed);
        } catch {
          // Not written by this service: ignored.
        }
      }
      const owner = valuesOf(entry[SESSION_USER])[0];
      return { owner, values, meta, version, bookkept: true };
    }
    for (const [key, raw] of Object.entries(entry)) {
      if (NOT_VALUES.has(key.toLowerCase())) continue;
      values.set(key.toLowerCase(), { name: key, values: valuesOf(raw) });
    }
    const bookkept = classes.includes(HOLDER_CLASS.toLowerCase());
    return { owner: holder.id, values, meta, version, bookkept };
  }

  async write(holder: HolderRef, current: HolderState, writes: ValueWrite[], nextExpiry?: string) {
    const metas = new Map(current.meta);
    const values = new Map(current.values);
    for (const w of writes) {
      const key = w.name.toLowerCase();
      if (w.values === undefined) {
        metas.delete(key);
        values.delete(key);
      } else {
        values.set(key, { name: w.name, values: w.values });
        if (w.meta) metas.set(key, w.meta);
      }
    }
    const changes: Change[] = [];
    const keepBooks = current.bookkept || metas.size > 0;
    if (!current.bookkept && keepBooks) changes.push(change('add', 'objectClass', [HOLDER_CLASS]));
    if (holder.kind === 'user') {
      for (const w of writes) changes.push(change('replace', w.name, w.values ?? []));
    } else {
      const lines = [...values.values()].map((v) => JSON.stringify({ name: v.name, values: v.values }));
      changes.push(change('replace', SESSION_VALUE, lines));
    }
    if (keepBooks) {
      changes.push(
        change(
          'replace',
          META,
          [...metas.values()].map((m) => JSON.stringify(m)),
        ),
      );
      changes.push(change('replace', NEXT_EXPIRY, nextExpiry ? [generalizedTime(nextExpiry)] : []));
    }
    const controls = current.version
      ? [new AssertionControl(new EqualityFilter({ attribute: 'entryCSN', value: current.version }))]
      : [];
    try {
      await this.directory.run((c) => c.modify(this.dnOf(holder), changes, controls));
    } catch (error) {
      if (error instanceof ResultCodeError && error.code === AssertionControl.FAILED) {
        throw new ConcurrentChangeError();
      }
      // The entry went away between reading and writing: the same as a concurrent change.
      if (error instanceof NoSuchObjectError) throw new ConcurrentChangeError();
      throw writeError(error, writes);
    }
  }

  async expired(now: Date, limit: number): Promise<HolderRef[]> {
    const filter = new LessThanEqualsFilter({
      attribute: NEXT_EXPIRY,
      value: generalizedTime(now.toISOString()),
    });
    // No size limit on the search: with paging, slapd would answer a larger result with an error.
    const [users, sessions] = await Promise.all([
      this.search(this.people, filter, 'inum'),
      this.search(this.sessions, filter, SESSION_ID),
    ]);
    return [
      ...users.map((id): HolderRef => ({ kind: 'user', id })),
      ...sessions.map((id): HolderRef => ({ kind: 'session', id })),
    ].slice(0, limit);
  }

  async holdersWith(names?: readonly string[]): Promise<HolderRef[]> {
    if (names?.length === 0) return [];
    const userFilter = names
      ? new OrFilter({ filters: names.map((attribute) => new PresenceFilter({ attribute })) })
      : new PresenceFilter({ attribute: META });
    const users = await this.search(this.people, userFilter, 'inum');
    const sessionIds = await this.search(
      this.sessions,
      new PresenceFilter({ attribute: SESSION_VALUE }),
      SESSION_ID,
    );
    const wanted = names?.map((n) => n.toLowerCase());
    const sessions: HolderRef[] = [];
    for (const id of sessionIds) {
      const holder: HolderRef = { kind: 'session', id };
      const values = wanted && (await this.read(holder))?.values;
      if (!wanted || wanted.some((n) => values?.has(n))) sessions.push(holder);
    }
    return [...users.map((id): HolderRef => ({ kind: 'user', id })), ...sessions];
  }

  async whyNoCiphertext(name: string): Promise<string | undefined> {
    const { attributeTypes } = await readSubschema(this.directory);
    const byName = new Map(attributeTypes.flatMap((t) => t.names.map((n) => [n.toLowerCase(), t] as const)));
    // A type without its own SYNTAX takes its superior's.
    let type = byName.get(name.toLowerCase());
    for (let depth = 0; type && !type.syntax && type.sup[0] && depth < 8; depth++) {
      type = byName.get(type.sup[0].toLowerCase());
    }
    if (!type?.syntax || TEXT_SYNTAXES.has(type.syntax)) return undefined;
    return `The directory stores ${name} with syntax ${type.syntax}, which does not accept ciphertext; only text (Directory String, IA5 String) or octet-string attributes can be encrypted`;
  }

  private async search(base: string, filter: Filter, idAttribute: string): Promise<string[]> {
    try {
      const { searchEntries } = await this.directory.paged((c) =>
        c.search(base, {
          scope: 'one',
          filter,
          attributes: [idAttribute],
          paged: { pageSize: 500 },
        }),
      );
      return searchEntries.map((e) => valuesOf(e[idAttribute])[0]).filter((id): id is string => !!id);
    } catch (error) {
      if (error instanceof NoSuchObjectError) return [];
      throw error;
    }
  }
}

/** The directory's refusal of a value, as something the client can act on. */
function writeError(error: unknown, writes: ValueWrite[]): unknown {
  const named = /^(\w+)/.exec(error instanceof Error ? error.message : '')?.[1]?.toLowerCase();
  const name = writes.find((w) => w.name.toLowerCase() === named)?.name;
  if (error instanceof InvalidSyntaxError) {
    return new BadRequestError(
      name ? `Invalid value for ${name}` : 'Invalid value',
      `The directory does not accept this value${name ? ` of ${name}` : ''} (its LDAP syntax refuses it)`,
    );
  }
  if (error instanceof ObjectClassViolationError || error instanceof UndefinedTypeError) {
    return new BadRequestError(
      'The directory cannot store this attribute here',
      `${name ?? 'An attribute'} is not allowed on this entry by the directory schema (its object classes)`,
    );
  }
  if (error instanceof NotAllowedOnRDNError) {
    return new BadRequestError('Invalid attribute', 'The attribute that names the entry cannot be changed');
  }
  return error;
}
