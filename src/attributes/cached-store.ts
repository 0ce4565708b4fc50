import type { AttributeDefinition, StoredAttribute } from './definition.js';
import type { ListQuery, Page } from './query.js';
import type { AttributeStore } from './store.js';

export interface CacheOptions {
  /** How long a definition read from the store may be served without asking again. */
  maxAgeMs: number;
  /** Most definitions kept; the least recently read go first. */
  maxEntries: number;
}

interface Cached {
  value: StoredAttribute | undefined;
  at: number;
}

/**
 * Serves reads of single definitions from memory for at most `maxAgeMs`, so a change made behind the
 * service's back (another instance, ldapmodify) shows within that time, while every change made through
 * this store drops its entry at once. Searches always go to the store: they must see everything.
 */
export class CachedAttributeStore implements AttributeStore {
  private readonly entries = new Map<string, Cached>();
  /** Bumped by every write, so that a read which overlapped a write is not kept. */
  private writes = 0;

  constructor(
    private readonly store: AttributeStore,
    private readonly options: CacheOptions,
    private readonly now: () => number = () => performance.now(),
  ) {}

  list(query: ListQuery): Promise<Page> {
    return this.store.list(query);
  }

  async get(inum: string, fresh = false): Promise<StoredAttribute | undefined> {
    const key = inum.toLowerCase();
    const hit = this.entries.get(key);
    if (!fresh && hit && this.now() - hit.at < this.options.maxAgeMs) {
      // Map order is insertion order: re-inserting keeps the most recently read last.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    const at = this.now();
    const writes = this.writes;
    const value = await this.store.get(inum);
    if (writes !== this.writes) return value;
    this.entries.delete(key);
    this.entries.set(key, { value, at });
    if (this.entries.size > this.options.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    return value;
  }

  findByName(name: string): Promise<StoredAttribute[]> {
    return this.store.findByName(name);
  }

  async create(definition: AttributeDefinition): Promise<boolean> {
    try {
      return await this.store.create(definition);
    } finally {
      this.forget(definition.inum);
    }
  }

  async replace(current: StoredAttribute, definition: AttributeDefinition): Promise<void> {
    try {
      await this.store.replace(current, definition);
    } finally {
      // Also after a ConcurrentChangeError: the copy that was read is stale; the retry must not get it again.
      this.forget(definition.inum);
    }
  }

  async remove(inum: string, expected?: StoredAttribute): Promise<boolean> {
    try {
      return await this.store.remove(inum, expected);
    } finally {
      this.forget(inum);
    }
  }

  private forget(inum: string): void {
    this.writes++;
    this.entries.delete(inum.toLowerCase());
  }
}
