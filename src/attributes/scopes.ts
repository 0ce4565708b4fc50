import type { Operation } from 'fast-json-patch';
import { BadRequestError, NotFoundError } from '../errors.js';
import { untilWritten } from './change-cycle.js';
import { patchDocument, type ShapeCheck } from './json-patch.js';
import type { AttributeStore } from './store.js';

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
    /** Holds a patched scope to the API's Scope schema. */
    private readonly patchedShape: ShapeCheck,
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
   * scope never points at a DN that does not exist, and the result is held to the API's Scope schema. Concurrent changes are re-applied, never lost. Gives the scope as it was and as it is now.
   */
  async patch(inum: string, operations: Operation[]): Promise<{ before: Scope; after: Scope }> {
    return untilWritten(async () => {
      const current = await this.scopes.get(inum);
      if (!current) throw new NotFoundError('scope');
      const next = this.applyPatch(current.scope, operations);
      await this.assertClaimsExist(next.claims);
      await this.scopes.replace(current, next);
      return { before: current.scope, after: next };
    });
  }

  private applyPatch(scope: Scope, operations: Operation[]): Scope {
    const patched = patchDocument(
      { ...scope },
      operations,
      (field) => !(EDITABLE as readonly string[]).includes(field),
    );
    this.patchedShape(patched);
    const next = patched as unknown as Scope;
    return {
      ...next,
      claims: next.claims.filter((c, i) => next.claims.findIndex((d) => sameDn(c, d)) === i),
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
