import {
  AlreadyExistsError,
  BusyError,
  Client,
  EqualityFilter,
  ResultCodeError,
  UnavailableError,
} from 'ldapts';
import { DirectoryUnavailableError } from '../errors.js';

export interface DirectoryOptions {
  /**
   * The directory's URL, or several separated by spaces (providers of one replicated directory, in order
   * of preference, as OpenLDAP's tools take them).
   */
  url: string;
  bindDn: string;
  bindPassword: string;
  /** Base DN of the tree, e.g. `o=jans`. */
  baseDn: string;
  /** Number of connections kept open; operations are spread over them. */
  poolSize: number;
  connectTimeoutMs: number;
  operationTimeoutMs: number;
  /**
   * Operations that may wait for the directory at once; more are refused at once (503). Each waits at
   * most its timeout, so while the directory hangs this, not the request rate, bounds what is held.
   */
  maxPending: number;
  /** PEM certificates to trust for ldaps:// and StartTLS (default: the system's). */
  tlsCa?: string;
  /** Upgrade each ldap:// connection with StartTLS before binding, and again after every reconnect. */
  startTls?: boolean;
  /** Told the duration and outcome of every client call (search, add, modify, ...), for metrics. */
  observe?: (operation: string, seconds: number, error?: unknown) => void;
  /** With several providers: how often the preferred ones are tried again while on another (default 5000). */
  failbackMs?: number;
  /** Told when the connections move to another provider. */
  switched?: (from: string, to: string) => void;
}

/** Refused here, before reaching any provider: another provider would not help. */
class TooManyPendingError extends DirectoryUnavailableError {}

/** Errors of an operation that never left this process: safe to send again, to another provider. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
function neverSent(error: DirectoryUnavailableError): boolean {
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NOT_SENT.has(code);
}

interface PooledClient {
  /** The provider this client talks to. */
  url: string;
  client: Client;
  /** The bind (after StartTLS, if used) in progress on this client, shared by the operations waiting for it. */
  bound?: Promise<void>;
  /** The connection was open after the last operation: finding it closed means it was lost. */
  open?: boolean;
  /** The paged search running on this connection, if any: OpenLDAP allows one per connection. */
  paging: Promise<unknown>;
}

/**
 * A small pool of bound connections to the directory. Each ldapts client multiplexes many operations
 * over one connection and reconnects by itself, so the pool only spreads load and binds once per client.
 * Connection failures and timeouts surface as DirectoryUnavailableError (503), never as a hang.
 *
 * With several providers, the pool talks to one at a time, the first that answers in the order given.
 * When an operation finds its provider unavailable, every provider is asked (a bind and a base search)
 * and the pool moves to the first that answers; an operation that never reached the failed provider (its
 * connection was refused) is sent again there, others answer 503 as without failover (a write that
 * may have been applied is never sent twice). While on another provider than the first, the preferred
 * ones are asked again every `failbackMs`, and the pool moves back as soon as one answers.
 */
export class Directory {
  private pool: PooledClient[];
  private next = 0;
  private pending = 0;
  /** The providers, in order of preference, and the one in use. */
  readonly urls: string[];
  private active = 0;
  /** How many times the pool has moved to another provider: a reader of the directory's state starts over. */
  providerSwitches = 0;
  /**
   * How many connections were found closed since (the provider restarted, or the network broke): what
   * the provider holds may have changed without a trace a reader could follow, so a reader starts over.
   */
  connectionsLost = 0;
  private switching: Promise<void> | undefined;
  private failback: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(readonly options: DirectoryOptions) {
    this.urls = options.url.trim().split(/\s+/);
    this.pool = this.newPool(this.urls[0] as string);
  }

  /** The provider in use. */
  get url(): string {
    return this.urls[this.active] as string;
  }

  private newPool(url: string): PooledClient[] {
    return Array.from({ length: Math.max(1, this.options.poolSize) }, () => ({
      url,
      paging: Promise.resolve(),
      client: this.newClient(url),
    }));
  }

  private newClient(url: string): Client {
    return new Client({
      url,
      connectTimeout: this.options.connectTimeoutMs,
      timeout: this.options.operationTimeoutMs,
      autoRebind: true,
      // ldapts speaks TLS from the first byte whenever it has tlsOptions: only for ldaps://.
      ...(this.options.tlsCa && !this.options.startTls ? { tlsOptions: { ca: this.options.tlsCa } } : {}),
    });
  }

