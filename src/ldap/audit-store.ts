import { randomUUID } from 'node:crypto';
import {
  AndFilter,
  ConstraintViolationError,
  DN,
  EqualityFilter,
  NoSuchObjectError,
  ObjectClassViolationError,
} from 'ldapts';
import { auditTarget, type AuditEvent, type AuditStore } from '../attributes/audit.js';
import type { Directory } from './directory.js';

const IS_EVENT = new EqualityFilter({ attribute: 'objectClass', value: 'registryAuditEvent' });

/** Most events written in one entry. */
const MAX_GROUP = 100;

/** `2026-11-23T12:00:00.123Z` → `20261123120000.123Z` (Generalized Time). */
function generalizedTime(iso: string): string {
  return iso.replace(/[-:T]/g, '').replace(/(\.\d+)?Z$/, (_, fraction = '') => `${fraction}Z`);
}

interface Pending {
  event: AuditEvent;
  stored: () => void;
  failed: (error: unknown) => void;
}

/**
 * Audit events as `registryAuditEvent` entries under `ou=audit,<base>` (the project's own schema). One
 * entry is written at a time, holding every event that arrived while the previous one was being written
 * (group commit): each write costs the directory a commit, and under load one commit then serves many
 * events instead of one each. An idle service writes each event at once. A directory whose schema still
 * holds one record per entry (data created by an earlier version) gets one entry per event.
 */
export class LdapAuditStore implements AuditStore {
  private readonly container: string;
  private readonly pending: Pending[] = [];
  private writing = false;
  private grouping = true;
  private sequence = 0;

  constructor(
    private readonly directory: Directory,
    private readonly onUngrouped: () => void = () => undefined,
  ) {
    this.container = `ou=audit,${directory.options.baseDn}`;
  }

  /** Resolves once the event is stored in the directory. */
  append(event: AuditEvent): Promise<void> {
    return new Promise((stored, failed) => {
      this.pending.push({ event, stored, failed });
      if (!this.writing) void this.writeAll();
    });
  }

  private async writeAll(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, this.grouping ? MAX_GROUP : 1);
        try {
          await this.write(group.map((p) => p.event));
          for (const p of group) p.stored();
        } catch (error) {
          const oneRecordPerEntry =
            error instanceof ConstraintViolationError || error instanceof ObjectClassViolationError;
          if (group.length > 1 && oneRecordPerEntry) {
            this.grouping = false;
            this.onUngrouped();
            this.pending.unshift(...group);
          } else {
            for (const p of group) p.failed(error);
          }
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async write(events: AuditEvent[]): Promise<void> {
    const first = events[0] as AuditEvent;
    // Time, then this process's sequence (entries of one millisecond keep their order), then a UUID (unique
    // across instances).
    const sequence = String(this.sequence++).padStart(12, '0');
    const time = generalizedTime(first.time);
    const cn = `${time}-${sequence}-${randomUUID()}`;
    const dn = `${new DN({ cn }).toString()},${this.container}`;
    // One value per target, ignoring case as the attribute's matching rule does (a refused request records
    // the inum of its path as written).
    const byCase = new Map(
      events.flatMap((e) => {
        const target = auditTarget(e);
        return target ? [[target.toLowerCase(), target] as const] : [];
      }),
    );
    const targets = [...byCase.values()];
    const entry: Record<string, string[]> = {
      objectClass: ['registryAuditEvent'],
      cn: [cn],
      registryAuditTime: [time],
      // Records are distinct values: every event has its own id.
      registryAuditRecord: events.map((e) => JSON.stringify(e)),
      ...(targets.length > 0 ? { registryAuditTarget: targets } : {}),
    };
    try {
      await this.directory.run((c) => c.add(dn, entry));
    } catch (error) {
      if (!(error instanceof NoSuchObjectError)) throw error;
      await this.directory.addIfMissing(this.container, {
        objectClass: ['organizationalUnit'],
        ou: ['audit'],
      });
      await this.directory.run((c) => c.add(dn, entry));
    }
  }

  async history(target: string, startIndex: number, limit: number) {
    const filter = new AndFilter({
      filters: [IS_EVENT, new EqualityFilter({ attribute: 'registryAuditTarget', value: target })],
    });
    let entries;
    try {
      ({ searchEntries: entries } = await this.directory.paged((c) =>
        c.search(this.container, {
          scope: 'one',
          filter,
          attributes: ['cn', 'registryAuditRecord'],
          paged: { pageSize: 1000 },
        }),
      ));
    } catch (error) {
      if (error instanceof NoSuchObjectError) return { total: 0, events: [] };
      throw error;
    }
    // An entry's cn starts with the time of its first event and its records are in the order they
    // arrived, so (cn, position) orders events as they were recorded.
    const wanted = target.toLowerCase();
    const recorded = entries.flatMap((e) => {
      const records = [e.registryAuditRecord ?? []].flat().map(String);
      return records.map((record, position) => ({ cn: String(e.cn), position, record }));
    });
    const newestFirst = recorded
      .sort((a, b) => (a.cn === b.cn ? b.position - a.position : a.cn < b.cn ? 1 : -1))
      .map((r) => JSON.parse(r.record) as AuditEvent)
      .filter((event) => auditTarget(event)?.toLowerCase() === wanted);
    return {
      total: newestFirst.length,
      events: newestFirst.slice(startIndex, startIndex + limit),
    };
  }
}
