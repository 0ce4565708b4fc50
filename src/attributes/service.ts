import { randomUUID } from 'node:crypto';
import type { Operation } from 'fast-json-patch';
import {
  AppError,
  BadRequestError,
  ConcurrentChangeError,
  ConflictError,
  NotFoundError,
  NotInSchemaError,
  PreconditionFailedError,
} from '../errors.js';
import {
  DERIVED_FLAGS,
  assertClaimName,
  assertNewName,
  entityTag,
  readDefinition,
  tagMatches,
  toWire,
  type AttributeDefinition,
  type StoredAttribute,
} from './definition.js';
import { findConflicts, heldValue, type Conflict } from './conflicts.js';
import { patchDocument, type ShapeCheck } from './json-patch.js';
import { everyDefinition, parseListQuery, type ListParams, type Page } from './query.js';
import { sameDn, type Scope, type ScopeStore } from './scopes.js';
import { MAX_ATTEMPTS, KeyedQueue, untilWritten } from './change-cycle.js';
import type { AttributeStore, PersonSchema } from './store.js';

export interface ServiceOptions {
  /** Largest page a list request may ask for. */
  maxPageSize: number;
  /** Refuse names that person entries cannot carry in the directory schema. */
  schemaCheck: boolean;
  /** Holds a patched definition to the contract of a PUT body. */
  patchedShape: ShapeCheck;
}

/** What a change did: the definition before it and after it (absent when there was none). */
export interface Change {
  before?: StoredAttribute;
  /** The definition as this change left it. */
  after?: StoredAttribute;
  /**
   * The entry as written, when that write also carried later changes (patches of the same definition
   * that arrived meanwhile, applied after this one): the state to answer with, as `after` never existed
   * on its own in the store.
   */
  written?: StoredAttribute;
  /** Things the caller should know about the change's effect, e.g. scopes that stop releasing a claim. */
  warnings?: string[];
  /** Scopes the change took the definition's claim from (a forced delete): as read, and after. */
  scopes?: { before: Scope; after: Scope }[];
}

/** A change to an existing definition: both states are known. */
export type Update = Change & Required<Pick<Change, 'before' | 'after' | 'warnings'>>;

/** Where a definition is used: the scopes that release its claim. */
export interface Usage {
  definition: StoredAttribute;
  scopes: Scope[];
}

function scopeNames(scopes: Scope[]): string {
  return scopes.map((s) => `${s.id ?? s.inum} (${s.inum})`).join(', ');
}

/**
 * Told about definition changes: `checking` may refuse one (by throwing) before it is written, `changed`
 * learns about it afterwards (the values module re-encrypts and recompiles its schema there).
 */
export interface ChangeObserver {
  checking?(before: AttributeDefinition | undefined, after: AttributeDefinition | undefined): Promise<void>;
  changed?(change: Change): Promise<void>;
}

/** Fields a patch may not touch: identity, and flags that are derived from editType/viewType. */
const FIXED_ON_PATCH = new Set(['inum', 'dn', 'baseDn']);
const DERIVED_ON_PATCH = new Set(Object.keys(DERIVED_FLAGS));

/**
 * The registry's rules, independent of HTTP and of the directory.
 *
 * Changes to one definition are read-apply-write cycles. Within this process they run one at a time per
 * inum; across processes the store's conditional write refuses a write over a state that was not the one
 * read, and the cycle runs again on the fresh state (or answers 412 when the client named a state with
 * If-Match). So no change is silently lost. Patches that queue up for one definition (without If-Match)
 * take their turn together: each is applied, in arrival order, to what the one before it produced, and
 * one write stores the result.
 */
export class AttributeService {
  private readonly turns = new KeyedQueue();
  /**
   * Writes that take a claim (lower-cased) take turns per claim, so that the check that no other active
   * definition has it and the write are one step within this process. A write holds its inum's turn (if
   * any) before the claim's, never the other way round, so the two cannot wait for each other.
   */
  private readonly claimTurns = new KeyedQueue();
  /** Patches without If-Match waiting for their definition's turn, per inum: they take it together. */
  private readonly waitingPatches = new Map<string, PendingPatch[]>();
  private readonly observers: ChangeObserver[] = [];

