import { LRUCache } from 'lru-cache';
import { entityTag, toWire, type StoredAttribute } from '../attributes/definition.js';
import type { Change } from '../attributes/service.js';
import type { Ctx } from './state.js';

/**
 * Sends a definition with its ETag. A stored version never changes, so its JSON is written once and
 * served again while the version is among the most recently served (16 MiB of JSON). A body is kept from
 * its second request on, while the first is among the last 4 096 asked for: keeping every first one
 * would churn the cache under reads spread evenly over a large registry.
 */
export function definitionSender(): (ctx: Ctx, status: number, stored: StoredAttribute) => void {
  const bodies = new LRUCache<StoredAttribute, string>({
    maxSize: 16 * 2 ** 20,
    sizeCalculation: (b) => b.length,
  });
  const askedOnce = new LRUCache<StoredAttribute, true>({ max: 4096 });
  return (ctx, status, stored) => {
    let body = bodies.get(stored);
    if (body === undefined) {
      body = JSON.stringify(toWire(stored));
      if (askedOnce.delete(stored)) bodies.set(stored, body);
      else askedOnce.set(stored, true);
    }
    ctx.status = status;
    ctx.set('ETag', entityTag(stored));
    ctx.set('Content-Type', 'application/json');
    ctx.body = body;
  };
}

/** A page in Janssen's PagedResult shape (`entries` left out when empty, as Janssen does). */
export function page<T>(start: number, total: number, entries: T[]) {
  return {
    start,
    totalEntriesCount: total,
    entriesCount: entries.length,
    ...(entries.length > 0 ? { entries } : {}),
  };
}

/** RFC 7234 `Warning: 299 - "..."` for each thing the caller should know about a change. */
export function warn(ctx: Ctx, change: Change): void {
  const warnings = change.warnings ?? [];
  if (warnings.length > 0)
    ctx.set('Warning', warnings.map((w) => `299 - "${w.replace(/["\\]/g, '')}"`).join(', '));
}

/** The `If-Match` of a conditional write, if any. */
export const ifMatch = (ctx: Ctx): string | undefined => ctx.get('if-match') || undefined;
