import { GreaterThanEqualsFilter, NoSuchObjectError, type Entry } from 'ldapts';
import type { Conflict } from '../attributes/conflicts.js';
import type { DefinitionIndex } from '../attributes/definition-index.js';
import { DirectoryUnavailableError } from '../errors.js';
import type { LdapAttributeStore } from './attribute-store.js';
import { inumOf } from './definition-entry.js';
import type { Directory } from './directory.js';
import { reconcileDiff, suspicionDue, toReread } from './reconcile.js';

export interface IndexSyncOptions {
  /** How often to ask the directory what changed. */
  pollMs: number;
  /** Base of the accesslog database that records writes under ou=attributes (empty: none). */
  changeLog: string;
  /**
   * How often the whole index is compared with the directory whatever happened (0: never): the bound
   * within which a change that reached the directory without reaching its change log, and without any
   * other sign, shows.
   */
  reconcileMs: number;
  /** Told about loads, fallbacks, failures and reconciles. */
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Told about each reconcile: why, how many definitions it corrected, how long it took. */
  reconciled?: (reason: ReconcileReason, corrected: number, seconds: number) => void;
}

/** Why the index was compared with the whole directory. */
export type ReconcileReason =
  'recovered' | 'reconnected' | 'failover' | 'unexplained' | 'log-missing' | 'periodic';

/** How often, in log mode, contextCSN is read to see whether the directory changed beyond what the log says. */
const CONTEXT_CHECK_MS = 1000;
/** Reconciles on suspicion alone are at least this far apart ... */
const SUSPICION_MIN_GAP_MS = 10_000;
/** ... and at least this many times the last reconcile's duration. */
const SUSPICION_COST_FACTOR = 20;
/** Beyond this share of the definitions to read again, a reconcile reads everything instead. */
const RELOAD_SHARE = 0.1;

/** Without a change log: how often the whole directory is read again when it cannot say what changed. */
const FALLBACK_RELOAD_MS = 30_000;
/** Log records are read again for this long after they were first seen, in case of late commits. */
const OVERLAP_MS = 1000;
/** A change log is kept for an hour; after a longer outage, read everything again. */
const MAX_GAP_MS = 30 * 60_000;
/**
 * Definitions re-read with one search when the log names many (well under the 500 entries a directory
 * may answer a search without special limits).
 */
const READ_BATCH = 100;

