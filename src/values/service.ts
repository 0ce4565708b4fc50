import type { AttributeDefinition } from '../attributes/definition.js';
import type { ChangeObserver } from '../attributes/service.js';
import { KeyedQueue, untilWritten } from '../attributes/change-cycle.js';
import { AppError, BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import { ValueCipher } from './value-cipher.js';
import {
  accessOf,
  anchoredPattern,
  type Audience,
  type CompiledSchema,
  type ValueSchemas,
} from './value-schema.js';
import type { HolderRef, HolderState, ValueMeta, ValueStore, ValueWrite } from './store.js';

/** Who is asking: an administrator (by scope), or a subject that may act on what it owns. */
export interface Caller {
  admin: boolean;
  subject?: string;
}

export const READ_OPS = ['get', 'exists'] as const;
export const WRITE_OPS = ['create', 'update', 'set'] as const;
export type ValueOp = (typeof READ_OPS)[number] | (typeof WRITE_OPS)[number] | 'delete';

/** One item of an operation: the attribute, and for writes its value and optional expiry. */
export interface ValueItem {
  name: string;
  value?: unknown;
  /** Seconds from now. */
  expiresIn?: number;
  /** RFC 3339 date-time. */
  expiresAt?: string;
}

export interface ValueMetadata {
  created?: string;
  updated?: string;
  expiresAt?: string;
  encrypted: boolean;
}

/** The answer for one item: an HTTP-like status, and what the operation yields. */
export interface ItemResult {
  name: string;
  status: number;
  value?: unknown;
  exists?: boolean;
  metadata?: ValueMetadata;
  error?: AppError;
}

/** Expiries further away than this are refused as mistakes (100 years). */
const MAX_EXPIRY_S = 100 * 365 * 24 * 3600;

/**
 * The directory's Generalized Time form of an instant, e.g. 20260101120000.123Z. The `date-time` format
 * accepts texts that are no instant JavaScript can represent (a leap second, an offset such as +99:99) or
 * that fall outside years 0000-9999 in UTC: those are refused as the caller's mistake.
 */
function toGeneralizedTime(name: string, text: string): string {
  const at = new Date(text);
  const iso = Number.isNaN(at.getTime()) ? undefined : at.toISOString();
  if (!iso || !/^\d{4}-/.test(iso)) {
    throw new BadRequestError(
      `Invalid value for ${name}`,
      `${name} must be a date-time between the years 0000 and 9999 in UTC, with seconds up to 59 and an offset of the form ±hh:mm within ±23:59`,
    );
  }
  return iso.replace(/[-:T]/g, '').replace(/\.000Z$/, 'Z');
}

function fromGeneralizedTime(text: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/.exec(text);
  if (!m) return text;
  const at = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}Z`);
  // A stored time JavaScript cannot represent (a leap second loaded over LDAP) is served as stored.
  return Number.isNaN(at.getTime()) ? text : at.toISOString();
}

/** A JSON value as the directory stores it, per the definition's data type. */
export function encodeValue(definition: AttributeDefinition, value: unknown): string {
  switch (definition.dataType) {
    case 'boolean':
      return value ? 'TRUE' : 'FALSE';
    case 'generalizedTime':
      return toGeneralizedTime(definition.name ?? 'the value', String(value));
    case 'json':
      return JSON.stringify(value);
    default:
      return String(value);
  }
}

export function decodeValue(definition: AttributeDefinition | undefined, stored: string): unknown {
  switch (definition?.dataType) {
    case 'numeric': {
      const n = Number(stored);
      return Number.isFinite(n) ? n : stored;
    }
    case 'boolean':
      return stored.toLowerCase() === 'true';
    case 'generalizedTime':
      return fromGeneralizedTime(stored);
    case 'json':
      try {
        return JSON.parse(stored) as unknown;
      } catch {
        return stored;
      }
    default:
      return stored;
  }
}

/** What planning the items of one request works from: the holder as read and the rules that apply. */
interface Planning {
  op: ValueOp;
  state: HolderState;
  audience: Audience;
  definitions: Map<string, AttributeDefinition>;
  schema: CompiledSchema | undefined;
  now: Date;
  withMetadata: boolean;
}

const lower = (name: string) => name.toLowerCase();
const holderKey = (holder: HolderRef) => `${holder.kind}\u0000${holder.id}`;

/**
 * Values of user and session attributes, held to their definitions: one JSON Schema per audience
 * decides what is valid, viewType/editType who may see or change what, `encrypted` whether the value is
 * stored as ciphertext, and an optional expiry when it stops existing. Expired values are absent for
 * every operation, and are removed with the next write of their holder or by `purgeExpired`.
 */
export class ValueService {
  /** Writes to one holder run one at a time within this process; across processes the store's check decides. */
  private readonly turns = new KeyedQueue();

  constructor(
    private readonly store: ValueStore,
    readonly schemas: ValueSchemas,
    private readonly cipher: ValueCipher,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The names of the values the caller may see, present and not expired. */
  async names(holder: HolderRef, caller: Caller): Promise<string[]> {
    const state = await this.readHolder(holder, caller);
    const audience = this.authorize(holder, state, caller);
    const { definitions } = await this.schemas.current();
    const now = this.now();
    const names: string[] = [];
    for (const [key, stored] of state.values) {
      const definition = definitions.get(key);
      if (!definition || !accessOf(definition, audience).view) continue;
      if (this.expired(state.meta.get(key), now)) continue;
      names.push(stored.name);
    }
    return names.sort((a, b) => a.localeCompare(b));
  }

  /** One operation on one attribute; a refusal is thrown as the error it is. */
  async one(
    holder: HolderRef,
    caller: Caller,
    op: ValueOp,
    item: ValueItem,
    withMetadata = false,
  ): Promise<ItemResult> {
    const [result] = await this.many(holder, caller, op, [item], withMetadata);
    if (result?.error) throw result.error;
    return result as ItemResult;
  }

  /**
   * One operation on several attributes, answered per item. The writes that are valid are applied
   * together, in one change of the holder; the others change nothing.
   */
  async many(
    holder: HolderRef,
    caller: Caller,
    op: ValueOp,
    items: ValueItem[],
    withMetadata = false,
  ): Promise<ItemResult[]> {
    if (op === 'get' || op === 'exists') return this.apply(holder, caller, op, items, withMetadata);
    return this.exclusive(holder, () => this.apply(holder, caller, op, items, withMetadata));
  }

  /** Changes to one holder's values take turns within this process. */
  private exclusive<T>(holder: HolderRef, work: () => Promise<T>): Promise<T> {
    return this.turns.run(holderKey(holder), work);
  }

  /**
   * Reads the holder, plans each item against its definition and the caller's audience, and writes the
   * valid changes together, conditional on the state read (again on the fresh state if it changed).
   */
  private async apply(
    holder: HolderRef,
    caller: Caller,
    op: ValueOp,
    items: ValueItem[],
    withMetadata: boolean,
  ): Promise<ItemResult[]> {
    return untilWritten(async () => {
      const state = await this.readHolder(holder, caller);
      const audience = this.authorize(holder, state, caller);
      const { definitions, byAudience } = await this.schemas.current();
      const request: Planning = {
        op,
        state,
        audience,
        definitions,
        schema: byAudience.get(audience),
        now: this.now(),
        withMetadata,
      };
      const writes = new Map<string, ValueWrite>();
      const results: ItemResult[] = [];
      const seen = new Set<string>();
      for (const item of items) {
        try {
          const { result, write } = this.plan(request, item, seen);
          results.push(result);
          if (write) writes.set(lower(write.name), write);
        } catch (error) {
          if (!(error instanceof AppError) || !error.expose) throw error;
          results.push({ name: item.name, status: error.status, error });
        }
      }
      if (writes.size === 0) return results;
      // Expired values of the holder go with the same change.
      for (const [key, meta] of state.meta) {
        if (!writes.has(key) && this.expired(meta, request.now)) writes.set(key, { name: meta.name });
      }
      const next = this.nextExpiry(state, writes, request.now);
      await this.store.write(holder, state, [...writes.values()], next);
      return results;
    });
  }

  /**
   * What one item of a request does: its answer, and the change it makes (none for a read). A refusal is
   * thrown, as the error the item is answered with.
   */
  private plan(
    request: Planning,
    item: ValueItem,
    seen: Set<string>,
  ): { result: ItemResult; write?: ValueWrite } {
    const { op, state, audience, definitions, now } = request;
    const key = lower(item.name);
    if (seen.has(key)) {
      throw new BadRequestError(`Invalid item ${item.name}`, `${item.name} is named twice in one request`);
    }
    seen.add(key);
    const definition = definitions.get(key);
    if (!definition) {
      throw new BadRequestError(
        `Unknown attribute ${item.name}`,
        `No active attribute definition is named ${item.name}`,
      );
    }
    const name = definition.name as string;
    const access = accessOf(definition, audience);
    const present = state.values.has(key) && !this.expired(state.meta.get(key), now);
    if (op === 'get' || op === 'exists') {
      if (!access.view) throw new ForbiddenError(`The ${audience} may not view ${name}`);
      if (op === 'exists') return { result: { name, status: 200, exists: present } };
      if (!present) throw new NotFoundError(`value of ${name}`);
      return { result: { name, status: 200, ...this.reveal(definition, state, request.withMetadata) } };
    }
    if (!access.edit) throw new ForbiddenError(`The ${audience} may not change ${name}`);
    if (op === 'delete') {
      if (!present) throw new NotFoundError(`value of ${name}`);
      return { result: { name, status: 204 }, write: { name } };
    }
    if (op === 'create' && present) {
      throw new ConflictError(
        `${name} already has a value`,
        'create needs an absent value; use set or update',
      );
    }
    if (op === 'update' && !present) throw new NotFoundError(`value of ${name}`);
    return this.planSet(request, item, definition, present);
  }

  /** A create, update or set of one value: checked by the schema, encoded, encrypted, with its bookkeeping. */
  private planSet(
    { state, schema, now, withMetadata }: Planning,
    item: ValueItem,
    definition: AttributeDefinition,
    present: boolean,
  ): { result: ItemResult; write: ValueWrite } {
    const name = definition.name as string;
    if (schema?.property(name)?.readOnly) {
      throw new BadRequestError(
        `Invalid value for ${name}`,
        `The regexp of ${name}'s definition cannot be checked in linear time, so its values cannot be set`,
      );
    }
    if (item.value === undefined) {
      throw new BadRequestError(`Invalid value for ${name}`, `The value of ${name} is required`);
    }
    const problem = schema?.check(name, item.value);
    if (problem) throw new BadRequestError(`Invalid value for ${name}`, problem);
    const expiresAt = this.expiryOf(item, now);
    const list = definition.oxMultiValuedAttribute ? (item.value as unknown[]) : [item.value];
    const encoded = list.map((v) => encodeValue(definition, v));
    const stored = definition.encrypted ? encoded.map((e) => this.cipher.encrypt(name, e)) : encoded;
    const nowIso = now.toISOString();
    const before = present ? state.meta.get(lower(name)) : undefined;
    const meta: ValueMeta = {
      name,
      created: before?.created ?? nowIso,
      updated: nowIso,
      ...(expiresAt ? { expiresAt } : {}),
    };
    return {
      result: {
        name,
        status: present ? 200 : 201,
        value: item.value,
        ...(withMetadata ? { metadata: this.metadataOf(meta, definition.encrypted === true) } : {}),
      },
      write: { name, values: stored, meta },
    };
  }

  /** Removes expired values from the holders whose earliest expiry has passed; returns how many holders. */
  async purgeExpired(limit = 100): Promise<number> {
    const now = this.now();
    const holders = await this.store.expired(now, limit);
    for (const holder of holders) {
      await this.rewrite(holder, (state) => {
        const writes = new Map<string, ValueWrite>();
        for (const [key, meta] of state.meta) {
          if (this.expired(meta, now)) writes.set(key, { name: meta.name });
        }
        return writes;
      });
    }
    return holders.length;
  }

  /**
   * Brings stored values in line with `definitions` (active or not) and the current key: values of
   * encrypted definitions are encrypted with the write key, others are stored clear. It looks at every
   * holder that carries a value of an encrypted definition, with bookkeeping or without (a value loaded
   * over LDAP has none), and at every holder with bookkept values. Limited to one attribute when `name` is
   * given (after its `encrypted` flag changed). Returns the number of values rewritten.
   */
  async reencrypt(definitions: readonly AttributeDefinition[], name?: string): Promise<number> {
    const byName = new Map(definitions.filter((d) => d.name).map((d) => [lower(d.name as string), d]));
    const encrypted = [...byName.values()].filter((d) => d.encrypted).map((d) => d.name as string);
    const holders = new Map<string, HolderRef>();
    const found =
      name === undefined
        ? [...(await this.store.holdersWith()), ...(await this.store.holdersWith(encrypted))]
        : await this.store.holdersWith([name]);
    for (const holder of found) holders.set(holderKey(holder), holder);
    let count = 0;
    for (const holder of holders.values()) {
      await this.rewrite(holder, (state) => {
        const writes = new Map<string, ValueWrite>();
        for (const [key, stored] of state.values) {
          if (name !== undefined && key !== lower(name)) continue;
          const definition = byName.get(key);
          const encrypted = stored.values.some((v) => ValueCipher.isCiphertext(v));
          // A value with no definition keeps its form; only its key is brought up to date.
          const wanted = definition ? definition.encrypted === true : encrypted;
          const stale = stored.values.some(
            (v) => ValueCipher.isCiphertext(v) && ValueCipher.keyIdOf(v) !== this.cipher.writeKeyId,
          );
          if (wanted === encrypted && !(wanted && stale)) continue;
          const clear = stored.values.map((v) => this.cipher.decrypt(stored.name, v));
          const values = wanted ? clear.map((v) => this.cipher.encrypt(stored.name, v)) : clear;
          writes.set(key, { name: stored.name, values });
        }
        count += writes.size;
        return writes;
      });
    }
    return count;
  }

  /**
   * Keeps definitions and values in step: a regexp the linear-time engine cannot run is refused, and so is
   * a change of the `encrypted` flag whose stored values this instance lacks a key to rewrite. After a
   * change the schemas are rebuilt, and a changed `encrypted` flag re-encrypts or decrypts the stored
   * values of the changed definition, active or not.
   */
  observer(): ChangeObserver {
    return {
      checking: async (before, after) => {
        const regexp = after?.attributeValidation?.regexp;
        if (
          regexp !== undefined &&
          regexp !== before?.attributeValidation?.regexp &&
          !anchoredPattern(regexp)
        ) {
          throw new BadRequestError(
            'Invalid value for attributeValidation.regexp',
            'attributeValidation.regexp must be an RE2 expression (no backreferences or lookaround), so values can be checked in linear time',
          );
        }
        const encrypt = after?.encrypted === true;
        if (!after?.name || encrypt === (before?.encrypted === true)) return;
        if (encrypt) {
          const why = await this.store.whyNoCiphertext(after.name);
          if (why) throw new ConflictError(`Values of ${after.name} cannot be stored encrypted`, why);
        }
        const missing = await this.missingKey(after.name, encrypt);
        if (missing) throw missing;
      },
      changed: async ({ before, after }) => {
        this.schemas.invalidate();
        const was = before?.definition.encrypted === true;
        const is = after?.definition.encrypted === true;
        const name = after?.definition.name;
        if (after && name && was !== is) await this.reencrypt([after.definition], name);
      },
    };
  }

  /**
   * Why this instance cannot rewrite the stored values of `name` encrypted (or clear, when `encrypt` is
   * false): no write key, or no key for a value already stored as ciphertext. Undefined when it can.
   */
  private async missingKey(name: string, encrypt: boolean): Promise<ConflictError | undefined> {
    const holders = await this.store.holdersWith([name]);
    if (holders.length === 0) return undefined;
    if (encrypt && !this.cipher.enabled) {
      return new ConflictError(
        'Encryption is not configured',
        `${name} has stored values and VALUE_ENCRYPTION_KEYS is not set, so they cannot be encrypted`,
      );
    }
    for (const holder of holders) {
      const stored = (await this.store.read(holder))?.values.get(lower(name))?.values ?? [];
      for (const value of stored) {
        const keyId = ValueCipher.keyIdOf(value);
        if (keyId === undefined || this.cipher.hasKey(keyId)) continue;
        return new ConflictError(
          `An encryption key of ${name} is missing`,
          `A stored value of ${name} was encrypted with key '${keyId}', which ${
            this.cipher.enabled
              ? 'VALUE_ENCRYPTION_KEYS does not list'
              : 'is not configured (VALUE_ENCRYPTION_KEYS is not set)'
          }, so it cannot be ${encrypt ? 're-encrypted' : 'decrypted'}; configure that key and retry`,
        );
      }
    }
    return undefined;
  }

  private async rewrite(holder: HolderRef, plan: (state: HolderState) => Map<string, ValueWrite>) {
    return this.exclusive(holder, () => this.rewriteNow(holder, plan));
  }

  private async rewriteNow(holder: HolderRef, plan: (state: HolderState) => Map<string, ValueWrite>) {
    await untilWritten(async () => {
      const state = await this.store.read(holder);
      if (!state) return;
      const writes = plan(state);
      if (writes.size === 0) return;
      await this.store.write(holder, state, [...writes.values()], this.nextExpiry(state, writes, this.now()));
    });
  }

  private async readHolder(holder: HolderRef, caller: Caller): Promise<HolderState> {
    const state = await this.store.read(holder);
    if (state) return state;
    // Whether someone else's session exists is not told to a caller who may not act on it.
    if (!caller.admin && !(holder.kind === 'user' && holder.id === caller.subject)) {
      throw new ForbiddenError(
        `Only your own ${holder.kind === 'user' ? 'user' : 'sessions'} without an admin scope`,
      );
    }
    throw new NotFoundError(holder.kind);
  }

  private authorize(holder: HolderRef, state: HolderState, caller: Caller): Audience {
    if (caller.admin) return 'admin';
    if (caller.subject !== undefined && state.owner === caller.subject) return 'user';
    throw new ForbiddenError(
      holder.kind === 'user'
        ? 'Without an admin scope a token may act only on the user it was issued to (its sub)'
        : 'Without an admin scope a token may act only on sessions of the user it was issued to (its sub)',
    );
  }

  private expired(meta: ValueMeta | undefined, now: Date): boolean {
    return meta?.expiresAt !== undefined && Date.parse(meta.expiresAt) <= now.getTime();
  }

  private expiryOf(item: ValueItem, now: Date): string | undefined {
    if (item.expiresIn !== undefined && item.expiresAt !== undefined) {
      throw new BadRequestError(`Invalid expiry for ${item.name}`, 'Give expiresIn or expiresAt, not both');
    }
    if (item.expiresIn !== undefined) {
      if (!Number.isInteger(item.expiresIn) || item.expiresIn < 1 || item.expiresIn > MAX_EXPIRY_S) {
        throw new BadRequestError(
          `Invalid value for expiresIn`,
          `expiresIn must be a whole number of seconds from 1 to ${MAX_EXPIRY_S}`,
        );
      }
      return new Date(now.getTime() + item.expiresIn * 1000).toISOString();
    }
    if (item.expiresAt !== undefined) {
      const at = Date.parse(item.expiresAt);
      if (Number.isNaN(at))
        throw new BadRequestError('Invalid value for expiresAt', 'expiresAt must be a date-time');
      if (at <= now.getTime())
        throw new BadRequestError('Invalid value for expiresAt', 'expiresAt must be in the future');
      if (at > now.getTime() + MAX_EXPIRY_S * 1000) {
        throw new BadRequestError('Invalid value for expiresAt', 'expiresAt must be within 100 years');
      }
      return new Date(at).toISOString();
    }
    return undefined;
  }

  /** The earliest expiry that stays on the holder after the writes, for the purge to find. */
  private nextExpiry(state: HolderState, writes: Map<string, ValueWrite>, now: Date): string | undefined {
    const metas = new Map(state.meta);
    for (const [key, write] of writes) {
      if (write.values === undefined) metas.delete(key);
      else if (write.meta) metas.set(key, write.meta);
    }
    const times = [...metas.values()]
      .map((m) => m.expiresAt)
      .filter((t): t is string => t !== undefined && Date.parse(t) > now.getTime())
      .sort();
    return times[0];
  }

  private metadataOf(meta: ValueMeta | undefined, encrypted: boolean): ValueMetadata {
    return {
      ...(meta?.created ? { created: meta.created } : {}),
      ...(meta?.updated ? { updated: meta.updated } : {}),
      ...(meta?.expiresAt ? { expiresAt: meta.expiresAt } : {}),
      encrypted,
    };
  }

  private reveal(
    definition: AttributeDefinition,
    state: HolderState,
    withMetadata: boolean,
  ): { value: unknown; metadata?: ValueMetadata } {
    const key = lower(definition.name as string);
    const stored = state.values.get(key)?.values ?? [];
    const encrypted = stored.some((v) => ValueCipher.isCiphertext(v));
    const values = stored.map((v) =>
      decodeValue(definition, this.cipher.decrypt(definition.name as string, v)),
    );
    const value = definition.oxMultiValuedAttribute ? values : values[0];
    return { value, ...(withMetadata ? { metadata: this.metadataOf(state.meta.get(key), encrypted) } : {}) };
  }
}
