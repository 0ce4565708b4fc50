/**
 * `npm run bench [-- --quick] [options]`: the service against raw LDAP on the same private slapd, at
 * several directory sizes. See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Attribute, Change } from 'ldapts';
import { findSlapd } from '../src/directory/slapd.js';
import { runApi } from './api-load.js';
import { loadDirectory, standardNames } from './directory.js';
import { PATTERN_TOKEN } from './generate.js';
import { RawPool, runRaw } from './raw-load.js';
import { sizeTable, summaryTable, type ScenarioResult, type SizeResult } from './report.js';
import {
  CONTAINER,
  FIELD_VALUE_PAIR,
  PAGE,
  READ_ATTRIBUTES,
  SCENARIOS,
  fieldValueFilter,
  patternFilter,
  sortedPage,
  type ScenarioContext,
} from './scenarios.js';
import { Tokens, cpuSeconds, peakRss, startService, type RunningService } from './service.js';
import { Latencies, measurement, median, type Measurement, type Slice } from './stats.js';
import { VALUE_SCENARIOS, prepareValues } from './values.js';
import type { ApiRequests } from './api-load.js';
import type { Timed } from './raw-load.js';

const t0 = performance.now();
const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));
const PROFILE_DIR = join(BENCH_DIR, 'profiles');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string', default: '32' },
    'pool-size': { type: 'string', default: '4' },
    timeout: { type: 'string', default: '30' },
    'log-level': { type: 'string', default: 'info' },
    scenarios: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'service-node-args': { type: 'string', default: '' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(`npm run bench -- [options]
  --quick               N = 71 and 2000, 1 s per side and scenario (under a minute in all)
  --sizes 71,10000      directory sizes (default 71,10000,100000)
  --duration S          seconds per side and scenario (default 10; quick 1)
  --warmup S            seconds of unmeasured load before each side (default 2; quick 0)
  --rounds R            measure in R alternating slices per side, API then raw (default 5; quick 1)
  --connections C       HTTP connections and raw operations in flight (default 32)
  --pool-size P         LDAP connections of the service and of the raw pool (default 4)
  --timeout S           per-request limit; slower answers count as failed (default 30)
  --log-level L         LOG_LEVEL of the service (default info: one JSON line per request, to a file)
  --scenarios a,b       only these (get, pattern, sorted, fieldValuePair, postDelete, patch, patchAny,
                        valueGet, valueSet, valueMany, sessionSet, valueSetHot, sessionSetHot)
  --cpu-prof            run the service with --cpu-prof; profiles go to bench/profiles/
  --service-node-args=A Node options for the service, e.g. --service-node-args=--max-old-space-size=256
  --out FILE            JSON results (default bench/results/<timestamp>.json)
`);
  process.exit(0);
}

function number(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number, not "${raw}"`);
  return value;
}

const quick = args.quick ?? false;
const options = {
  quick,
  sizes: (args.sizes ?? (quick ? '71,2000' : '71,10000,100000')).split(',').map((s) => number('sizes', s, 0)),
  durationS: number('duration', args.duration, quick ? 1 : 10),
  // autocannon runs whole seconds: a quick warm-up of 0.25 s took a second of the minute --quick has.
  warmupS: number('warmup', args.warmup, quick ? 0 : 2),
  rounds: Math.max(1, Math.round(number('rounds', args.rounds, quick ? 1 : 5))),
  connections: number('connections', args.connections, 32),
  poolSize: number('pool-size', args['pool-size'], 4),
  timeoutS: number('timeout', args.timeout, 30),
  logLevel: args['log-level'] ?? 'info',
  scenarios: args.scenarios?.split(',') ?? [...SCENARIOS, ...VALUE_SCENARIOS].map((s) => s.id),
  cpuProf: args['cpu-prof'] ?? false,
  serviceNodeArgs: (args['service-node-args'] ?? '').split(' ').filter(Boolean),
};
for (const id of options.scenarios) {
  if (![...SCENARIOS, ...VALUE_SCENARIOS].some((s) => s.id === id))
    throw new Error(`unknown scenario "${id}"`);
}
if (options.sizes.some((n) => n < 71)) throw new Error('--sizes: every size must be at least 71');

/** Everything started so far, stopped in reverse order at the end, on errors and on Ctrl-C. */
const cleanups: (() => Promise<unknown>)[] = [];
function onCleanup(cleanup: () => Promise<unknown>): () => Promise<void> {
  cleanups.push(cleanup);
  return async () => {
    const at = cleanups.indexOf(cleanup);
    if (at >= 0) cleanups.splice(at, 1);
    await cleanup();
  };
}
async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop() as () => Promise<unknown>;
    await limited('stopping', 30_000, cleanup()).catch((error: unknown) => log(String(error)));
  }
}