/** `20261123143207.534724Z` ⇄ milliseconds (Generalized Time in UTC, as slapd writes it). */
function toMs(time: string): number {
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d+))?Z$/.exec(time);
  if (!m) return NaN;
  const [, y, mo, d, h, mi, s, f = '0'] = m;
  return Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!) + Number(`0.${f}`) * 1000;
}
function fromMs(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:T]/g, '').replace('Z', '')}000Z`;
}

const text = (value: Entry[string] | undefined): string[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);

/**
 * Loads every definition into the index and keeps it coherent with changes made behind this instance's
 * back (ldapmodify, other instances, replication), by polling.
 *
 * With a change log (slapd's accesslog overlay writing to `changeLog`, as the embedded directory is
 * configured), each poll is one search for log records newer than the last seen; the definitions they
 * name are read again, unless the index already holds that version (this instance's own writes). Deletes
 * show up as records too. Without one, the directory's contextCSN says whether anything changed; when it
 * moved, one search finds the definitions whose entryCSN is newer than the newest one held (a second
 * back, for late replicated changes), and deletes are found by reading everything again every
 * FALLBACK_RELOAD_MS. Without contextCSN either, everything is read again every FALLBACK_RELOAD_MS.
 *
 * When the directory is unreachable, the index keeps serving what it holds, and catches up when the
 * directory is back: from the log, or by reading everything again after a long gap.
 *
 * A change log does not name every change: syncrepl may apply changes without logging them (while it
 * refreshes after a replication session broke), a provider may be restored from a backup, the log may be
 * purged or removed, and after a failover the log is another provider's. So the index is also compared
 * with the directory as a whole (a reconcile: one paged search for every definition's entryCSN, then the
 * ones that differ read again): when the directory is reachable again after a failure, when a connection
 * to it was found closed (a provider restart this instance did not otherwise notice), after a failover,
 * when the log is gone, when contextCSN moved while the log named no change (spaced, as user value
 * writes move it too), and every `reconcileMs` whatever happened.
 */
export class IndexSync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private mode: 'log' | 'contextCSN' | 'reload' = 'log';
  /** reqEnd of the newest log record seen, and the records seen in the last poll (to skip them). */
  private position = '';
  private seen = new Set<string>();
  private overlap = true;
  private contextCSN = '';
  private lastLoad = 0;
  private lastSuccess = 0;
  private failing = false;
  /** Why a reconcile is due at the next cycle, if one is. */
  private due: ReconcileReason | undefined;
  private lastReconcile = Date.now();
  private lastReconcileMs = 0;
  /** contextCSN moved beyond what the log named, since the last reconcile. */
  private suspect = false;
  private contextCheckedAt = 0;
  /** The newest CSN of each server (by server id) that a log record named. */
  private logged = new Map<string, string>();
  /** contextCSN values (by server id) that moved at the last check: the log must name them by the next. */
  private unexplained = new Map<string, string>();
  private providerSwitches = 0;
  private connectionsLost = 0;
  /** The conflicts last reported, by kind and value. */
  private conflicts = new Set<string>();

  constructor(
    private readonly directory: Directory,
    private readonly store: LdapAttributeStore,
    private readonly index: DefinitionIndex,
    private readonly options: IndexSyncOptions,
  ) {}

  /** Starts the first load (the index tells waiting readers about it) and then polling. */
  start(): void {
    const first = this.load();
    this.index.loadingWith(first);
    this.running = first.catch((error: unknown) => this.failed(error)).finally(() => this.schedule());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.cycle().finally(() => this.schedule());
    }, this.options.pollMs);
    this.timer.unref();
  }

  private async cycle(): Promise<void> {
    try {
      if (!this.index.loaded || Date.now() - this.lastSuccess > MAX_GAP_MS) {
        const load = this.load();
        if (!this.index.loaded) this.index.loadingWith(load);
        await load;
      } else {
        if (this.failing) this.due ??= 'recovered';
        if (this.directory.providerSwitches !== this.providerSwitches) this.due ??= 'failover';
        if (this.directory.connectionsLost !== this.connectionsLost) this.due ??= 'reconnected';
        if (this.mode === 'log') await this.pollLog();
        else if (Date.now() - this.lastLoad > FALLBACK_RELOAD_MS) await this.load();
        else if (this.mode === 'contextCSN') await this.pollContextCSN();
        if (this.mode === 'log') await this.checkContext();
        const reason = this.reconcileReason();
        if (reason) await this.reconcile(reason);
      }
      this.lastSuccess = Date.now();
      if (this.failing) this.options.log?.info({}, 'definition index: directory reachable again');
      this.failing = false;
      this.reportConflicts();
    } catch (error) {
      this.failed(error);
    }
  }

  /** Logs each replication conflict when it appears and when it is resolved. */
  private reportConflicts(): void {
    const now = new Map<string, Conflict>(
      this.index.conflicts().map((c) => [`${c.kind}\u0000${c.value.toLowerCase()}`, c] as const),
    );
    for (const [key, c] of now) {
      if (this.conflicts.has(key)) continue;
      this.options.log?.warn(
        { kind: c.kind, value: c.value, inums: c.definitions.map((s) => s.definition.inum) },
        c.kind === 'name'
          ? 'replication conflict: definitions created or renamed at the same time through different providers share a name; rename or delete all but one'
          : 'replication conflict: active definitions changed at the same time through different providers share a claim name; deactivate one or change its claim name',
      );
    }
    for (const key of this.conflicts) {
      if (!now.has(key))
        this.options.log?.info({ conflict: key.replace('\u0000', ' ') }, 'replication conflict resolved');
    }
    this.conflicts = new Set(now.keys());
  }

  private failed(error: unknown): void {
    if (!this.failing) this.options.log?.warn({ err: error }, 'definition index: cannot reach the directory');
    this.failing = true;
  }

  /** Reads the whole directory into the index, and settles how later changes will be found. */
  private async load(): Promise<void> {
    const started = performance.now();
    // Log records from a minute before the load on are looked at again (clocks of two hosts may differ);
    // those the load already reflects cost nothing.
    const position = fromMs(Date.now() - 60_000);
    this.contextCSN = await this.readContextCSN();
    const since = this.index.mark();
    const all = await this.store.readAll();
    this.index.replaceAll(all, since);
    this.index.settle(since);
    this.lastLoad = Date.now();
    this.lastSuccess = Date.now();
    // A load is a reconcile too.
    this.lastReconcile = Date.now();
    this.due = undefined;
    this.suspect = false;
    this.providerSwitches = this.directory.providerSwitches;
    this.connectionsLost = this.directory.connectionsLost;
    this.position = position;
    this.overlap = true;
    const mode = (await this.hasChangeLog()) ? 'log' : this.contextCSN ? 'contextCSN' : 'reload';
    if (mode !== this.mode && mode !== 'log') {
      this.options.log?.warn(
        { changeLog: this.options.changeLog || undefined, mode },
        mode === 'contextCSN'
          ? 'definition index: the directory has no readable change log; changes made elsewhere are found through contextCSN and entryCSN, deletes only by reading every definition again every 30 s'
          : 'definition index: the directory has neither a readable change log nor contextCSN; changes made elsewhere are found by reading every definition again every 30 s',
      );
    }
    this.mode = mode;
    this.options.log?.info(
      {
        definitions: all.length,
        ms: Math.round(performance.now() - started),
        rssMiB: Math.round(process.memoryUsage.rss() / 2 ** 20),
      },
      'definition index loaded',
    );
  }

  private async hasChangeLog(): Promise<boolean> {
    if (!this.options.changeLog) return false;
    try {
      await this.directory.run((c) =>
        c.search(this.options.changeLog, { scope: 'base', attributes: ['1.1'] }),
      );
      return true;
    } catch (error) {
      if (error instanceof DirectoryUnavailableError) throw error;
      return false;
    }
  }

  private async readContextCSN(): Promise<string> {
    const { searchEntries } = await this.directory.run((c) =>
      c.search(this.directory.options.baseDn, { scope: 'base', attributes: ['contextCSN'] }),
    );
    return text(searchEntries[0]?.contextCSN).sort().join(' ');
  }

  private async pollContextCSN(): Promise<void> {
    const contextCSN = await this.readContextCSN();
    if (contextCSN === this.contextCSN) return;
    const since = this.index.mark();
    const newest = this.index.newestVersion();
    const from = newest ? `${fromMs(toMs(newest.split('#')[0] ?? '') - OVERLAP_MS)}#000000#000#000000` : '';
    for (const read of await this.store.changedSince(from))
      this.index.applyRead(read.definition.inum, read, since);
    this.index.settle(since);
    this.contextCSN = contextCSN;
  }

  private async pollLog(): Promise<void> {
    const since = this.index.mark();
    const from = this.overlap ? fromMs(toMs(this.position) - OVERLAP_MS) : this.position;
    // The overlap is listed (names and times only) on every poll; the content of a record is read once,
    // when it is new: under a steady stream of writes, reading every record of the overlap in full on
    // every poll cost more than the writes themselves.
    let listed: Entry[];
    try {
      ({ searchEntries: listed } = await this.searchLog(from, ['reqEnd']));
    } catch (error) {
      if (!(error instanceof NoSuchObjectError)) throw error;
      return this.logMissing();
    }
    const fresh = await this.readFresh(listed.filter((e) => !this.seen.has(e.dn)));
    const unread = new Set(fresh.missing);
    this.seen = new Set(listed.map((e) => e.dn).filter((dn) => !unread.has(dn)));
    for (const e of listed) {
      const end = text(e.reqEnd)[0] ?? '';
      if (end > this.position && !unread.has(e.dn)) this.position = end;
    }
    // Keep reading an overlap while records come in; once a poll finds nothing new, the last ones are
    // long committed.
    this.overlap = fresh.records.length > 0 || fresh.missing.length > 0;
    for (const record of fresh.records) {
      const csn = text(record.entryCSN)[0];
      const sid = csn?.split('#')[2];
      if (csn && sid && csn > (this.logged.get(sid) ?? '')) this.logged.set(sid, csn);
    }
    const stale = new Set<string>();
    // A shared log (cn=accesslog of a Janssen directory) records people and other entries too.
    const under = `,${this.store.container.toLowerCase()}`;
    for (const record of fresh.records) {
      const dn = text(record.reqDN)[0] ?? '';
      const inum = dn.toLowerCase().endsWith(under) ? inumOf(dn) : undefined;
      if (inum === undefined) continue;
      const csn = text(record.reqMod)
        .find((m) => m.startsWith('entryCSN:'))
        ?.replace(/^entryCSN:. /, '');
      const current =
        text(record.reqType)[0] === 'delete'
          ? !this.index.get(inum)
          : csn !== undefined && this.index.holds(inum, csn);
      if (!current) stale.add(inum);
    }
    if (stale.size > 0) await this.reread([...stale], since);
    this.index.settle(since);
  }

  /** The change log has gone (removed, or a provider without one after a failover): contextCSN from now on. */
  private logMissing(): void {
    this.mode = this.contextCSN ? 'contextCSN' : 'reload';
    this.due ??= 'log-missing';
    this.options.log?.warn(
      { changeLog: this.options.changeLog, mode: this.mode },
      'definition index: the change log is gone; reconciling with the directory, and following it without the log from now on',
    );
  }

  /**
   * Reads contextCSN (at most every CONTEXT_CHECK_MS). It holds, per server id, the CSN of the newest
   * change the database holds from that server, and a log record carries the CSN of its change: a value
   * that moved and that no record has named by the next check (time enough for the polls to read it)
   * is a change the log did not name, or a user value write (which moves contextCSN too).
   */
  private async checkContext(): Promise<void> {
    if (Date.now() - this.contextCheckedAt < CONTEXT_CHECK_MS) return;
    this.contextCheckedAt = Date.now();
    const contextCSN = await this.readContextCSN();
    for (const [sid, csn] of this.unexplained) if ((this.logged.get(sid) ?? '') < csn) this.suspect = true;
    const before = new Map(this.contextCSN.split(' ').map((csn) => [csn.split('#')[2] ?? '', csn]));
    this.unexplained = new Map();
    for (const csn of contextCSN.split(' ').filter(Boolean)) {
      const sid = csn.split('#')[2] ?? '';
      if (this.contextCSN && before.get(sid) !== csn) this.unexplained.set(sid, csn);
    }
    this.contextCSN = contextCSN;
  }

  private reconcileReason(): ReconcileReason | undefined {
    if (this.due) return this.due;
    const now = Date.now();
    if (this.options.reconcileMs > 0 && now - this.lastReconcile >= this.options.reconcileMs)
      return 'periodic';
    const unexplained = suspicionDue({
      contextMoved: this.suspect,
      now,
      lastReconcile: this.lastReconcile,
      lastDurationMs: this.lastReconcileMs,
      minGapMs: SUSPICION_MIN_GAP_MS,
      costFactor: SUSPICION_COST_FACTOR,
    });
    return unexplained ? 'unexplained' : undefined;
  }

  /**
   * Compares every definition's entryCSN in the directory with the index, and reads again the ones that
   * differ (all of them, with one paged read, when many do).
   */
  private async reconcile(reason: ReconcileReason): Promise<void> {
    const started = performance.now();
    this.suspect = false;
    const switches = this.directory.providerSwitches;
    const lost = this.directory.connectionsLost;
    const since = this.index.mark();
    const versions = await this.store.versions();
    const diff = reconcileDiff(this.index.versions(), versions);
    const reread = toReread(diff);
    if (reread.length > Math.max(READ_BATCH, versions.size * RELOAD_SHARE)) await this.load();
    else if (reread.length > 0) await this.reread(reread, since);
    this.index.settle(since);
    this.due = undefined;
    this.providerSwitches = switches;
    this.connectionsLost = lost;
    this.lastReconcile = Date.now();
    this.lastReconcileMs = performance.now() - started;
    const facts = {
      reason,
      definitions: versions.size,
      missing: diff.missing.length,
      changed: diff.changed.length,
      added: diff.added.length,
      ms: Math.round(this.lastReconcileMs),
    };
    if (reread.length > 0)
      this.options.log?.warn(
        facts,
        'definition index: reconciled with the directory, which had changes the change log did not name',
      );
    else this.options.log?.info(facts, 'definition index: reconciled with the directory, nothing to correct');
    this.options.reconciled?.(reason, reread.length, this.lastReconcileMs / 1000);
  }

  private searchLog(from: string, attributes: string[]) {
    return this.directory.run((c) =>
      c.search(this.options.changeLog, {
        scope: 'one',
        filter: new GreaterThanEqualsFilter({ attribute: 'reqEnd', value: from }),
        attributes,
      }),
    );
  }

  /**
   * The content of the listed records (one search from the earliest of them on), and the names of any
   * that could not be read (gone from the log meanwhile; they are listed again next time, as unseen).
   */
  private async readFresh(listed: Entry[]): Promise<{ records: Entry[]; missing: string[] }> {
    if (listed.length === 0) return { records: [], missing: [] };
    const earliest = listed.map((e) => text(e.reqEnd)[0] ?? '').sort()[0] ?? '';
    const wanted = new Set(listed.map((e) => e.dn));
    const { searchEntries } = await this.searchLog(earliest, [
      'reqType',
      'reqDN',
      'reqEnd',
      'reqMod',
      'entryCSN',
    ]);
    const records = searchEntries.filter((e) => wanted.has(e.dn));
    const found = new Set(records.map((e) => e.dn));
    return { records, missing: [...wanted].filter((dn) => !found.has(dn)) };
  }

  /** Reads definitions again, a batch per search, and puts what the directory holds now into the index. */
  private async reread(inums: string[], since: number): Promise<void> {
    for (let i = 0; i < inums.length; i += READ_BATCH) {
      const batch = inums.slice(i, i + READ_BATCH);
      const read = await this.store.getMany(batch);
      for (const inum of batch) this.index.applyRead(inum, read.get(inum.toLowerCase()), since);
    }
  }
}
