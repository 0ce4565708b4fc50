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
}

interface PooledClient {
  client: Client;
  /** The bind (after StartTLS, if used) in progress on this client, shared by the operations waiting for it. */
  bound?: Promise<void>;
  /** The paged search running on this connection, if any: OpenLDAP allows one per connection. */
  paging: Promise<unknown>;
}

/**
 * A small pool of bound connections to the directory. Each ldapts client multiplexes many operations
 * over one connection and reconnects by itself, so the pool only spreads load and binds once per client.
 * Connection failures and timeouts surface as DirectoryUnavailableError (503), never as a hang.
 */
export class Directory {
  private readonly pool: PooledClient[];
  private next = 0;
  private pending = 0;

  constructor(readonly options: DirectoryOptions) {
    this.pool = Array.from({ length: Math.max(1, options.poolSize) }, () => ({
      paging: Promise.resolve(),
      client: new Client({
        url: options.url,
        connectTimeout: options.connectTimeoutMs,
        timeout: options.operationTimeoutMs,
        autoRebind: true,
        // ldapts speaks TLS from the first byte whenever it has tlsOptions: only for ldaps://.
        ...(options.tlsCa && !options.startTls ? { tlsOptions: { ca: options.tlsCa } } : {}),
      }),
    }));
  }

  /** Runs one operation on a bound connection. LDAP result codes other than outages pass through. */
  async run<T>(operation: (client: Client) => Promise<T>): Promise<T> {
    const pooled = this.pool[this.next++ % this.pool.length] as PooledClient;
    return this.bounded(() => this.runOn(pooled, operation), 1);
  }

  /**
   * Runs a paged search. OpenLDAP keeps one paged-results state per connection, and a second paged
   * search on the same connection invalidates the first, so paged searches take turns per connection
   * (other operations still share it).
   */
  async paged<T>(search: (client: Client) => Promise<T>): Promise<T> {
    const pooled = this.pool[this.next++ % this.pool.length] as PooledClient;
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
      throw new DirectoryUnavailableError(
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
    try {
      if (this.options.bindDn && !pooled.client.isBound) {
        pooled.bound ??= this.authenticate(pooled.client).finally(() => {
          pooled.bound = undefined;
        });
        // Whatever keeps the service from binding (refused TLS, wrong password) leaves it without a directory.
        await pooled.bound.catch((error: unknown) => {
          throw new DirectoryUnavailableError(error);
        });
      }
      return await operation(this.observed(pooled.client));
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
  private async authenticate(client: Client): Promise<void> {
    const observed = this.observed(client);
    if (this.options.startTls) {
      await observed.startTLS({ host: new URL(this.options.url).hostname, ca: this.options.tlsCa });
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
    await Promise.all(this.pool.map(({ client }) => client.unbind().catch(() => undefined)));
  }
}
