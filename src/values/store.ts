/** What carries values: a user entry, or a login session. */
export type HolderKind = 'user' | 'session';

export interface HolderRef {
  kind: HolderKind;
  /** The user's inum, or the session's id. */
  id: string;
}

/** Bookkeeping of one value, kept beside it on the holder (the project's own attribute). */
export interface ValueMeta {
  /** The attribute name, as the definition spells it. */
  name: string;
  created?: string;
  updated?: string;
  /** When the value stops existing (RFC 3339, UTC). */
  expiresAt?: string;
}

/** A holder as read: its owner, stored values (encoded, maybe ciphertext) and their bookkeeping. */
export interface HolderState {
  /** The inum of the user the holder belongs to (the user itself, or the session's user). */
  owner?: string;
  /** Stored values by lower-case attribute name. */
  values: Map<string, { name: string; values: string[] }>;
  /** Bookkeeping by lower-case attribute name. */
  meta: Map<string, ValueMeta>;
  /** The store's change marker; a write applies only over this version. */
  version?: string;
  /** True when the holder can already carry bookkeeping (the adapter's business). */
  bookkept: boolean;
}

/**
 * One attribute's new state: `values` undefined removes it and its bookkeeping; otherwise `meta`
 * replaces the bookkeeping, or leaves it as it was when undefined.
 */
export interface ValueWrite {
  name: string;
  values?: string[];
  meta?: ValueMeta;
}

/** Where values live. The directory adapter implements it. */
export interface ValueStore {
  /** The holder, or undefined when there is none. */
  read(holder: HolderRef): Promise<HolderState | undefined>;
  /**
   * Applies every write in one change, only if the holder is still at `current.version` (else throws
   * ConcurrentChangeError and changes nothing). `nextExpiry` is the earliest expiry left on the holder,
   * which the purge looks for.
   */
  write(holder: HolderRef, current: HolderState, writes: ValueWrite[], nextExpiry?: string): Promise<void>;
  /** Holders whose earliest expiry is at or before `now` (at most `limit`). */
  expired(now: Date, limit: number): Promise<HolderRef[]>;
  /**
   * Holders that carry a value of any of these attributes (bookkept or not), or, without names, any
   * bookkept value.
   */
  holdersWith(names?: readonly string[]): Promise<HolderRef[]>;
  /**
   * Why values of this attribute cannot be stored as ciphertext (text the directory's syntax for it
   * refuses), or undefined when they can or the directory has no such attribute type.
   */
  whyNoCiphertext(name: string): Promise<string | undefined>;
}
