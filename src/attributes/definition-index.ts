import { findConflicts, type Conflict } from './conflicts.js';
import type { StoredAttribute } from './definition.js';
import {
  compareKeys,
  matches,
  sortAndPage,
  sortKey,
  type Condition,
  type ListQuery,
  type Page,
} from './query.js';

/** Fields with a lookup table: the ones uniqueness checks ask about on every write. */
const LOOKUP_FIELDS = ['name', 'claimName'] as const;
type LookupField = (typeof LOOKUP_FIELDS)[number];

/** Most list results kept until the next change (each is at most one reference per definition). */
const MAX_RESULTS = 32;

const lower = (s: StoredAttribute) => s.definition.inum.toLowerCase();

/**
 * Every definition in memory, each stored once: by inum, in sort orders built on first use and brought up
 * to date with the changes since whenever they are read, and with the results of recent list queries
 * until the next change. Answers exactly what a search of the directory followed by `sortAndPage`
 * answers.
 *
 * Reads from the directory can overlap changes made through this instance. Each such change bumps a
 * generation; a reader takes the generation before it reads (`mark`) and hands it back with what it read
 * (`applyRead`), which is then not applied over a newer local change, nor over a newer version.
 */
export class DefinitionIndex {
  private byInum = new Map<string, StoredAttribute>();
  private lookups = newLookups();
  private readonly orders = new Map<string, Order>();
  private readonly results = new Map<string, StoredAttribute[]>();
  private generation = 0;
  /**
   * Lookup values (`field\0value`) that have had more than one holder since conflicts were last listed:
   * the only places a conflict can be, so that listing them does not walk every definition.
   */
  private contested = new Set<string>();
  /** The generation of this instance's last change of each definition, while readers may overlap it. */
  private readonly touched = new Map<string, number>();
  private loading: Promise<void> | undefined;
  /** True once a whole directory has been read into the index. */
  loaded = false;

  get size(): number {
    return this.byInum.size;
  }

  /** Resolves when the index holds the whole directory; rejects when the load under way fails. */
  async whenLoaded(): Promise<void> {
    if (!this.loaded) await this.loading;
  }

  /** Tells readers waiting for the index about a load under way. */
  loadingWith(load: Promise<void>): void {
    this.loading = load;
    load.catch(() => undefined);
  }

  get(inum: string): StoredAttribute | undefined {
    return this.byInum.get(inum.toLowerCase());
  }

  /** Every definition whose value of `field` equals `value`, ignoring case. */
  lookup(field: LookupField, value: string): StoredAttribute[] {
    return [this.lookups[field].get(value.toLowerCase()) ?? []].flat();
  }

  list(query: ListQuery): Page {
    const few = this.candidates(query.where);
    if (few)
      return sortAndPage(
        few.filter((s) => !query.where || matches(query.where, s)),
        query,
      );
    const key = `${query.sortBy}\u0000${JSON.stringify(query.where ?? null)}`;
    let found = this.results.get(key);
    if (!found) {
      const order = this.order(query.sortBy);
      const where = query.where;
      found = where ? order.filter((s) => matches(where, s)) : order;
      if (this.results.size >= MAX_RESULTS) this.results.delete(this.results.keys().next().value as string);
      this.results.set(key, found);
    }
    const { startIndex, limit } = query;
    const total = found.length;
    const entries = query.descending
      ? found.slice(Math.max(0, total - startIndex - limit), Math.max(0, total - startIndex)).reverse()
      : found.slice(startIndex, startIndex + limit);
    return { totalEntriesCount: total, entries };
  }

  /** The current replication conflicts among the definitions held (see findConflicts). */
  conflicts(): Conflict[] {
    const involved = new Set<StoredAttribute>();
    for (const key of this.contested) {
      const [field, value] = key.split('\u0000') as [LookupField, string];
      const held = this.lookups[field].get(value);
      if (Array.isArray(held)) for (const s of held) involved.add(s);
      else this.contested.delete(key);
    }
    return findConflicts(involved);
  }

  /** The generation to hand back with what is read from the directory from now on. */
  mark(): number {
    return this.generation;
  }

  /** A change made through this instance: applied at once. */
  put(stored: StoredAttribute): void {
    this.touch(stored.definition.inum);
    this.set(stored);
  }

