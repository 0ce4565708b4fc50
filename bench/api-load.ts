import autocannon from 'autocannon';
import { Latencies, type Slice } from './stats.js';

export interface LoadOptions {
  connections: number;
  durationS: number;
  /** Per-request limit; a request that takes longer counts as a timeout (failed). */
  timeoutS: number;
}

/** One autocannon request: a method and path, or a sequence built per connection. */
export type ApiRequests = autocannon.Request[];

/**
 * Drives the service with autocannon for a fixed duration and connection count. Latencies are taken
 * from autocannon's per-response event (high resolution, 2xx only) into `latencies`, so the API and the
 * raw baseline use the same percentile computation.
 */
export function runApi(
  url: string,
  requests: ApiRequests,
  options: LoadOptions,
  latencies = new Latencies(),
): Promise<Slice> {
  let ok = 0;
  return new Promise((done, fail) => {
    const instance = autocannon(
      {
        url,
        connections: options.connections,
        duration: options.durationS,
        timeout: options.timeoutS,
        requests,
      },
      (error: unknown, result: autocannon.Result) => {
        if (error) {
          fail(error);
          return;
        }
        const failures: Record<string, number> = {};
        for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) {
          if (!code.startsWith('2') && count) failures[`HTTP ${code}`] = count;
        }
        if (result.errors) failures.errors = result.errors - result.timeouts;
        if (result.timeouts) failures.timeouts = result.timeouts;
        if (failures.errors === 0) delete failures.errors;
        const failed = result.non2xx + result.errors;
        done({ ok, failed, failures, seconds: result.duration });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) {
        latencies.add(responseTime);
        ok++;
      }
    });
  });
}