  constructor(
    private readonly store: AttributeStore,
    private readonly schema: PersonSchema,
    private readonly scopes: ScopeStore,
    private readonly options: ServiceOptions,
  ) {}

  observe(observer: ChangeObserver): void {
    this.observers.push(observer);
  }

  private async checking(before?: AttributeDefinition, after?: AttributeDefinition): Promise<void> {
    for (const o of this.observers) await o.checking?.(before, after);
  }

  private async changed<T extends Change>(change: T): Promise<T> {
    for (const o of this.observers) await o.changed?.(change);
    return change;
  }

  async list(params: ListParams): Promise<Page> {
    return this.store.list(parseListQuery(params, this.options.maxPageSize));
  }

  async get(inum: string): Promise<StoredAttribute> {
    const found = await this.store.get(inum);
    if (!found) throw new NotFoundError();
    return found;
  }

  /**
   * POST. With `extendSchema`, a name the directory schema cannot hold on person entries is first added
   * to it (when the service is allowed to change the schema) instead of being refused.
   */
  async create(body: Record<string, unknown>, extendSchema = false): Promise<StoredAttribute> {
    const draft = readDefinition(body, '');
    const name = draft.name ?? '';
    assertNewName(name);
    await this.assertNameFree(name, undefined);
    await this.assertClaimFree(draft, undefined);
    await this.assertInSchema(draft, extendSchema);
    await this.checking(undefined, draft);
    const after = await this.takingClaim(undefined, draft, async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const created = await this.store.create({ ...draft, inum: randomUUID() });
        if (created) return created;
      }
      throw new AppError(500, 'Could not assign a free inum');
    });
    await this.changed({ after });
    return after;
  }

  /** PUT: replaces the definition named by `body.inum`; with `ifMatch`, only if it is still in that state. */
  async replace(body: Record<string, unknown>, ifMatch?: string): Promise<Update> {
    const inum = body.inum;
    if (typeof inum !== 'string' || inum === '') {
      throw new BadRequestError(
        'A required attribute is missing.',
        'The attribute inum is required for this operation',
      );
    }
    return this.changed(
      await this.change(inum, ifMatch, async (before) =>
        this.withWarnings(before, await this.write(before, body)),
      ),
    );
  }

  /**
   * Applies an RFC 6902 patch to the definition's JSON form, then stores the result as if it had been
   * PUT: it is held to the same contract as a PUT body (`patchedShape`).
   */
  async patch(inum: string, operations: Operation[], ifMatch?: string): Promise<Update> {
    for (const [index, op] of operations.entries()) {
      const field = op.path.split('/')[1] ?? '';
      if (DERIVED_ON_PATCH.has(field)) {
        throw new BadRequestError(
          `Invalid patch operation ${index}`,
          `${field} is derived from editType and viewType; patch those instead`,
        );
      }
    }
    if (ifMatch !== undefined) {
      return this.changed(
        await this.change(inum, ifMatch, async (before) =>
          this.withWarnings(before, await this.applyPatch(before, operations)),
        ),
      );
    }
    return this.changed(await this.patchTogether(inum, operations));
  }

  /**
   * Queues a patch for the definition's next turn, shared with every patch that arrives before that turn
   * starts (a group commit: under contention one directory write per turn, not one per patch).
   */
  private patchTogether(inum: string, operations: Operation[]): Promise<Update> {
    const key = inum.toLowerCase();
    return new Promise((resolve, reject) => {
      const waiting = this.waitingPatches.get(key);
      if (waiting) {
        waiting.push({ operations, resolve, reject });
        return;
      }
      const group: PendingPatch[] = [{ operations, resolve, reject }];
      this.waitingPatches.set(key, group);
      void this.turns.run(key, async () => {
        this.waitingPatches.delete(key);
        // Settling a promise twice changes nothing: this answers the patches not answered yet.
        await this.applyGroup(inum, group).catch((error: unknown) => group.forEach((p) => p.reject(error)));
      });
    });
  }

  private async applyGroup(inum: string, group: PendingPatch[]): Promise<void> {
    const patchOnItsOwn = async (p: PendingPatch) => {
      try {
        p.resolve(
          await this.attempts(inum, undefined, async (before) =>
            this.withWarnings(before, await this.applyPatch(before, p.operations)),
          ),
        );
      } catch (error) {
        p.reject(error);
      }
    };
    if (group.length === 1) return patchOnItsOwn(group[0] as PendingPatch);
    let pending = group;
    await untilWritten(async (attempt) => {
      const current = await this.store.get(inum, attempt > 1);
      if (!current) throw new NotFoundError();
      // Each patch meets what the ones before it produced; one that is refused is answered at once and
      // leaves the state as it was.
      const applied: { patch: PendingPatch; before: StoredAttribute; after: StoredAttribute }[] = [];
      let state = current;
      for (const patch of pending) {
        try {
          const after = { dn: state.dn, definition: await this.patched(state, patch.operations) };
          applied.push({ patch, before: state, after });
          state = after;
        } catch (error) {
          patch.reject(error);
        }
      }
      if (applied.length === 0) return;
      let written: StoredAttribute;
      try {
        written = await this.replaceWith(current, state.definition);
      } catch (error) {
        if (error instanceof ConcurrentChangeError && attempt < MAX_ATTEMPTS) {
          pending = applied.map((a) => a.patch);
          throw error;
        }
        // A refusal of the combined change cannot be pinned on one patch: each gets a write of its own.
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        for (const { patch } of applied) await patchOnItsOwn(patch);
        return;
      }
      for (const { patch, before, after } of applied) {
        await this.withWarnings(before, after).then(
          (change) => patch.resolve({ ...change, written }),
          patch.reject,
        );
      }
    });
  }

  /**
   * DELETE; with `ifMatch`, only if the definition is still in that state. Predefined definitions are
   * refused. So is a definition that scopes release (409 naming them), unless `force`, which first
   * removes it from those scopes, so no scope is left pointing at a definition that no longer exists.
   */
  async remove(inum: string, ifMatch?: string, force = false): Promise<Change> {
    // Kept across attempts: a scope changed by an attempt that then lost a race stays changed.
    const changedScopes: { before: Scope; after: Scope }[] = [];
    const change = await this.change(inum, ifMatch, async (before) => {
      const dropClaim = async (scope: Scope) => {
        await this.scopes.removeClaim(scope.inum, before.dn);
        const claims = scope.claims.filter((claim) => !sameDn(claim, before.dn));
        changedScopes.push({ before: scope, after: { ...scope, claims } });
      };
      if (before.definition.predefined) {
        throw new ConflictError(
          'A predefined definition cannot be deleted',
          `'${before.definition.name ?? inum}' belongs to the standard set; set its status to inactive instead.`,
        );
      }
      const releasing = (await this.scopes.referencing(before.dn)).map((s) => s.scope);
      if (releasing.length > 0 && !force) {
        throw new ConflictError(
          'The attribute is used by scopes',
          `Scopes ${scopeNames(releasing)} release its claim. Remove it from them first, or delete with force=true to do both.`,
        );
      }
      await this.checking(before.definition, undefined);
      for (const scope of releasing) await dropClaim(scope);
      if (!(await this.store.remove(inum, before))) throw new NotFoundError();
      // A scope that took the claim on while it was being deleted loses it again.
      for (const { scope } of await this.scopes.referencing(before.dn)) await dropClaim(scope);
      return {
        before,
        ...(releasing.length > 0 ? { warnings: [`Removed from scopes ${scopeNames(releasing)}`] } : {}),
        ...(changedScopes.length > 0 ? { scopes: changedScopes } : {}),
      };
    });
    return this.changed(change);
  }

  /** The scopes that release a definition's claim. */
  async usage(inum: string): Promise<Usage> {
    const definition = await this.get(inum);
    const scopes = (await this.scopes.referencing(definition.dn)).map((s) => s.scope);
    return { definition, scopes: scopes.sort((a, b) => a.inum.localeCompare(b.inum)) };
  }

  /** A change, with a warning when it stops an active definition that scopes release. */
  private async withWarnings(before: StoredAttribute, after: StoredAttribute): Promise<Update> {
    const deactivated = before.definition.status === 'active' && after.definition.status !== 'active';
    const releasing = deactivated ? (await this.scopes.referencing(after.dn)).map((s) => s.scope) : [];
    const warnings =
      releasing.length > 0
        ? [`The definition is no longer active, so scopes ${scopeNames(releasing)} stop releasing its claim`]
        : [];
    return { before, after, warnings };
  }

  /** One read-apply-write cycle on a definition, serialised per inum and repeated on concurrent change. */
  private change<T>(
    inum: string,
    ifMatch: string | undefined,
    apply: (current: StoredAttribute) => Promise<T>,
  ): Promise<T> {
    return this.turns.run(inum.toLowerCase(), () => this.attempts(inum, ifMatch, apply));
  }

  /**
   * The read-apply-write cycle of `change`, within the definition's turn. The first attempt works on the
   * store's copy: the write is conditional on the version read, so a stale copy costs an attempt on the
   * directory's current state, never a lost change.
   */
  private attempts<T>(
    inum: string,
    ifMatch: string | undefined,
    apply: (current: StoredAttribute) => Promise<T>,
  ): Promise<T> {
    return untilWritten(async (attempt) => {
      let current = await this.store.get(inum, attempt > 1);
      if (attempt === 1 && (!current || (ifMatch !== undefined && !tagMatches(ifMatch, current)))) {
        current = await this.store.get(inum, true);
      }
      if (!current) throw new NotFoundError();
      if (ifMatch !== undefined && !tagMatches(ifMatch, current)) {
        throw new PreconditionFailedError(entityTag(current));
      }
      try {
        return await apply(current);
      } catch (error) {
        // With If-Match, a write that lost its race is answered 412 with the tag that won, not tried again.
        if (error instanceof ConcurrentChangeError && ifMatch !== undefined) {
          const fresh = await this.store.get(inum, true);
          throw new PreconditionFailedError(fresh && entityTag(fresh));
        }
        throw error;
      }
    });
  }

  private async applyPatch(current: StoredAttribute, operations: Operation[]): Promise<StoredAttribute> {
    return this.replaceWith(current, await this.patched(current, operations));
  }

  /** The definition a patch makes of `current`, held to the PUT contract and the PUT rules; not written. */
  private async patched(current: StoredAttribute, operations: Operation[]): Promise<AttributeDefinition> {
    const patched = patchDocument(toWire(current), operations, (field) => FIXED_ON_PATCH.has(field));
    this.options.patchedShape(patched);
    return this.prepare(current, patched);
  }

  /** PUT semantics over an existing definition: inum and dn are fixed, urn can be set but not changed. */
  private async write(current: StoredAttribute, body: Record<string, unknown>): Promise<StoredAttribute> {
    return this.replaceWith(current, await this.prepare(current, body));
  }

  /** Writes `next` over `current` (conditional on it), taking its claim name where it releases one. */
  private replaceWith(current: StoredAttribute, next: AttributeDefinition): Promise<StoredAttribute> {
    return this.takingClaim(current.definition, next, () => this.store.replace(current, next));
  }

  /**
   * Runs `write`, which stores `next` (over `before`, or as a new definition), in the turn of the claim
   * that `next` takes, if it takes one: checked again there, writes of this process do not race each
   * other to the store, whose claim entries settle races with other instances. (The earlier check
   * refuses a clash before anything, such as the schema, is changed.)
   */
  private takingClaim<T>(
    before: AttributeDefinition | undefined,
    next: AttributeDefinition,
    write: () => Promise<T>,
  ): Promise<T> {
    const claim = next.status === 'active' ? next.claimName?.toLowerCase() : undefined;
    const held = before?.status === 'active' ? before.claimName?.toLowerCase() : undefined;
    if (!claim || claim === held) return write();
    return this.claimTurns.run(claim, async () => {
      await this.assertClaimFree(next, before?.inum, false);
      return write();
    });
  }

  /** The definition a PUT body makes of `current`, once every rule allows it; nothing is written. */
  private async prepare(
    current: StoredAttribute,
    body: Record<string, unknown>,
  ): Promise<AttributeDefinition> {
    const { inum } = current.definition;
    if (body.dn !== undefined && body.dn !== null && body.dn !== current.dn) {
      throw new BadRequestError('Invalid value for dn', 'dn cannot be changed');
    }
    const next: AttributeDefinition = readDefinition(body, inum);
    // The JSON form always shows oxMultiValuedAttribute (false when unset); echoing that back is no change.
    if (next.oxMultiValuedAttribute === false && current.definition.oxMultiValuedAttribute === undefined) {
      delete next.oxMultiValuedAttribute;
    }
    const urn = current.definition.urn;
    if (next.urn === undefined) {
      if (urn !== undefined) next.urn = urn;
    } else if (urn !== undefined && next.urn !== urn) {
      throw new BadRequestError('Invalid value for urn', 'urn cannot be changed');
    }
    if (current.definition.predefined) next.predefined = true;
    if (current.definition.oxMultiValuedAttribute === true && next.oxMultiValuedAttribute !== true) {
      throw new ConflictError(
        'A multi-valued attribute cannot become single-valued',
        'oxMultiValuedAttribute can change from false to true only; stored values could hold several.',
      );
    }
    const name = next.name ?? '';
    if (name.toLowerCase() !== (current.definition.name ?? '').toLowerCase()) {
      if (current.definition.predefined) {
        throw new ConflictError(
          'A predefined definition cannot be renamed',
          `'${current.definition.name ?? inum}' belongs to the standard set; its name is fixed.`,
        );
      }
      assertNewName(name);
      await this.assertNameFree(name, inum);
      await this.assertInSchema(next);
    }
    const claim = next.claimName?.toLowerCase();
    const claimChanged = claim !== current.definition.claimName?.toLowerCase();
    if (claim && (claimChanged || (next.status === 'active' && current.definition.status !== 'active'))) {
      await this.assertClaimFree(next, inum, claimChanged);
    }
    await this.assertConflictResolved(current, next);
    await this.checking(current.definition, next);
    return next;
  }

  /**
   * A definition in a replication conflict (see Conflict) may only be changed in a way that resolves one
   * of its conflicts: renamed away, deactivated, given another claim name (or deleted). Any other write
   * would keep the conflict, so it is refused, naming it.
   */
  private async assertConflictResolved(current: StoredAttribute, next: AttributeDefinition): Promise<void> {
    const before = await this.conflictsOf(current.definition);
    if (before.length === 0) return;
    const after = await this.conflictsOf(next);
    const kept = after[0];
    if (!kept || after.length < before.length) return;
    // The store's copy may still hold a definition deleted or renamed elsewhere a moment ago (it learns
    // within a poll): only what the directory holds now is a conflict.
    const confirmed = [];
    for (const other of kept.others) {
      const now = await this.store.get(other.definition.inum, true);
      if (now && heldValue(kept.kind, now.definition) === kept.value.toLowerCase()) confirmed.push(now);
    }
    if (confirmed.length === 0) return;
    kept.others = confirmed;
    const others = kept.others.map((s) => s.definition.inum).join(', ');
    throw new ConflictError(
      `The definition is in a replication conflict over its ${kept.kind} '${kept.value}'`,
      kept.kind === 'name'
        ? `The definition with inum ${others} has this name too (both were written at the same time through different directory providers). Rename this one or the other, or delete one, first.`
        : `The active definition with inum ${others} has this claim name too (both were written at the same time through different directory providers). Deactivate this one or the other, change a claim name, or delete one, first.`,
    );
  }

  /** The conflicts a definition in this state would be in, with the other definitions of each. */
  private async conflictsOf(
    d: AttributeDefinition,
  ): Promise<{ kind: Conflict['kind']; value: string; others: StoredAttribute[] }[]> {
    const found = [];
    const others = (all: StoredAttribute[]) => all.filter((s) => s.definition.inum !== d.inum);
    if (d.name) {
      const named = others(await this.store.findByName(d.name));
      if (named.length > 0) found.push({ kind: 'name' as const, value: d.name, others: named });
    }
    if (heldValue('claimName', d) !== undefined && d.claimName) {
      const { entries } = await this.store.list(
        everyDefinition({
          kind: 'all',
          of: [
            { kind: 'equals', field: 'claimName', value: d.claimName },
            { kind: 'equals', field: 'status', value: 'active' },
          ],
        }),
      );
      const claiming = others(entries);
      if (claiming.length > 0)
        found.push({ kind: 'claimName' as const, value: d.claimName, others: claiming });
    }
    return found;
  }

  /** The current replication conflicts among the definitions. */
  async conflicts(): Promise<Conflict[]> {
    return findConflicts((await this.store.list(everyDefinition())).entries);
  }

  private async assertNameFree(name: string, ownInum: string | undefined): Promise<void> {
    const other = (await this.store.findByName(name)).find((s) => s.definition.inum !== ownInum);
    if (other) {
      throw new ConflictError(
        `Attribute with same name '${name}' already exists!`,
        `The definition with inum ${other.definition.inum} has this name.`,
      );
    }
  }

  /**
   * An active definition's claimName is a valid claim name that no other active definition uses, so an
   * OIDC provider can release it unambiguously. Checked against what this process knows of the
   * directory; a write of another instance that it does not know of yet is caught by the store's claim.
   */
  private async assertClaimFree(
    definition: AttributeDefinition,
    ownInum: string | undefined,
    checkSyntax = true,
  ) {
    const claim = definition.claimName;
    if (claim === undefined) return;
    if (checkSyntax) assertClaimName(claim);
    if (definition.status !== 'active') return;
    const { entries } = await this.store.list({
      where: {
        kind: 'all',
        of: [
          { kind: 'equals', field: 'claimName', value: claim },
          { kind: 'equals', field: 'status', value: 'active' },
        ],
      },
      sortBy: 'inum',
      descending: false,
      startIndex: 0,
      limit: 2,
    });
    const other = entries.find((s) => s.definition.inum !== ownInum);
    if (other) {
      throw new ConflictError(
        `Claim '${claim}' is already released by another active definition`,
        `The active definition with inum ${other.definition.inum} has claimName '${other.definition.claimName}'.`,
      );
    }
  }

  /** Every active definition with a claim: what an OIDC provider needs to release claims, by claim name. */
  async claims(): Promise<StoredAttribute[]> {
    const { entries } = await this.store.list(
      everyDefinition({ kind: 'equals', field: 'status', value: 'active' }, 'claimName'),
    );
    return entries.filter((s) => s.definition.claimName !== undefined);
  }

  /**
   * Person entries must be able to carry the defined attribute. With `extend`, the schema is changed to
   * allow it; otherwise the refusal carries the schema change that would.
   */
  private async assertInSchema(definition: AttributeDefinition, extend = false): Promise<void> {
    const wanted = {
      name: definition.name ?? '',
      dataType: definition.dataType ?? 'string',
      multiValued: definition.oxMultiValuedAttribute ?? false,
      description: definition.description,
    };
    if (extend) return this.schema.extend(wanted);
    if (!this.options.schemaCheck) return;
    const gap = await this.schema.gap(wanted);
    if (!gap) return;
    const remedy = gap.ldif
      ? ' The schemaChange field holds the LDIF that would add it; POST with extendSchema=true applies it.'
      : '';
    throw new NotInSchemaError(
      `The attribute '${wanted.name}' not defined in DB schema`,
      gap.reason + remedy,
      gap.ldif,
    );
  }
}

interface PendingPatch {
  operations: Operation[];
  resolve: (change: Update) => void;
  reject: (error: unknown) => void;
}