  /** A delete made through this instance. */
  remove(inum: string): void {
    this.touch(inum);
    this.unset(inum.toLowerCase());
  }

  /**
   * What the directory held for `inum` (undefined: nothing) when read after generation `since`. Ignored
   * when this instance changed the definition since, or already holds a newer version of it.
   */
  applyRead(inum: string, read: StoredAttribute | undefined, since: number): void {
    const key = inum.toLowerCase();
    if ((this.touched.get(key) ?? -1) > since) return;
    const held = this.byInum.get(key);
    if (!read) {
      if (held) this.unset(key);
      return;
    }
    if (held?.version && read.version && read.version <= held.version) return;
    this.set(read);
  }

  /** Whether the index holds this version of the definition, or a newer one. */
  holds(inum: string, version: string): boolean {
    const held = this.byInum.get(inum.toLowerCase())?.version;
    return held !== undefined && held >= version;
  }

  /** Each definition held: inum in lower case, and version. */
  *versions(): IterableIterator<[string, string | undefined]> {
    for (const [key, s] of this.byInum) yield [key, s.version];
  }

  /** The greatest version held (versions are entryCSNs, which sort as text). */
  newestVersion(): string | undefined {
    let newest: string | undefined;
    for (const s of this.byInum.values())
      if (s.version && (!newest || s.version > newest)) newest = s.version;
    return newest;
  }

  /** Forgets local changes that no reader which started after generation `since` can overlap. */
  settle(since: number): void {
    for (const [key, generation] of this.touched) if (generation <= since) this.touched.delete(key);
  }

  /** Replaces the contents with a whole directory read after generation `since`, keeping later local changes. */
  replaceAll(all: StoredAttribute[], since: number): void {
    const previous = this.byInum;
    this.byInum = new Map(all.map((s) => [lower(s), s]));
    this.lookups = newLookups();
    this.contested.clear();
    for (const s of all) this.addLookups(s);
    this.orders.clear();
    this.results.clear();
    for (const [key, generation] of this.touched) {
      if (generation <= since) continue;
      const local = previous.get(key);
      const stale = this.byInum.get(key);
      if (stale) this.unset(key);
      if (local) this.set(local);
    }
    this.loaded = true;
  }

  private touch(inum: string): void {
    this.touched.set(inum.toLowerCase(), ++this.generation);
  }

  private set(stored: StoredAttribute): void {
    const key = lower(stored);
    this.unset(key);
    this.byInum.set(key, stored);
    this.addLookups(stored);
    for (const order of this.orders.values()) order.add(stored);
    this.results.clear();
  }

  private unset(key: string): void {
    const held = this.byInum.get(key);
    if (!held) return;
    this.byInum.delete(key);
    for (const field of LOOKUP_FIELDS) {
      const value = held.definition[field]?.toLowerCase();
      if (value === undefined) continue;
      const rest = [this.lookups[field].get(value) ?? []].flat().filter((s) => s !== held);
      if (rest.length === 0) this.lookups[field].delete(value);
      else this.lookups[field].set(value, rest.length === 1 ? (rest[0] as StoredAttribute) : rest);
    }
    for (const order of this.orders.values()) order.remove(held);
    this.results.clear();
  }

  private addLookups(stored: StoredAttribute): void {
    for (const field of LOOKUP_FIELDS) {
      const value = stored.definition[field]?.toLowerCase();
      if (value === undefined) continue;
      // Almost every value has one holder, and there are as many values as definitions: a list only
      // where there are more.
      const held = this.lookups[field].get(value);
      this.lookups[field].set(value, held === undefined ? stored : [held, stored].flat());
      if (held !== undefined) this.contested.add(`${field}\u0000${value}`);
    }
  }

  /** All definitions in ascending order of `field`, then inum; built once, then kept up to date. */
  private order(field: string): StoredAttribute[] {
    let order = this.orders.get(field);
    if (!order) {
      order = new Order(field, sorted([...this.byInum.values()], field));
      this.orders.set(field, order);
    }
    return order.entries();
  }

  /** The few definitions a condition can match, when it requires a value of a looked-up field. */
  private candidates(where: Condition | undefined): StoredAttribute[] | undefined {
    const required = where?.kind === 'all' ? where.of : where ? [where] : [];
    for (const c of required) {
      if (c.kind === 'equals' && typeof c.value === 'string' && isLookupField(c.field)) {
        return this.lookup(c.field, c.value);
      }
    }
    return undefined;
  }
}

