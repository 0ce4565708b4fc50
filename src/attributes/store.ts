import type { AttributeDefinition, StoredAttribute } from './definition.js';
import type { ListQuery, Page } from './query.js';

/** Where definitions live. The directory adapter implements it; unit tests may use an in-memory one. */
export interface AttributeStore {
  /** One page of the definitions matching `query.where`, sorted over the whole result. */
  list(query: ListQuery): Promise<Page>;
  /**
   * The definition with this inum, or undefined. A store may answer from a copy kept in memory unless
   * `fresh` asks for the directory's current state.
   */
  get(inum: string, fresh?: boolean): Promise<StoredAttribute | undefined>;
  /** Every definition whose name equals `name`, ignoring case. */
  findByName(name: string): Promise<StoredAttribute[]>;
  /**
   * Stores a new definition and returns it as stored. Returns undefined, writing nothing, when its inum is
   * taken. Throws ConflictError when the directory itself refuses a second definition of the same name.
   */
  create(definition: AttributeDefinition): Promise<StoredAttribute | undefined>;
  /**
   * Replaces every field of an existing definition; fields absent from `definition` are removed. The write
   * applies only if the entry is still as `current` was read; otherwise it throws ConcurrentChangeError and
   * changes nothing. Returns the definition as stored.
   */
  replace(current: StoredAttribute, definition: AttributeDefinition): Promise<StoredAttribute>;
  /**
   * Deletes a definition. Returns false when there was none. With `expected`, deletes only if the entry is
   * still as it was read, else throws ConcurrentChangeError.
   */
  remove(inum: string, expected?: StoredAttribute): Promise<boolean>;
}

/** What the directory schema says about the attribute types that person entries may carry. */
export interface PersonSchema {
  /**
   * Why person entries cannot carry an attribute type of this name, or undefined when they can.
   * The answer names what is missing (no such type, or no person object class allows it).
   */
  whyNotAllowed(name: string): Promise<string | undefined>;
}
