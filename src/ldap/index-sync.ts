import { GreaterThanEqualsFilter, type Entry } from 'ldapts';
import type { DefinitionIndex } from '../attributes/definition-index.js';
import { DirectoryUnavailableError } from '../errors.js';
import type { LdapAttributeStore } from './attribute-store.js';
import type { Directory } from './directory.js';

export interface IndexSyncOptions {
  /** How often to ask the directory what changed. */
  pollMs: number;
  /** Base of the accesslog database that records writes under ou=attributes (empty: none). */
  changeLog: string;
  /** Told about loads, fallbacks and failures. */
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

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

/** The inum in `inum=<value>,ou=attributes,...`, with DN escapes undone. */
function inumOf(dn: string): string | undefined {
  const value = /^inum=((?:[^,+\\]|\\.)+),/i.exec(dn)?.[1];
  if (value === undefined) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value[i] === '\\' ? /^[0-9a-f]{2}/i.exec(value.slice(i + 1))?.[0] : undefined;
    if (hex) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      if (value[i] === '\\') i++;
      bytes.push(...Buffer.from(value[i] ?? '', 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

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
      } else if (this.mode === 'log') await this.pollLog();
      else if (Date.now() - this.lastLoad > FALLBACK_RELOAD_MS) await this.load();
      else if (this.mode === 'contextCSN') await this.pollContextCSN();
      this.lastSuccess = Date.now();
      if (this.failing) this.options.log?.info({}, 'definition index: directory reachable again');
      this.failing = false;
    } catch (error) {
      this.failed(error);
    }
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
    const { searchEntries: listed } = await this.searchLog(from, ['reqEnd']);
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
    const { searchEntries } = await this.searchLog(earliest, ['reqType', 'reqDN', 'reqEnd', 'reqMod']);
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
