/**
 * `node --import tsx bench/profile-top.ts <file.cpuprofile> [count] [--busiest S] [--skip S]`: the
 * functions and the packages with the most self time in a V8 CPU profile (as written by
 * `node --cpu-prof`), for a first look without a browser. With `--busiest S`, only the S seconds with
 * the least idle time count: the load of one scenario rather than the pauses between runs. `--skip S`
 * leaves out the first S seconds (start-up and loading 100 000 definitions are as busy as any load).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { busiest: { type: 'string' }, skip: { type: 'string' } },
});
const [file, countArg] = positionals;
if (!file) {
  process.stderr.write(
    'usage: node --import tsx bench/profile-top.ts <file.cpuprofile> [count] [--busiest S] [--skip S]\n',
  );
  process.exit(2);
}
const count = Number(countArg ?? 25);
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;

const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
const deltas = profile.timeDeltas;
// The samples [first, last): all of them, or the window of --busiest seconds with the most busy time.
let skipped = 0;
for (let skipUs = Number(values.skip ?? 0) * 1e6; skipped < deltas.length && skipUs > 0; skipped++) {
  skipUs -= deltas[skipped] ?? 0;
}
let [first, last] = [skipped, profile.samples.length];
if (values.busiest) {
  const windowUs = Number(values.busiest) * 1e6;
  let [from, span, busy, best] = [skipped, 0, 0, -1];
  profile.samples.forEach((id, to) => {
    if (to < skipped) return;
    span += deltas[to] ?? 0;
    if (!idle.has(id)) busy += deltas[to] ?? 0;
    for (; span > windowUs; from++) {
      span -= deltas[from] ?? 0;
      if (!idle.has(profile.samples[from] as number)) busy -= deltas[from] ?? 0;
    }
    if (busy > best) [best, first, last] = [busy, from, to + 1];
  });
}

// Self time per node: each sample's delta belongs to the node it hit.
const selfUs = new Map<number, number>();
for (let i = first; i < last; i++) {
  const id = profile.samples[i] as number;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function where(url: string): string {
  if (!url) return '(native / V8)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  if (url.startsWith('node:')) return 'node core';
  const project = /\/(src|bench|test)\/.*/.exec(url);
  return project ? project[0].slice(1) : url;
}

const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (us === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const place = where(url);
  const key = `${functionName || '(anonymous)'}  ${place}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const pkg = url ? place.replace(/^(src|bench|test)\/.*/, 'project ($1)') : functionName;
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
}

function print(title: string, rows: Map<string, number>): void {
  process.stdout.write(`\n${title}\n`);
  for (const [key, us] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, count)) {
    process.stdout.write(
      `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}\n`,
    );
  }
}

process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled\n`);
print('Self time by package / area', byPackage);
print('Self time by function', byFunction);
