/**
 * Comparing the index with the directory, for when the change log cannot be trusted to have named every
 * change (a replication session that broke and refreshed, a provider restored from a backup, a change
 * log purged or missing, another provider after a failover).
 */

/** What a reconcile has to read again: each inum (lower case) whose state the index may have wrong. */
export interface ReconcileDiff {
  /** Held by the index, absent from the directory. */
  missing: string[];
  /** In the directory with another entryCSN than the index holds. */
  changed: string[];
  /** In the directory, unknown to the index. */
  added: string[];
}

/**
 * The definitions to read again: `held` is what the index holds (inum in lower case → version, if it has
 * one), `directory` what a listing of the directory found (inum in lower case → entryCSN, '' when the
 * directory keeps none). Reading them again, rather than applying the listing, lets the index's own
 * rules decide (no older version over a newer one, no read over a change this instance made meanwhile).
 */
export function reconcileDiff(
  held: Iterable<[string, string | undefined]>,
  directory: ReadonlyMap<string, string>,
): ReconcileDiff {
  const diff: ReconcileDiff = { missing: [], changed: [], added: [] };
  const seen = new Set<string>();
  for (const [inum, version] of held) {
    seen.add(inum);
    const csn = directory.get(inum);
    if (csn === undefined) diff.missing.push(inum);
    else if ((version ?? '') !== csn) diff.changed.push(inum);
  }
  for (const inum of directory.keys()) if (!seen.has(inum)) diff.added.push(inum);
  return diff;
}

/** Every inum to read again. */
export function toReread(diff: ReconcileDiff): string[] {
  return [...diff.missing, ...diff.changed, ...diff.added];
}

/**
 * Whether a reconcile is due because the directory changed in a way the change log does not explain:
 * its contextCSN (which covers the whole database, user values too) moved to a CSN that no log record
 * named. That alone cannot prove a gap, so such reconciles are spaced: at least
 * `minGapMs` apart, and at least `costFactor` times the last one's duration, so that a directory under a
 * steady stream of value writes spends at most about 1/costFactor of its time on them.
 */
export function suspicionDue(input: {
  contextMoved: boolean;
  now: number;
  lastReconcile: number;
  lastDurationMs: number;
  minGapMs: number;
  costFactor: number;
}): boolean {
  if (!input.contextMoved) return false;
  const gap = Math.max(input.minGapMs, input.costFactor * input.lastDurationMs);
  return input.now - input.lastReconcile >= gap;
}