/**
 * Starts something with a time limit and registers its stop at once, so that it is stopped even when
 * the limit fires first and it comes up later (every start below also has a limit of its own).
 */
async function start<T>(
  what: string,
  limitMs: number,
  starting: Promise<T>,
  stop: (started: T) => Promise<unknown>,
): Promise<[T, () => Promise<void>]> {
  const stopper = onCleanup(async () => {
    const started = await starting.catch(() => undefined);
    if (started !== undefined) await stop(started);
  });
  return [await limited(what, limitMs, starting), stopper];
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping slapd and the service...\n`);
    void cleanUp().finally(() => process.exit(130));
  });
}

function log(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1)}s] ${message}\n`);
}

/** Rejects when `work` takes longer than `limitMs`; the caller's cleanups stop what it started. */
async function limited<T>(what: string, limitMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} took longer than ${limitMs / 1000} s`)), limitMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function apiJson(api: string, path: string, token: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${api}${path}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(options.timeoutS * 1000),
  });
  if (response.status !== 200)
    throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

/** Directory operations the service has made so far, by operation (bind, search, modify, ...), from /metrics. */
async function ldapOperations(serviceUrl: string): Promise<Map<string, number>> {
  const response = await fetch(`${serviceUrl}/metrics`, {
    signal: AbortSignal.timeout(options.timeoutS * 1000),
  });
  const counts = new Map<string, number>();
  const sample = /^ldap_operation_duration_seconds_count\{operation="([^"]+)"[^}]*\} (\d+)$/gm;
  for (const [, operation, count] of (await response.text()).matchAll(sample)) {
    counts.set(operation as string, (counts.get(operation as string) ?? 0) + Number(count));
  }
  return counts;
}

/** A scenario with its context: what each side runs, and what to check after the API's last run. */
interface BoundScenario {
  id: string;
  title: string;
  api(): ApiRequests;
  raw(): (timed: Timed, worker: number) => Promise<void>;
  check?(): Promise<SizeResult['checks'][number]>;
  /** Requests in flight on each side (default: the run's connections). */
  connections?: number;
}

interface Prepared {
  patternMatches: number;
  fieldValueMatches: number;
  checks: SizeResult['checks'];
  sortedAllProbe: SizeResult['sortedAllProbe'];
  staleness: SizeResult['staleness'];
}

/** Counts, correctness checks of the API against raw LDAP, and the sequential whole-directory sort. */
async function prepare(
  service: RunningService,
  pool: RawPool,
  token: string,
  definitions: number,
): Promise<Prepared> {
  const count = async (filter: ReturnType<typeof patternFilter>) => {
    const { searchEntries } = await pool
      .client()
      .search(CONTAINER, { scope: 'one', filter, attributes: ['1.1'] });
    return searchEntries.length;
  };
  const patternMatches = await count(patternFilter(PATTERN_TOKEN));
  const fieldValueMatches = await count(fieldValueFilter());
  const apiPattern = await apiJson(service.api, `/attributes?pattern=${PATTERN_TOKEN}&limit=1`, token);
  const apiFields = await apiJson(
    service.api,
    `/attributes?fieldValuePair=${encodeURIComponent(FIELD_VALUE_PAIR)}&limit=1`,
    token,
  );
  const deepStart = Math.max(0, patternMatches - PAGE);
  const apiSorted = await apiJson(
    service.api,
    `/attributes?pattern=${PATTERN_TOKEN}&sortBy=displayName&sortOrder=descending&startIndex=${deepStart}&limit=${PAGE}`,
    token,
  );
  const { searchEntries } = await pool.client().search(CONTAINER, {
    scope: 'one',
    filter: patternFilter(PATTERN_TOKEN),
    attributes: READ_ATTRIBUTES,
  });
  const rawSorted = sortedPage(searchEntries, deepStart, PAGE).map((e) => String(e.inum));
  const apiSortedInums = ((apiSorted.entries as { inum: string }[] | undefined) ?? []).map((e) => e.inum);
  const checks = [
    {
      name: `pattern=${PATTERN_TOKEN} totalEntriesCount = raw count`,
      ok: apiPattern.totalEntriesCount === patternMatches,
      detail: `${String(apiPattern.totalEntriesCount)} vs ${patternMatches}`,
    },
    {
      name: `fieldValuePair totalEntriesCount = raw count`,
      ok: apiFields.totalEntriesCount === fieldValueMatches,
      detail: `${String(apiFields.totalEntriesCount)} vs ${fieldValueMatches}`,
    },
    {
      name: 'sorted last page = raw client-side sort',
      ok: JSON.stringify(apiSortedInums) === JSON.stringify(rawSorted),
      detail: `${apiSortedInums.length} entries from startIndex ${deepStart}`,
    },
  ];

  // One request at a time, so it measures the work per request, not the queue.
  const apiTimes: number[] = [];
  const rawTimes: number[] = [];
  const probeStart = performance.now();
  const allStart = Math.max(0, definitions - PAGE);
  for (let run = 0; run < 3 && (run === 0 || performance.now() - probeStart < 15_000); run++) {
    let t = performance.now();
    await apiJson(
      service.api,
      `/attributes?sortBy=displayName&sortOrder=descending&startIndex=${allStart}&limit=${PAGE}`,
      token,
    );
    apiTimes.push(performance.now() - t);
    t = performance.now();
    const all = await pool.client().search(CONTAINER, {
      scope: 'one',
      filter: '(objectClass=jansAttr)',
      attributes: READ_ATTRIBUTES,
    });
    sortedPage(all.searchEntries, allStart, PAGE);
    rawTimes.push(performance.now() - t);
  }
  return {
    patternMatches,
    fieldValueMatches,
    checks,
    sortedAllProbe: { apiMs: median(apiTimes), rawMs: median(rawTimes), runs: apiTimes.length },
    staleness: await staleness(service, pool, token, quick ? 5 : 20),
  };
}

/**
 * How long a change made behind the service's back (a raw modify of a standard definition's
 * displayName) takes to show through the API: `changes` changes (20; 5 with --quick), one at a time,
 * each at a random moment, the API polled every 5 ms.
 * The original value is put back at the end, so the scenarios see the data as loaded.
 */
async function staleness(
  service: RunningService,
  pool: RawPool,
  token: string,
  changes: number,
): Promise<SizeResult['staleness']> {
  const inum = 'B4B0';
  const dn = `inum=${inum},${CONTAINER}`;
  const set = (value: string) =>
    pool.client().modify(
      dn,
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'displayName', values: [value] }),
      }),
    );
  const original = String((await apiJson(service.api, `/attributes/${inum}`, token)).displayName);
  const times: number[] = [];
  for (let i = 0; i < changes; i++) {
    const value = `Changed behind its back ${i}`;
    // At a random moment between two of the service's polls, not always right after one.
    await delay(Math.random() * 250);
    const started = performance.now();
    await set(value);
    while ((await apiJson(service.api, `/attributes/${inum}`, token)).displayName !== value) {
      if (performance.now() - started > 10_000)
        throw new Error('a change in the directory did not show within 10 s');
      await delay(5);
    }
    times.push(performance.now() - started);
  }
  await set(original);
  return {
    minMs: Math.min(...times),
    medianMs: median(times),
    maxMs: Math.max(...times),
    changes: times.length,
  };
}

/**
 * Runs one measured side and adds the CPU that the service, slapd and this process (the load generator)
 * used meanwhile, in % of one core: which of them was the bottleneck.
 */
async function withCpu(
  pids: { service?: number; slapd?: number },
  run: () => Promise<Slice>,
): Promise<Slice> {
  const wall = performance.now();
  const [service, slapd] = await Promise.all([cpuSeconds(pids.service), cpuSeconds(pids.slapd)]);
  const own = process.cpuUsage();
  const measured = await run();
  const seconds = (performance.now() - wall) / 1000;
  const [serviceAfter, slapdAfter] = await Promise.all([cpuSeconds(pids.service), cpuSeconds(pids.slapd)]);
  const { user, system } = process.cpuUsage(own);
  const percent = (used: number) => Math.round((100 * used) / seconds);
  return {
    ...measured,
    cpu: {
      service: percent(serviceAfter - service),
      slapd: percent(slapdAfter - slapd),
      loadGenerator: percent((user + system) / 1e6),
    },
  };
}

function cpuText(cpu: Measurement['cpu']): string {
  return cpu ? `service ${cpu.service} %, slapd ${cpu.slapd} %, load ${cpu.loadGenerator} %` : '—';
}

async function benchSize(workRoot: string, definitions: number, tokens: Tokens): Promise<SizeResult> {
  const dataDir = join(workRoot, `n${definitions}`);
  const scratch = join(workRoot, `n${definitions}-service`);
  await mkdir(dataDir, { recursive: true });
  await mkdir(scratch, { recursive: true });
  log(`N = ${definitions}: bulk load`);
  const [loaded, stopSlapd] = await start(
    'loading the directory',
    600_000,
    loadDirectory(dataDir, definitions),
    (l) => l.slapd.stop(),
  );
  const slapd = loaded.slapd;
  log(
    `N = ${definitions}: loaded in ${(loaded.loadMs / 1000).toFixed(2)} s (slapadd ${(loaded.slapaddMs / 1000).toFixed(2)} s)`,
  );

  const token = tokens.token();
  const [service, stopService] = await start(
    'starting the service',
    90_000,
    startService({
      workDir: scratch,
      tokens,
      ldap: { url: slapd.url, bindDn: slapd.bindDn, password: slapd.password },
      dataDir: scratch,
      logLevel: options.logLevel,
      env: { LDAP_POOL_SIZE: String(options.poolSize) },
      nodeArgs: [
        ...options.serviceNodeArgs,
        // Default file names: CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main one.
        ...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
      ],
    }),
    (started) => started.stop(),
  );
  log(`N = ${definitions}: service answered 200 after ${(service.firstOkMs / 1000).toFixed(2)} s`);

  const [pool, closePool] = await start(
    'opening the raw LDAP pool',
    30_000,
    RawPool.open({
      url: slapd.url,
      bindDn: slapd.bindDn,
      password: slapd.password,
      size: options.poolSize,
      timeoutMs: options.timeoutS * 1000,
    }),
    (started) => started.close(),
  );

  const prepared = await limited('checks', 120_000, prepare(service, pool, token, definitions));
  for (const check of prepared.checks) {
    log(`N = ${definitions}: check ${check.ok ? 'ok' : 'FAILED'}: ${check.name} (${check.detail})`);
  }
  const inums = loaded.inums;
  const ctx: ScenarioContext = {
    api: service.api,
    token,
    inums,
    // A generated definition when there are any, else a standard one (givenName).
    patchTarget: definitions > 71 ? (inums.at(-1) as string) : 'B4B0',
    patternToken: PATTERN_TOKEN,
    deepStart: Math.max(0, prepared.patternMatches - PAGE),
    runId: randomBytes(3).toString('hex'),
  };

  const scenarios: ScenarioResult[] = [];
  const processes = { service: service.process.pid, slapd: slapd.process.pid };
  const everyLoad = { connections: options.connections, timeoutS: options.timeoutS };
  const phaseLimit = (options.warmupS + options.durationS + options.timeoutS + 30) * 1000;
  const values = await limited(
    'value set-up',
    120_000,
    prepareValues(service.api, token, await standardNames()),
  );
  log(
    `N = ${definitions}: value scenarios write ${values.hotNames.user.length} attributes of a user, ` +
      `${values.hotNames.session.length} of a session`,
  );
  const bound: BoundScenario[] = [
    ...SCENARIOS.map((s) => ({ id: s.id, title: s.title, api: () => s.api(ctx), raw: () => s.raw(ctx) })),
    ...VALUE_SCENARIOS.map((s) => ({
      id: s.id,
      title: s.title,
      api: () => s.api(values),
      raw: () => s.raw(values),
      check: s.check && (() => s.check!(values, pool)),
      connections: s.connections?.(values, options.connections),
    })),
  ];
  const checks = [...prepared.checks];
  for (const scenario of bound.filter((s) => options.scenarios.includes(s.id))) {
    const connections = scenario.connections ?? options.connections;
    const rawRun = { concurrency: connections };
    const load = { ...everyLoad, connections };
    if (options.warmupS > 0) {
      const warmup = { durationS: options.warmupS };
      await limited(
        `${scenario.id} warm-up`,
        phaseLimit,
        runApi(service.url, scenario.api(), { ...load, ...warmup }),
      );
      await limited(
        `${scenario.id} raw warm-up`,
        phaseLimit,
        runRaw(pool, scenario.raw(), { ...rawRun, ...warmup }),
      );
    }
    // The two sides take turns, a slice each, so that a machine whose speed drifts during the run (a
    // shared one does) affects both alike.
    const slice = { durationS: options.durationS / options.rounds };
    const [apiLatencies, rawLatencies] = [new Latencies(), new Latencies()];
    const apiSlices: Slice[] = [];
    const rawSlices: Slice[] = [];
    const ldapDuringApi = new Map<string, number>();
    for (let round = 1; round <= options.rounds; round++) {
      const ldapBefore = await ldapOperations(service.url);
      apiSlices.push(
        await limited(
          `${scenario.id} (API, round ${round})`,
          phaseLimit,
          withCpu(processes, () => runApi(service.url, scenario.api(), { ...load, ...slice }, apiLatencies)),
        ),
      );
      for (const [operation, count] of await ldapOperations(service.url)) {
        const made = count - (ldapBefore.get(operation) ?? 0);
        if (made > 0) ldapDuringApi.set(operation, (ldapDuringApi.get(operation) ?? 0) + made);
      }
      // Before the raw side writes the same entries again.
      if (round === options.rounds && scenario.check) {
        const check = await scenario.check();
        log(`N = ${definitions}: check ${check.ok ? 'ok' : 'FAILED'}: ${check.name} (${check.detail})`);
        checks.push(check);
      }
      rawSlices.push(
        await limited(
          `${scenario.id} (raw, round ${round})`,
          phaseLimit,
          withCpu(processes, () => runRaw(pool, scenario.raw(), { ...rawRun, ...slice }, rawLatencies)),
        ),
      );
    }
    const api = measurement(apiLatencies, apiSlices);
    const raw = measurement(rawLatencies, rawSlices);
    const matches =
      scenario.id === 'pattern' || scenario.id === 'sorted'
        ? prepared.patternMatches
        : scenario.id === 'fieldValuePair'
          ? prepared.fieldValueMatches
          : undefined;
    scenarios.push({
      id: scenario.id,
      title:
        connections === options.connections ? scenario.title : `${scenario.title} (${connections} in flight)`,
      matches,
      api,
      raw,
      ratio: api.perSecond / raw.perSecond,
      ldapPerRequest: Object.fromEntries(
        [...ldapDuringApi].map(([operation, count]) => [operation, count / api.operations]),
      ),
    });
    log(
      `N = ${definitions}: ${scenario.id}: API ${api.perSecond.toFixed(0)}/s p50 ${api.p50.toFixed(2)} ms` +
        ` (${api.failed} failed; CPU ${cpuText(api.cpu)}); raw ${raw.perSecond.toFixed(0)}/s` +
        ` p50 ${raw.p50.toFixed(2)} ms (${raw.failed} failed; CPU ${cpuText(raw.cpu)})`,
    );
  }

  const peakRssMiB = await service.peakRssMiB();
  const slapdPeakRssMiB = await peakRss(slapd.process.pid);
  await closePool();
  await stopService();
  await stopSlapd();
  if (options.cpuProf) {
    const pid = service.process.pid;
    const files = (await readdir(PROFILE_DIR)).filter((f) => f.includes(`.${pid}.0.`));
    for (const f of files) log(`N = ${definitions}: CPU profile of the service: ${join(PROFILE_DIR, f)}`);
  }

  // Start on the existing data dir, as `npm start` would: the service starts its embedded slapd from it.
  // The embedded mode seeds the standard definitions unless DATA_DIR/seeded says it has; a data dir
  // that has been in use has that marker, so the loaded one gets it too.
  await writeFile(join(dataDir, 'seeded'), `${new Date().toISOString()}\n`);
  const [embedded, stopEmbedded] = await start(
    'starting the service in embedded mode',
    90_000,
    startService({
      workDir: scratch,
      tokens,
      dataDir,
      logLevel: options.logLevel,
      nodeArgs: options.serviceNodeArgs,
    }),
    (started) => started.stop(),
  );
  const embeddedPeakRssMiB = await embedded.peakRssMiB();
  log(`N = ${definitions}: embedded service answered 200 after ${(embedded.firstOkMs / 1000).toFixed(2)} s`);
  await stopEmbedded();
  await rm(dataDir, { recursive: true, force: true });

  return {
    definitions,
    loadSeconds: loaded.loadMs / 1000,
    slapaddSeconds: loaded.slapaddMs / 1000,
    firstOkSeconds: service.firstOkMs / 1000,
    firstOkEmbeddedSeconds: embedded.firstOkMs / 1000,
    peakRssMiB,
    slapdPeakRssMiB,
    embeddedPeakRssMiB,
    checks,
    sortedAllProbe: prepared.sortedAllProbe,
    staleness: prepared.staleness,
    scenarios,
  };
}

function slapdVersion(): string {
  const slapd = findSlapd();
  if (!slapd) return 'not found';
  const out = spawnSync(slapd, ['-VV'], { encoding: 'utf8' });
  return /slapd ([\d.]+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown';
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const workRoot = await mkdtemp(join(tmpdir(), 'attr-registry-bench-'));
  onCleanup(() => rm(workRoot, { recursive: true, force: true }));
  const tokens = new Tokens();
  const sizes: SizeResult[] = [];
  let failed = false;
  try {
    for (const definitions of options.sizes) sizes.push(await benchSize(workRoot, definitions, tokens));
  } catch (error) {
    failed = true;
    process.stderr.write(`\nbenchmark failed: ${(error as Error)?.stack ?? String(error)}\n`);
  } finally {
    await cleanUp();
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  if (sizes.length === 0) process.exit(1);

  const result = {
    startedAt: startedAt.toISOString(),
    totalSeconds,
    complete: !failed,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      slapd: slapdVersion(),
    },
    options: { ...options, patternToken: PATTERN_TOKEN, fieldValuePair: FIELD_VALUE_PAIR, page: PAGE },
    sizes,
  };
  const out =
    args.out ??
    join(
      BENCH_DIR,
      'results',
      `${startedAt.toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`,
    );
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);

  const header =
    `## Attribute registry benchmark (${startedAt.toISOString()}${quick ? ', quick' : ''})\n\n` +
    `${result.machine.cpus} CPUs (${result.machine.cpuModel ?? '?'}), ${result.machine.memoryGiB} GiB, Node ${process.version}, ` +
    `slapd ${result.machine.slapd}. Load generator, service and slapd share the machine. ` +
    `${options.connections} connections / operations in flight, ${options.durationS} s per side and scenario ` +
    `(in ${options.rounds} alternating slices) after ${options.warmupS} s warm-up; service LOG_LEVEL=${options.logLevel}, LDAP pool ${options.poolSize} ` +
    `(raw pool too), INDEX_POLL_MS default (250)` +
    `${options.serviceNodeArgs.length > 0 ? `, service node options ${options.serviceNodeArgs.join(' ')}` : ''}. ` +
    `Latencies of successful operations only; ` +
    `req/s and ops/s count successful ones.\n`;
  process.stdout.write(`\n${header}\n${summaryTable(sizes)}\n\n${sizes.map(sizeTable).join('\n\n')}\n\n`);
  process.stdout.write(`Total ${totalSeconds.toFixed(1)} s. JSON: ${out}\n`);
  if (failed) process.exit(1);
}

await main();
