import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { BadRequestError, ConcurrentChangeError, ConflictError, NotFoundError } from '../errors.js';
import type { AttributeStore } from './store.js';

const { applyPatch, JsonPatchError } = fastJsonPatch;

/** An OAuth/OpenID scope in Janssen's wire format; `claims` are DNs of attribute definitions. */
export interface Scope {
  dn: string;
  inum: string;
  id?: string;
  displayName?: string;
  description?: string;
  scopeType?: string;
  defaultScope?: boolean;
  claims: string[];
}

/** A scope as read from the store, with the store's change marker. */
export interface StoredScope {
  scope: Scope;
  version?: string;
}

/** What a scope patch may change; the rest identifies the scope. */
const EDITABLE = ['id', 'displayName', 'description', 'scopeType', 'defaultScope', 'claims'] as const;

/** Where scopes live (`jansScope` entries under `ou=scopes`). */
export interface ScopeStore {
  list(): Promise<StoredScope[]>;
  get(inum: string): Promise<StoredScope | undefined>;
  /** The scopes whose claims include the definition at `definitionDn`. */
  referencing(definitionDn: string): Promise<StoredScope[]>;
  /** Stores `next` if the scope is still as `current` was read, else throws ConcurrentChangeError. */
  replace(current: StoredScope, next: Scope): Promise<void>;
  /** Removes one claim from a scope; nothing happens when the scope no longer has it. */
  removeClaim(scopeInum: string, definitionDn: string): Promise<void>;
}

/** How often a patch is re-applied when another writer changed the scope between its read and write. */
const MAX_ATTEMPTS = 10;

/** Compares DNs as the directory does for these simple ones: ignoring case and spaces around commas. */
export function sameDn(a: string, b: string): boolean {
  const norm = (dn: string) => dn.replace(/\s*,\s*/g, ',').toLowerCase();
  return norm(a) === norm(b);
}

/** The scopes that release which claims: reading them, and changing them without dangling references. */
export class ScopeService {
  constructor(
    private readonly scopes: ScopeStore,
    private readonly attributes: AttributeStore,
  ) {}

  async list(): Promise<Scope[]> {
    return (await this.scopes.list()).map((s) => s.scope).sort((a, b) => a.inum.localeCompare(b.inum));
  }

  async get(inum: string): Promise<Scope> {
    const found = await this.scopes.get(inum);
    if (!found) throw new NotFoundError('scope');
    return found.scope;
  }

  /**
   * Applies an RFC 6902 patch to a scope. Every claim must name an existing attribute definition, so a
   * scope never points at a DN that does not exist. Concurrent changes are re-applied, never lost.
   */
  async patch(inum: string, operations: Operation[]): Promise<Scope> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.scopes.get(inum);
      if (!current) throw new NotFoundError('scope');
      const next = this.applyPatch(current.scope, operations);
      await this.assertClaimsExist(next.claims);
      try {
        await this.scopes.replace(current, next);
        return next;
      } catch (error) {
        if (!(error instanceof ConcurrentChangeError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  private applyPatch(scope: Scope, operations: Operation[]): Scope {
    let patched: Record<string, unknown>;
    try {
      patched = applyPatch(structuredClone(scope), operations, true, false).newDocument as unknown as Record<
        string,
        unknown
      >;
    } catch (error) {
      if (!(error instanceof JsonPatchError)) throw error;
      const at = `operation ${error.index ?? 0}`;
      if (error.name === 'TEST_OPERATION_FAILED') {
        throw new ConflictError(
          'JSON Patch test failed',
          `The test in ${at} does not hold; nothing was changed`,
        );
      }
      throw new BadRequestError(`Invalid patch ${at}`, error.message.split('\n')[0]);
    }
    for (const field of Object.keys(patched)) {
      const fixed = !(EDITABLE as readonly string[]).includes(field);
      if (fixed && patched[field] !== (scope as unknown as Record<string, unknown>)[field]) {
        throw new BadRequestError('Invalid patch', `${field} cannot be changed`);
      }
    }
    const text = (field: string) => {
      const value = patched[field];
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'string')
        throw new BadRequestError(`Invalid value for ${field}`, `${field} must be a string`);
      return value;
    };
    const claims = patched.claims ?? [];
    if (!Array.isArray(claims) || claims.some((c) => typeof c !== 'string')) {
      throw new BadRequestError(
        'Invalid value for claims',
        'claims must be a list of attribute definition DNs',
      );
    }
    const defaultScope = patched.defaultScope;
    if (defaultScope !== undefined && defaultScope !== null && typeof defaultScope !== 'boolean') {
      throw new BadRequestError('Invalid value for defaultScope', 'defaultScope must be true or false');
    }
    const unique = claims.filter((c, i) => claims.findIndex((d) => sameDn(c, d)) === i);
    return {
      dn: scope.dn,
      inum: scope.inum,
      id: text('id'),
      displayName: text('displayName'),
      description: text('description'),
      scopeType: text('scopeType'),
      defaultScope: defaultScope ?? undefined,
      claims: unique,
    };
  }

  private async assertClaimsExist(claims: string[]): Promise<void> {
    for (const dn of claims) {
      const inum = /^\s*inum\s*=\s*([^,+]+)\s*,/i.exec(dn)?.[1];
      const stored = inum === undefined ? undefined : await this.attributes.get(inum);
      if (!stored || !sameDn(stored.dn, dn)) {
        throw new BadRequestError(
          'Invalid value for claims',
          `${dn} is not the DN of an attribute definition; a scope can only release defined claims`,
        );
      }
    }
  }
}
