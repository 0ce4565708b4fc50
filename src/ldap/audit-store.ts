import { randomUUID } from 'node:crypto';
import { AndFilter, DN, EqualityFilter, NoSuchObjectError } from 'ldapts';
import type { AuditEvent, AuditStore } from '../attributes/audit.js';
import type { Directory } from './directory.js';

const IS_EVENT = new EqualityFilter({ attribute: 'objectClass', value: 'registryAuditEvent' });

/** `2026-11-23T12:00:00.123Z` → `20261123120000.123Z` (Generalized Time). */
function generalizedTime(iso: string): string {
  return iso.replace(/[-:T]/g, '').replace(/(\.\d+)?Z$/, (_, fraction = '') => `${fraction}Z`);
}

/** Audit events as `registryAuditEvent` entries under `ou=audit,<base>` (the project's own schema). */
export class LdapAuditStore implements AuditStore {
  private readonly container: string;

  constructor(private readonly directory: Directory) {
    this.container = `ou=audit,${directory.options.baseDn}`;
  }

  async append(event: AuditEvent): Promise<void> {
    const cn = `${generalizedTime(event.time)}-${randomUUID()}`;
    const dn = `${new DN({ cn }).toString()},${this.container}`;
    const entry: Record<string, string[]> = {
      objectClass: ['registryAuditEvent'],
      cn: [cn],
      registryAuditTime: [generalizedTime(event.time)],
      registryAuditRecord: [JSON.stringify(event)],
    };
    if (event.inum) entry.registryAuditTarget = [event.inum];
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

  async history(inum: string, startIndex: number, limit: number) {
    const filter = new AndFilter({
      filters: [IS_EVENT, new EqualityFilter({ attribute: 'registryAuditTarget', value: inum })],
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
    // The cn starts with the time, so ordering by cn is ordering by time.
    const newestFirst = entries
      .map((e) => ({ cn: String(e.cn), record: String(e.registryAuditRecord) }))
      .sort((a, b) => (a.cn < b.cn ? 1 : -1));
    return {
      total: newestFirst.length,
      events: newestFirst
        .slice(startIndex, startIndex + limit)
        .map((e) => JSON.parse(e.record) as AuditEvent),
    };
  }
}
