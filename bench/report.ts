import type { Measurement } from './stats.js';

export interface ScenarioResult {
  id: string;
  title: string;
  /** Definitions the query matches (list scenarios). */
  matches?: number;
  api: Measurement;
  raw: Measurement;
  /** API throughput ÷ raw throughput. */
  ratio: number;
  /**
   * Directory operations the service made per API request during the API slices, by operation. Includes
   * the service's own background work (polling the change log), so reads show a small search share.
   */
  ldapPerRequest: Record<string, number>;
}

export interface SizeResult {
  definitions: number;
  /** Writing the LDIF and running slapadd. */
  loadSeconds: number;
  slapaddSeconds: number;
  /** From spawning the service (slapd already running) to the first 200 of an authorised GET by inum. */
  firstOkSeconds: number;
  /** The same from spawning the service in embedded mode on the loaded data dir (it starts slapd itself). */
  firstOkEmbeddedSeconds: number;
  /** VmHWM of the service process over all scenarios of this size, and of slapd. */
  peakRssMiB: number | undefined;
  slapdPeakRssMiB: number | undefined;
  embeddedPeakRssMiB: number | undefined;
  checks: { name: string; ok: boolean; detail: string }[];
  /** One request at a time: the last page of all definitions sorted by displayName descending. */
  sortedAllProbe: { apiMs: number; rawMs: number; runs: number };
  /**
   * Coherence: from a raw modify of a definition (as ldapmodify would make, behind the service's back)
   * until the API serves the new value; one change at a time, on an idle service.
   */
  staleness: { minMs: number; medianMs: number; maxMs: number; changes: number };
  scenarios: ScenarioResult[];
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function num(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (digits === 0) return int.format(value);
  return value.toFixed(digits);
}

function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : int.format(value);
}

function failures(m: Measurement): string {
  if (m.failed === 0) return '0';
  const detail = Object.entries(m.failures)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  return `${int.format(m.failed)} (${detail})`;
}

/** CPU of the service, slapd and the load generator during the run, in % of one core. */
function cpu(m: Measurement): string {
  return m.cpu ? `${m.cpu.service}/${m.cpu.slapd}/${m.cpu.loadGenerator}` : '—';
}

/** `modify 1.00, add 0.07`: the operations made per request, most first, leaving out those under 0.005. */
function perRequest(operations: Record<string, number> | undefined): string {
  const made = Object.entries(operations ?? {})
    .filter(([, count]) => count >= 0.005)
    .sort(([, a], [, b]) => b - a);
  return made.length === 0
    ? '—'
    : made.map(([operation, count]) => `${operation} ${count.toFixed(2)}`).join(', ');
}

export function sizeTable(size: SizeResult): string {
  const lines = [
    `### N = ${int.format(size.definitions)}`,
    '',
    '| scenario | matches | API req/s | API p50 ms | API p99 ms | API failed | API CPU % svc/slapd/gen | raw ops/s | raw p50 ms | raw p99 ms | raw failed | raw CPU % svc/slapd/gen | API÷raw | LDAP ops per API request |',
    '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |',
  ];
  for (const s of size.scenarios) {
    lines.push(
      `| ${s.title} | ${s.matches === undefined ? '' : num(s.matches)} | ${num(s.api.perSecond)} | ${ms(s.api.p50)} | ${ms(s.api.p99)} | ${failures(s.api)} | ${cpu(s.api)} | ${num(s.raw.perSecond)} | ${ms(s.raw.p50)} | ${ms(s.raw.p99)} | ${failures(s.raw)} | ${cpu(s.raw)} | ${num(s.ratio, 2)} | ${perRequest(s.ldapPerRequest)} |`,
    );
  }
  lines.push('');
  lines.push(
    `Whole-directory sort (all ${int.format(size.definitions)} definitions by displayName descending, last page; one request at a time, median of ${size.sortedAllProbe.runs}): API ${ms(size.sortedAllProbe.apiMs)} ms, raw fetch + client sort ${ms(size.sortedAllProbe.rawMs)} ms.`,
  );
  const { staleness } = size;
  lines.push('');
  lines.push(
    `Staleness (a raw modify behind the service's back until the API serves it; ${staleness.changes} changes, one at a time): min ${ms(staleness.minMs)} ms, median ${ms(staleness.medianMs)} ms, max ${ms(staleness.maxMs)} ms.`,
  );
  lines.push('');
  lines.push(`Checks: ${size.checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.name} (${c.detail})`).join('; ')}.`);
  return lines.join('\n');
}

export function summaryTable(sizes: SizeResult[]): string {
  const lines = [
    '| N | load (slapadd) s | first 200 s (slapd running) | first 200 s (embedded, starts slapd) | service peak RSS MiB | slapd peak RSS MiB | embedded service RSS at first 200 MiB |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of sizes) {
    lines.push(
      `| ${int.format(s.definitions)} | ${num(s.loadSeconds, 2)} (${num(s.slapaddSeconds, 2)}) | ${num(s.firstOkSeconds, 2)} | ${num(s.firstOkEmbeddedSeconds, 2)} | ${num(s.peakRssMiB)} | ${num(s.slapdPeakRssMiB)} | ${num(s.embeddedPeakRssMiB)} |`,
    );
  }
  return lines.join('\n');
}