  /**
   * Runs one operation on a bound connection. LDAP result codes other than outages pass through. An
   * operation that only `reads` may be sent again to another provider whatever became of it.
   */
  async run<T>(operation: (client: Client) => Promise<T>, reads = false): Promise<T> {
    const pooled = this.pool[this.next++ % this.pool.length] as PooledClient;
    try {
      return await this.bounded(() => this.runOn(pooled, operation), 1);
    } catch (error) {
      if (!(await this.movedAfter(pooled, error, reads))) throw error;
      const other = this.pool[this.next++ % this.pool.length] as PooledClient;
      return this.bounded(() => this.runOn(other, operation), 1);
    }
  }

  /**
   * After an operation on `pooled` failed with `error`: moves to another provider if the failure is the
   * provider's, and says whether the operation may be sent again there (it only reads, or it never
   * reached the first).
   */
  private async movedAfter(pooled: PooledClient, error: unknown, reads: boolean): Promise<boolean> {
    if (this.urls.length < 2 || !(error instanceof DirectoryUnavailableError)) return false;
    if (error instanceof TooManyPendingError) return false;
    if (pooled.url === this.url) await this.chooseProvider();
    return pooled.url !== this.url && (reads || neverSent(error));
  }

  /** Moves the pool to the first provider that answers (single-flight); stays when none does. */
  private chooseProvider(): Promise<void> {
    this.switching ??= (async () => {
      const answers = await Promise.all(this.urls.map((url) => this.answers(url)));
      const best = answers.indexOf(true);
      if (best >= 0 && best !== this.active && !this.closed) this.use(best);
    })().finally(() => {
      this.switching = undefined;
    });
    return this.switching;
  }

