import { Client } from 'ldapts';
import { Latencies, type Slice } from './stats.js';

export interface RawPoolOptions {
  url: string;
  bindDn: string;
  password: string;
  /** Connections, like the service's LDAP_POOL_SIZE. */
  size: number;
  timeoutMs: number;
}

/** Bound ldapts clients, used round-robin, as the service's own pool does. */
export class RawPool {
  private next = 0;
  private constructor(private readonly clients: Client[]) {}

  static async open(options: RawPoolOptions): Promise<RawPool> {
    const clients = Array.from(
      { length: options.size },
      () => new Client({ url: options.url, timeout: options.timeoutMs, connectTimeout: 5000 }),
    );
    const pool = new RawPool(clients);
    try {
      await Promise.all(clients.map((c) => c.bind(options.bindDn, options.password)));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  client(): Client {
    return this.clients[this.next++ % this.clients.length] as Client;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.unbind().catch(() => undefined)));
  }
}

/** Times one LDAP operation; an operation of the scenario may consist of several (add, then delete). */
export type Timed = <T>(operation: (client: Client) => Promise<T>) => Promise<T>;

/**
 * Keeps `concurrency` operations in flight for `durationS` seconds, like autocannon's connections: each
 * worker starts its next operation as soon as the last one finished. Every LDAP call is one operation
 * with its own latency. Operations still in flight at the end finish (bounded by the client timeout).
 */
export async function runRaw(
  pool: RawPool,
  scenario: (timed: Timed, worker: number) => Promise<void>,
  options: { concurrency: number; durationS: number },
  latencies = new Latencies(),
): Promise<Slice> {
  let ok = 0;
  const failures: Record<string, number> = {};
  let failed = 0;
  const started = performance.now();
  const end = started + options.durationS * 1000;
  const timed: Timed = async (operation) => {
    const t0 = performance.now();
    try {
      const result = await operation(pool.client());
      latencies.add(performance.now() - t0);
      ok++;
      return result;
    } catch (error) {
      failed++;
      const name = (error as Error)?.name ?? 'Error';
      failures[name] = (failures[name] ?? 0) + 1;
      throw error;
    }
  };
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      while (performance.now() < end) {
        await scenario(timed, worker).catch(() => undefined);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { ok, failed, failures, seconds };
}
