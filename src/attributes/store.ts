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

/** An attribute type that person entries are to carry: what a definition asks of the directory schema. */
export interface WantedType {
  name: string;
  dataType: string;
  multiValued: boolean;
  description?: string;
}

/** What keeps person entries from carrying an attribute type, and the schema change that would fix it. */
export interface SchemaGap {
  /** In words: no such type, or no person object class allows it. */
  reason: string;
  /** The change as LDIF for the directory's configuration (cn=config), when one can be worked out. */
  ldif?: string;
}

/** What the directory schema says about the attribute types that person entries may carry. */
export interface PersonSchema {
  /** What keeps person entries from carrying `type`, or undefined when nothing does. */
  gap(type: WantedType): Promise<SchemaGap | undefined>;
  /**
   * Changes the running directory's schema so that person entries can carry `type`: adds the attribute
   * type if there is none and allows it in the custom person object class; does nothing when the schema
   * already allows it. Throws SchemaChangeRefusedError when a change is needed but schema changes are
   * switched off or the directory does not allow them.
   */
  extend(type: WantedType): Promise<void>;
}
