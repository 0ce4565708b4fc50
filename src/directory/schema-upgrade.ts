import { readFile } from 'node:fs/promises';
import { Attribute, Change, type Client } from 'ldapts';
import { parseLdif } from './ldif.js';

const ELEMENTS = ['olcAttributeTypes', 'olcObjectClasses'] as const;

/** A schema element as slapd compares it: without its `{n}` position, one space between tokens. */
const normal = (value: string) =>
  value
    .replace(/^\{\d+\}/, '')
    .replace(/\s+/g, ' ')
    .trim();
const oidOf = (value: string) => /^\( ?([\w.-]+)/.exec(normal(value))?.[1];
const nameOf = (value: string) => /NAME '([^']+)'/.exec(value)?.[1] ?? oidOf(value) ?? value;
const MAY = /\bMAY\s+(?:\(([^)]*)\)|([\w-]+))/;
const mayOf = (value: string) =>
  (
    MAY.exec(value)
      ?.slice(1)
      .find((m) => m !== undefined) ?? ''
  )
    .split('$')
    .map((name) => name.trim())
    .filter(Boolean);

/**
 * A class as this version defines it, keeping what schema extension added to its MAY list at run time
 * (`CUSTOM_PERSON_CLASS`): those attribute types are in use and stay allowed.
 */
function keepingAdditions(wanted: string, running: string): string {
  const known = new Set(mayOf(wanted).map((name) => name.toLowerCase()));
  const added = mayOf(running).filter((name) => !known.has(name.toLowerCase()));
  if (added.length === 0 || !MAY.test(wanted)) return wanted;
  return wanted.replace(MAY, `MAY ( ${[...mayOf(wanted), ...added].join(' $ ')} )`);
}

/**
 * Brings the project's schema in a running slapd's cn=config (`client` bound as its root) up to the
 * schema files of this version: an attribute type or object class that is missing is added, one whose
 * definition differs is replaced (matched by OID), and a schema file with no entry at all is added
 * whole. Each schema entry changes in one modify, so it is never left half-changed. Nothing is removed
 * that this version does not define again: attribute types added by schema extension stay, and so does
 * what it added to a class. A data directory made by an earlier version so gets the types, classes and
 * multi-valued attributes this one needs. Returns what changed, for the log.
 */
export async function upgradeSchema(client: Client, files: string[]): Promise<string[]> {
  const { searchEntries: running } = await client.search('cn=schema,cn=config', {
    scope: 'one',
    attributes: ['cn', ...ELEMENTS],
  });
  const changed: string[] = [];
  for (const file of files) {
    for (const wanted of parseLdif(await readFile(file, 'utf8'), file)) {
      const name = /^cn=([^,]+),cn=schema,cn=config$/i.exec(wanted.dn)?.[1];
      if (!name) continue;
      const valuesOf = (type: string) =>
        [...wanted.attributes].find(([key]) => key.toLowerCase() === type.toLowerCase())?.[1] ?? [];
      const entry = running.find((e) => normal(String(e.cn)).toLowerCase() === name.toLowerCase());
      if (!entry) {
        await client.add(wanted.dn, Object.fromEntries(wanted.attributes));
        changed.push(`${name}: added`);
        continue;
      }
      const changes: Change[] = [];
      for (const type of ELEMENTS) {
        const current = new Map([entry[type] ?? []].flat().map((v) => [oidOf(String(v)), String(v)]));
        const removed: string[] = [];
        const added: string[] = [];
        for (const value of valuesOf(type)) {
          const now = current.get(oidOf(value));
          const next = normal(now && type === 'olcObjectClasses' ? keepingAdditions(value, now) : value);
          if (now !== undefined && normal(now) === next) continue;
          if (now !== undefined) removed.push(now);
          added.push(next);
          changed.push(`${name}: ${now === undefined ? 'added' : 'changed'} ${nameOf(value)}`);
        }
        if (removed.length > 0)
          changes.push(
            new Change({ operation: 'delete', modification: new Attribute({ type, values: removed }) }),
          );
        if (added.length > 0)
          changes.push(
            new Change({ operation: 'add', modification: new Attribute({ type, values: added }) }),
          );
      }
      if (changes.length > 0) await client.modify(entry.dn, changes);
    }
  }
  return changed;
}
