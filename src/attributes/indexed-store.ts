import type { AttributeDefinition, StoredAttribute } from './definition.js';
import type { DefinitionIndex } from './definition-index.js';
import type { ListQuery, Page } from './query.js';
import type { AttributeStore } from './store.js';

/**
 * Answers reads from the in-memory index and sends writes to the store, putting what was written into
 * the index at once. Something else (the directory adapter's sync) loads the index and keeps it up to
 * date with changes made elsewhere. Until the first load is done, reads of one definition go to the
 * store and searches wait for the load, so that no request pulls the whole directory through memory.
 */
export class IndexedAttributeStore implements AttributeStore {
  constructor(
    private readonly store: AttributeStore,
    private readonly index: DefinitionIndex,
  ) {}

  async list(query: ListQuery): Promise<Page> {
    await this.index.whenLoaded();
    return this.index.list(query);
  }

  /**
   * From the index; an inum it does not know is looked for in the directory too, so a definition created
   * through another instance can be read by inum at once (its lists show it within a poll).
   */
  async get(inum: string, fresh = false): Promise<StoredAttribute | undefined> {
    const held = !fresh && this.index.loaded ? this.index.get(inum) : undefined;
    if (held) return held;
    const since = this.index.mark();
    const found = await this.store.get(inum);
    if (found) this.index.applyRead(found.definition.inum, found, since);
    return found;
  }

  async findByName(name: string): Promise<StoredAttribute[]> {
    return this.index.loaded ? this.index.lookup('name', name) : this.store.findByName(name);
  }

  async create(definition: AttributeDefinition): Promise<StoredAttribute | undefined> {
    const stored = await this.store.create(definition);
    if (stored) this.index.put(stored);
    return stored;
  }

  async replace(current: StoredAttribute, definition: AttributeDefinition): Promise<StoredAttribute> {
    const stored = await this.store.replace(current, definition);
    this.index.put(stored);
    return stored;
  }

  async remove(inum: string, expected?: StoredAttribute): Promise<boolean> {
    const removed = await this.store.remove(inum, expected);
    this.index.remove(inum);
    return removed;
  }
}