  /** Whether a provider takes a bind and answers a search of the base entry, within the usual limits. */
  private async answers(url: string): Promise<boolean> {
    const client = this.newClient(url);
    let timer: NodeJS.Timeout | undefined;
    const limit = this.options.connectTimeoutMs + this.options.operationTimeoutMs;
    try {
      const probe = (async () => {
        if (this.options.startTls)
          await client.startTLS({ host: new URL(url).hostname, ca: this.options.tlsCa });
        if (this.options.bindDn) await client.bind(this.options.bindDn, this.options.bindPassword);
        await client.search(this.options.baseDn, { scope: 'base', attributes: ['1.1'] });
      })();
      const late = new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error('no answer')), limit);
      });
      await Promise.race([probe, late]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      void client.unbind().catch(() => undefined);
    }
  }

  private use(index: number): void {
    const from = this.url;
    const old = this.pool;
    this.active = index;
    this.pool = this.newPool(this.url);
    this.providerSwitches++;
    this.options.switched?.(from, this.url);
    // Operations under way on the old connections may finish (a provider given up for a preferred one
    // still answers); then they are closed.
    const closing = setTimeout(
      () => void Promise.all(old.map(({ client }) => client.unbind().catch(() => undefined))),
      this.options.connectTimeoutMs + this.options.operationTimeoutMs,
    );
    closing.unref();
    clearInterval(this.failback);
    this.failback = undefined;
    if (index > 0) {
      this.failback = setInterval(() => void this.chooseProvider(), this.options.failbackMs ?? 5000);
      this.failback.unref();
    }
  }

  /**
   * Runs a paged search. OpenLDAP keeps one paged-results state per connection, and a second paged
   * search on the same connection invalidates the first, so paged searches take turns per connection
   * (other operations still share it).
   */
  async paged<T>(search: (client: Client) => Promise<T>): Promise<T> {
    const pooled = this.pool[this.next++ % this.pool.length] as PooledClient;
    try {
      return await this.pagedOn(pooled, search);
    } catch (error) {
      if (!(await this.movedAfter(pooled, error, true))) throw error;
      return this.pagedOn(this.pool[this.next++ % this.pool.length] as PooledClient, search);
    }
  }

  private pagedOn<T>(pooled: PooledClient, search: (client: Client) => Promise<T>): Promise<T> {
    const turn = pooled.paging.then(() => this.bounded(() => this.runOn(pooled, search), 10));
    pooled.paging = turn.catch(() => undefined);
    return turn;
  }

  /**
   * The client's own timeouts cover each request, but an operation caught in a reconnect while the
   * server restarts can be left waiting for ever: this bounds the whole of it, to `operations` times the
   * operation timeout (a paged search makes many requests) plus the connect timeout.
   */
  private async bounded<T>(start: () => Promise<T>, operations: number): Promise<T> {
    if (this.pending >= this.options.maxPending) {
      throw new TooManyPendingError(
        new Error(`${this.pending} directory operations are already waiting for an answer`),
      );
    }
    this.pending++;
    const work = start();
    let timer: NodeJS.Timeout | undefined;
    const limit = this.options.connectTimeoutMs + operations * this.options.operationTimeoutMs;
    const deadline = new Promise<never>((_, fail) => {
      timer = setTimeout(
        () => fail(new DirectoryUnavailableError(new Error(`no answer in ${limit} ms`))),
        limit,
      );
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
      this.pending--;
    }
  }

  private async runOn<T>(pooled: PooledClient, operation: (client: Client) => Promise<T>): Promise<T> {
    if (pooled.open && !pooled.client.isConnected) {
      pooled.open = false;
      this.connectionsLost++;
    }
    try {
      if (this.options.bindDn && !pooled.client.isBound) {
        pooled.bound ??= this.authenticate(pooled).finally(() => {
          pooled.bound = undefined;
        });
        // Whatever keeps the service from binding (refused TLS, wrong password) leaves it without a directory.
        await pooled.bound.catch((error: unknown) => {
          throw new DirectoryUnavailableError(error);
        });
      }
      const result = await operation(this.observed(pooled.client));
      pooled.open = pooled.client.isConnected;
      return result;
    } catch (error) {
      if (error instanceof DirectoryUnavailableError) throw error;
      if (
        error instanceof ResultCodeError &&
        !(error instanceof BusyError || error instanceof UnavailableError)
      ) {
        throw error;
      }
      throw new DirectoryUnavailableError(error);
    }
  }

  /**
   * Binds a connection that is not bound: on a fresh connection, and after ldapts reconnected one. With
   * StartTLS the connection is upgraded first; ldapts never replays such a bind by itself (it would go out
   * before the upgrade), so every reconnect comes through here and is upgraded again. Both are observed:
   * while the directory is down, the bind is where every operation fails.
   */
  private async authenticate({ client, url }: PooledClient): Promise<void> {
    const observed = this.observed(client);
    if (this.options.startTls) {
      await observed.startTLS({ host: new URL(url).hostname, ca: this.options.tlsCa });
    }
    await observed.bind(this.options.bindDn, this.options.bindPassword);
  }

  /** The client, with each of its calls timed for `options.observe`. */
  private observed(client: Client): Client {
    const observe = this.options.observe;
    if (!observe) return client;
    return new Proxy(client, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        return async (...args: unknown[]) => {
          const started = process.hrtime.bigint();
          const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
          try {
            const result: unknown = await value.apply(target, args);
            observe(property, seconds());
            return result;
          } catch (error) {
            observe(property, seconds(), error);
            throw error;
          }
        };
      },
    });
  }

  /** Open connections, for metrics. */
  connectionsOpen(): number {
    return this.pool.filter(({ client }) => client.isConnected).length;
  }

  /** Operations waiting for an answer (what `maxPending` bounds), for metrics. */
  operationsPending(): number {
    return this.pending;
  }

  /**
   * Whether the directory's schema defines the object class. The subschema entry is matched on the class's
   * name (objectIdentifierFirstComponentMatch), so only a yes or a no comes back, not the whole schema.
   */
  async knowsObjectClass(name: string): Promise<boolean> {
    return this.run(async (c) => {
      const root = await c.search('', { scope: 'base', attributes: ['subschemaSubentry'] });
      const subschema = String(root.searchEntries[0]?.subschemaSubentry ?? 'cn=Subschema');
      const { searchEntries } = await c.search(subschema, {
        scope: 'base',
        filter: new EqualityFilter({ attribute: 'objectClasses', value: name }),
        attributes: ['1.1'],
      });
      return searchEntries.length > 0;
    });
  }

  /** Adds an entry unless it exists already (containers made on first use). */
  async addIfMissing(dn: string, attributes: Record<string, string[]>): Promise<void> {
    await this.run((c) => c.add(dn, attributes)).catch((error: unknown) => {
      if (!(error instanceof AlreadyExistsError)) throw error;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.failback);
    await Promise.all(this.pool.map(({ client }) => client.unbind().catch(() => undefined)));
  }
}
