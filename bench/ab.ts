/**
 * `node --import tsx bench/ab.ts --base DIR [options]`: the CPU time one GET by inum costs the service of
 * another checkout (DIR, e.g. a `git worktree` of an earlier commit, with `node_modules`) and the
 * service of this one, against one private slapd, in alternating slices. On two or more CPUs both
 * services are pinned to the last CPU and the load generator (this process) to the first (unless
 * `--unpinned`), which makes the CPU per request repeatable to about 3 % on a machine whose throughput
 * drifts by far more; the throughput ratio is then one core of service against one core of load, not
 * what `npm run bench` measures.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runApi } from './api-load.js';
import { loadDirectory } from './directory.js';
import * as mine from './service.js';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    size: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '10' },
    slice: { type: 'string', default: '3' },
    'log-level': { type: 'string', default: 'info' },
    unpinned: { type: 'boolean', default: false },
  },
});
if (!args.base) throw new Error('--base DIR: the other checkout (with node_modules) to compare with');
const base = (await import(pathToFileURL(resolve(args.base, 'bench/service.ts')).href)) as typeof mine;
const size = Number(args.size);
const load = { connections: 32, durationS: Number(args.slice), timeoutS: 30 };

const work = await mkdtemp(join(tmpdir(), 'attribute-registry-ab-'));
const dir = await loadDirectory(join(work, 'data'), size);
const tokens = new mine.Tokens();
const shared = {
  workDir: work,
  dataDir: join(work, 'data'),
  logLevel: args['log-level'],
  ldap: { url: dir.slapd.url, bindDn: dir.slapd.bindDn, password: dir.slapd.password },
};
const sides = {
  A: await base.startService({ ...shared, tokens: tokens as never }),
  B: await mine.startService({ ...shared, tokens }),
};
try {
  if (!args.unpinned && availableParallelism() >= 2) {
    const last = String(availableParallelism() - 1);
    for (const side of Object.values(sides))
      execFileSync('taskset', ['-a', '-p', '-c', last, String(side.process.pid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  }
  const authorization = `Bearer ${tokens.token()}`;
  // Any definition, at random, as the benchmark's GET scenario asks for them.
  const requests = [
    {
      method: 'GET' as const,
      headers: { authorization },
      setupRequest: (request: object) => ({
        ...request,
        path: `/jans-config-api/api/v1/attributes/${dir.inums[Math.floor(Math.random() * dir.inums.length)]}`,
      }),
    },
  ];
  // Warm-up: JIT, caches and (at large sizes) the index load.
  for (const side of Object.values(sides)) await runApi(side.url, requests, { ...load, durationS: 5 });

  const total = { A: { ok: 0, seconds: 0, cpu: 0 }, B: { ok: 0, seconds: 0, cpu: 0 } };
  for (let round = 0; round < Number(args.rounds); round++) {
    const order = round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
    const line: string[] = [];
    for (const name of order) {
      const { pid } = sides[name].process;
      const before = await mine.cpuSeconds(pid);
      const slice = await runApi(sides[name].url, requests, load);
      const cpu = (await mine.cpuSeconds(pid)) - before;
      if (slice.failed > 0) throw new Error(`${name}: ${slice.failed} requests failed`);
      total[name].ok += slice.ok;
      total[name].seconds += slice.seconds;
      total[name].cpu += cpu;
      line.push(
        `${name} ${Math.round(slice.ok / slice.seconds)}/s ${((cpu * 1e6) / slice.ok).toFixed(1)} µs`,
      );
    }
    console.log(`round ${round + 1}: ${line.join(', ')}`);
  }
  const perSecond = (t: typeof total.A) => t.ok / t.seconds;
  for (const [name, t] of Object.entries(total))
    console.log(
      `${name}: ${Math.round(perSecond(t))} GET/s, ${((t.cpu * 1e6) / t.ok).toFixed(1)} µs CPU each`,
    );
  console.log(`B÷A throughput ${(perSecond(total.B) / perSecond(total.A)).toFixed(3)}`);
} finally {
  await Promise.all(Object.values(sides).map((side) => side.stop()));
  await dir.slapd.stop();
  await rm(work, { recursive: true, force: true });
}
