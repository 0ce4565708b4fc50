/** What one side (API or raw LDAP) of one scenario measured. */
export interface Measurement {
  /** Completed operations (HTTP responses of any status, or LDAP operations that succeeded or failed). */
  operations: number;
  /** Successful ones: 2xx responses, or LDAP operations without error. */
  ok: number;
  /** Non-2xx responses, connection errors, timeouts, LDAP errors. */
  failed: number;
  /** HTTP status counts, or LDAP error names, when anything failed. */
  failures: Record<string, number>;
  seconds: number;
  /** Successful operations per second. */
  perSecond: number;
  /** Latency of successful operations, in milliseconds. */
  p50: number;
  p99: number;
  mean: number;
  /**
   * CPU used during the run by the service, slapd and the benchmark process (the load generator), in %
   * of one core (a 2-core machine has 200 %).
   */
  cpu?: { service: number; slapd: number; loadGenerator: number };
}

/** Latencies (ms) of successful operations, kept in a growable typed array. */
export class Latencies {
  private values = new Float64Array(1 << 16);
  private size = 0;

  add(ms: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = ms;
  }

  get count(): number {
    return this.size;
  }

  /** Nearest-rank percentiles over every recorded value. */
  summary(): { p50: number; p99: number; mean: number } {
    if (this.size === 0) return { p50: NaN, p99: NaN, mean: NaN };
    const sorted = this.values.slice(0, this.size).sort();
    const at = (p: number) => sorted[Math.min(this.size - 1, Math.ceil((p / 100) * this.size) - 1)] as number;
    let sum = 0;
    for (const v of sorted) sum += v;
    return { p50: at(50), p99: at(99), mean: sum / this.size };
  }
}

/** One measured slice of a side: its own counts; its latencies went into the side's Latencies. */
export interface Slice {
  ok: number;
  failed: number;
  failures: Record<string, number>;
  seconds: number;
  cpu?: Measurement['cpu'];
}

/** A side's measurement from its slices (counts and times added, CPU weighted by time). */
export function measurement(latencies: Latencies, slices: Slice[]): Measurement {
  const sum = (of: (slice: Slice) => number) => slices.reduce((total, slice) => total + of(slice), 0);
  const [ok, failed, seconds] = [sum((s) => s.ok), sum((s) => s.failed), sum((s) => s.seconds)];
  const failures: Record<string, number> = {};
  for (const slice of slices)
    for (const [name, count] of Object.entries(slice.failures))
      failures[name] = (failures[name] ?? 0) + count;
  const cpuOf = (key: keyof NonNullable<Measurement['cpu']>) =>
    Math.round(sum((s) => (s.cpu?.[key] ?? Number.NaN) * s.seconds) / seconds);
  const cpu = slices.every((s) => s.cpu)
    ? { service: cpuOf('service'), slapd: cpuOf('slapd'), loadGenerator: cpuOf('loadGenerator') }
    : undefined;
  return {
    operations: ok + failed,
    ok,
    failed,
    failures,
    seconds,
    perSecond: ok / seconds,
    ...latencies.summary(),
    ...(cpu && { cpu }),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}
