import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { STANDARD_LDIF } from '../src/directory/seed.js';
import { findSlapd, startSlapd, type RunningSlapd } from '../src/directory/slapd.js';
import { generateDefinitions } from './generate.js';
import { holdersLdif } from './values.js';

export const SUFFIX = 'o=jans';

/** Standard inums loaded from ldif/attributes.ldif. */
export async function standardInums(): Promise<string[]> {
  const text = await readFile(STANDARD_LDIF[1] as string, 'utf8');
  return [...text.matchAll(/^inum: (\S+)$/gm)].map((m) => m[1] as string);
}

/** Names of the standard definitions (attribute types of the person schema). */
export async function standardNames(): Promise<Set<string>> {
  const text = await readFile(STANDARD_LDIF[1] as string, 'utf8');
  return new Set([...text.matchAll(/^jansAttrName: (\S+)$/gm)].map((m) => m[1] as string));
}

export interface LoadedDirectory {
  slapd: RunningSlapd;
  /** Every definition's inum (standard first, then generated). */
  inums: string[];
  /** Wall time of writing the LDIF and running slapadd. */
  loadMs: number;
  /** Wall time of slapadd alone. */
  slapaddMs: number;
}

/** Runs a program with a time limit; rejects with its stderr when it fails. */
function run(program: string, args: string[], limitMs: number): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${program} did not finish within ${limitMs / 1000} s`));
    }, limitMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) done();
      else fail(new Error(`${program} ${args.join(' ')} exited with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

/**
 * A private slapd with the project's schema (startSlapd, the embedded mode's own code) holding `count`
 * definitions: the 71 standard ones, then generated ones, and the value scenarios' users and sessions,
 * bulk-loaded offline with `slapadd -q`.
 */
export async function loadDirectory(dataDir: string, count: number): Promise<LoadedDirectory> {
  // First start creates cn=config (schema, indexes, overlays) and the empty database.
  const first = await startSlapd({ dataDir, suffix: SUFFIX });
  await first.stop();

  const started = performance.now();
  const standard = await standardInums();
  const generated = generateDefinitions(Math.max(0, count - standard.length), SUFFIX);
  const ldifFile = join(dataDir, 'bulk.ldif');
  const base = await readFile(STANDARD_LDIF[0] as string, 'utf8');
  const attributes = await readFile(STANDARD_LDIF[1] as string, 'utf8');
  await writeFile(ldifFile, `${base}\n${attributes}\n${generated.ldif}\n${holdersLdif()}`);
  const slapdPath = findSlapd();
  if (!slapdPath) throw new Error('slapd is not installed (see README: scripts/setup)');
  const slapadd = slapdPath.replace(/slapd$/, 'slapadd');
  const slapaddStarted = performance.now();
  await run(slapadd, ['-q', '-F', join(dataDir, 'slapd.d'), '-b', SUFFIX, '-l', ldifFile], 300_000);
  const slapaddMs = performance.now() - slapaddStarted;
  const loadMs = performance.now() - started;

  // Second start reuses the configuration and serves the loaded database.
  const slapd = await startSlapd({ dataDir, suffix: SUFFIX });
  return { slapd, inums: [...standard, ...generated.inums], loadMs, slapaddMs };
}