function newLookups(): Record<LookupField, Map<string, StoredAttribute | StoredAttribute[]>> {
  return { name: new Map(), claimName: new Map() };
}

function isLookupField(field: string): field is LookupField {
  return (LOOKUP_FIELDS as readonly string[]).includes(field);
}

/** Changes an order holds back before it brings itself up to date unasked (what it keeps alive meanwhile). */
const MAX_HELD_BACK = 4096;
/** Up to this many changes, an order is brought up to date in place; beyond, it is built again. */
const MAX_IN_PLACE = 64;

/**
 * Definitions in ascending order of one field, then inum. A change is noted, not applied: the order is
 * brought up to date when it is next read. Applying every change at once moved the whole array twice
 * per write and order in use (about 0.13 ms each at 100 000 definitions); a burst of writes between two
 * reads now costs one merge. Definitions are never modified in place (a change replaces the object), so
 * an object's place in the order is fixed.
 */
class Order {
  private readonly added = new Set<StoredAttribute>();
  private readonly removed = new Set<StoredAttribute>();

  constructor(
    private readonly field: string,
    private sorted: StoredAttribute[],
  ) {}

  add(stored: StoredAttribute): void {
    this.added.add(stored);
    this.limitHeldBack();
  }

  remove(stored: StoredAttribute): void {
    if (!this.added.delete(stored)) this.removed.add(stored);
    this.limitHeldBack();
  }

  entries(): StoredAttribute[] {
    const changes = this.added.size + this.removed.size;
    if (changes === 0) return this.sorted;
    const added = sorted([...this.added], this.field);
    const at = (stored: StoredAttribute) => position(this.sorted, this.field, stored);
    /** Where a removed definition is (its key is unchanged, so the search finds it), or -1. */
    const placeOf = (stored: StoredAttribute) => {
      const found = at(stored);
      return this.sorted[found] === stored ? found : this.sorted.indexOf(stored);
    };
    if (changes <= MAX_IN_PLACE) {
      for (const stored of this.removed) {
        const found = placeOf(stored);
        if (found >= 0) this.sorted.splice(found, 1);
      }
      for (const stored of added) this.sorted.splice(at(stored), 0, stored);
    } else {
      // Places are found by binary search and the array is copied once: a pass that looked at every
      // definition would wait on memory for each of them (about 20 ms at 100 000).
      const cuts = [...this.removed]
        .map(placeOf)
        .filter((found) => found >= 0)
        .sort((a, b) => a - b);
      const inserts = added.map(at);
      const merged: StoredAttribute[] = [];
      let [from, cut, insert] = [0, 0, 0];
      for (;;) {
        const nextCut = cuts[cut] ?? Infinity;
        const nextInsert = inserts[insert] ?? Infinity;
        const upTo = Math.min(nextCut, nextInsert, this.sorted.length);
        while (from < upTo) merged.push(this.sorted[from++] as StoredAttribute);
        if (nextInsert <= nextCut && insert < added.length) merged.push(added[insert++] as StoredAttribute);
        else if (cut < cuts.length) [from, cut] = [from + 1, cut + 1];
        else break;
      }
      this.sorted = merged;
    }
    this.added.clear();
    this.removed.clear();
    return this.sorted;
  }

  private limitHeldBack(): void {
    if (this.added.size + this.removed.size > MAX_HELD_BACK) this.entries();
  }
}

function sorted(all: StoredAttribute[], field: string): StoredAttribute[] {
  const keyed = all.map((s) => ({ s, key: sortKey(s, field), inum: lower(s) }));
  keyed.sort((a, b) => compareKeys(a.key, a.inum, b.key, b.inum));
  return keyed.map((k) => k.s);
}

/** Where `stored` sits, or would sit, in an ascending order of `field` (binary search). */
function position(order: StoredAttribute[], field: string, stored: StoredAttribute): number {
  const key = sortKey(stored, field);
  const inum = lower(stored);
  let low = 0;
  let high = order.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const other = order[middle] as StoredAttribute;
    if (compareKeys(sortKey(other, field), lower(other), key, inum) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}
