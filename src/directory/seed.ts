import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { NoSuchObjectError, type Entry } from 'ldapts';
import type { Directory } from '../ldap/directory.js';
import { BOOLEAN_SYNTAX, readSubschema } from '../ldap/schema.js';
import { parseLdif, type LdifEntry } from './ldif.js';

/** The standard seed: the tree, the 71 standard definitions, then the standard OpenID scopes. */
export const STANDARD_LDIF = ['base.ldif', 'attributes.ldif', 'scopes.ldif'].map((f) =>
  fileURLToPath(new URL(`../../ldif/${f}`, import.meta.url)),
);

/** Demo users and a session, for the quick start: loaded into a new embedded directory only. */
export const DEMO_LDIF = fileURLToPath(new URL('../../ldif/demo-users.ldif', import.meta.url));

export interface SeedReport {
  added: string[];
  unchanged: string[];
  /** Entries that exist with other content; they are left as they are. */
  different: string[];
}

/** Reads and parses every file first, so that a malformed file stops the seed before any write. */
export async function readLdifFiles(files: string[]): Promise<LdifEntry[]> {
  const parsed = await Promise.all(files.map(async (file) => parseLdif(await readFile(file, 'utf8'), file)));
  return parsed.flat();
}

/** Values as the directory compares them for reporting: attribute names and values ignoring case. */
function normalised(attributes: Iterable<[string, string[]]>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, values] of attributes) {
    out.set(
      name.toLowerCase(),
      values
        .map((v) => v.toLowerCase())
        .sort()
        .join('\u0000'),
    );
  }
  return out;
}

function sameContent(ldif: LdifEntry, entry: Entry): boolean {
  const want = normalised(ldif.attributes);
  const have = normalised(
    Object.entries(entry)
      .filter(([name]) => name !== 'dn')
      .map(([name, raw]) => [name, (Array.isArray(raw) ? raw : [raw]).map(String)]),
  );
  return want.size === have.size && [...want].every(([name, values]) => have.get(name) === values);
}

/**
 * Adds the entries that are missing and reports the rest as unchanged or different; it never modifies
 * an existing entry. Boolean values are written as the directory's Boolean syntax requires (`TRUE`), so
 * LDIF written for servers that also accept `true` loads as well.
 */
export async function seed(directory: Directory, entries: LdifEntry[]): Promise<SeedReport> {
  const schema = await readSubschema(directory);
  const booleans = new Set(
    schema.attributeTypes
      .filter((t) => t.syntax === BOOLEAN_SYNTAX)
      .flatMap((t) => t.names.map((n) => n.toLowerCase())),
  );
  const report: SeedReport = { added: [], unchanged: [], different: [] };
  for (const ldif of entries) {
    let existing: Entry | undefined;
    try {
      const { searchEntries } = await directory.run((c) => c.search(ldif.dn, { scope: 'base' }));
      existing = searchEntries[0];
    } catch (error) {
      if (!(error instanceof NoSuchObjectError)) throw error;
    }
    if (existing) {
      (sameContent(ldif, existing) ? report.unchanged : report.different).push(ldif.dn);
      continue;
    }
    const attributes: Record<string, string[]> = {};
    for (const [name, values] of ldif.attributes) {
      attributes[name] = booleans.has(name.toLowerCase()) ? values.map((v) => v.toUpperCase()) : values;
    }
    try {
      await directory.run((c) => c.add(ldif.dn, attributes));
    } catch (error) {
      throw new Error(`${ldif.source}:${ldif.line}: could not add ${ldif.dn}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    report.added.push(ldif.dn);
  }
  return report;
}
