/**
 * What a reconcile of the definition index with the directory costs (see docs/replication.md): the
 * listing of every definition's entryCSN, the comparison with the index, and a whole read for scale.
 * `node --import tsx bench/reconcile.ts [count]` (default 100 000); prints one markdown table.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefinitionIndex } from '../src/attributes/definition-index.js';
import { LdapAttributeStore } from '../src/ldap/attribute-store.js';
import { Directory } from '../src/ldap/directory.js';
import { reconcileDiff } from '../src/ldap/reconcile.js';
import { SUFFIX, loadDirectory } from './directory.js';

const count = Number(process.argv[2] ?? 100_000);
const dataDir = await mkdtemp(join(tmpdir(), 'reconcile-bench-'));
const loaded = await loadDirectory(dataDir, count);
const directory = new Directory({
  url: loaded.slapd.url,
  bindDn: loaded.slapd.bindDn,
  bindPassword: loaded.slapd.password,
  baseDn: SUFFIX,
  poolSize: 1,
  connectTimeoutMs: 3000,
  operationTimeoutMs: 60_000,
  maxPending: 10,
});
const store = new LdapAttributeStore(directory);
const slapdCpu = async () => {
  const { readFile } = await import('node:fs/promises');
  const stat =
    (await readFile(`/proc/${loaded.slapd.process.pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(stat[11]) + Number(stat[12])) * 10; // ms, at 100 ticks a second
};
/** Median wall time, and slapd's CPU time, of `rounds` runs of `work`. */
async function measure(rounds: number, work: () => Promise<unknown>): Promise<[number, number]> {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const cpu = await slapdCpu();
    const started = performance.now();
    await work();
    walls.push(performance.now() - started);
    cpus.push((await slapdCpu()) - cpu);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  return [median(walls), median(cpus)];
}
try {
  const index = new DefinitionIndex();
  index.replaceAll(await store.readAll(), index.mark());
  const versions = await store.versions();
  const rows: [string, [number, number]][] = [
    [
      'contextCSN read (once a second in log mode)',
      await measure(21, () =>
        directory.run((c) => c.search(SUFFIX, { scope: 'base', attributes: ['contextCSN'] })),
      ),
    ],
    ['listing: every entryCSN (paged search)', await measure(5, () => store.versions())],
    ['comparison with the index', await measure(5, async () => reconcileDiff(index.versions(), versions))],
    [
      'reading 100 definitions again (one search)',
      await measure(5, () => store.getMany([...versions.keys()].slice(0, 100))),
    ],
    ['for scale: reading every definition (a load)', await measure(3, () => store.readAll())],
  ];
  console.log(`| ${count} definitions | wall (median) | slapd CPU |\n| --- | --- | --- |`);
  for (const [what, [wall, cpu]] of rows) console.log(`| ${what} | ${wall.toFixed(1)} ms | ${cpu} ms |`);
} finally {
  await directory.close();
  await loaded.slapd.stop();
  await rm(dataDir, { recursive: true, force: true });
}
