import type { JansAttribute, JansAttributeInput } from '../../client/index.js';
import { BOOLEAN_FIELDS, LIST_FIELDS, STRING_FIELDS, enumOf } from '../../attributes/definition.js';
import { fromLdif } from './ldif.js';

/** A problem with what the user gave: the command exits with status 2. */
export class UsageError extends Error {}

/**
 * Definitions from a file's text: a JSON array (or a page with `entries`, or one definition), or LDIF.
 * Without `format`, a file that starts with `[` or `{` is JSON and anything else LDIF.
 */
export function parseDefinitions(
  text: string,
  source: string,
  format?: 'json' | 'ldif',
): { definitions: JansAttributeInput[]; skipped: number } {
  const kind = format ?? (/^\s*[[{]/.test(text) ? 'json' : 'ldif');
  if (kind === 'ldif') {
    try {
      return fromLdif(text, source);
    } catch (error) {
      throw new UsageError(`malformed LDIF: ${(error as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source}: invalid JSON: ${(error as Error).message}`);
  }
  const list = Array.isArray(parsed)
    ? parsed
    : isObject(parsed) && Array.isArray(parsed.entries)
      ? parsed.entries
      : [parsed];
  list.forEach((item, i) => {
    if (!isObject(item) || typeof item.name !== 'string' || item.name === '')
      throw new UsageError(`${source}: definition ${i + 1} has no name`);
  });
  return { definitions: list as JansAttributeInput[], skipped: 0 };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Enumerated values, which the service accepts in any case, and the name, which is unique in any case. */
const ENUMS: string[] = ['name', ...STRING_FIELDS.filter((f) => enumOf(f))];
const TEXT: string[] = STRING_FIELDS.filter((f) => f !== 'name' && !enumOf(f));
/** Role lists: sets, in any case. */
const LISTS = LIST_FIELDS;
/** `predefined` is the service's to set; an import cannot differ in it. */
const BOOLEANS = BOOLEAN_FIELDS.filter((f) => f !== 'predefined');

const absent = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length);

/**
 * The fields in which a definition to import differs from a stored one, judged as the service would store
 * it: the name and enumerations in any case, role lists in any case and order, empty values as absent, an
 * absent flag as false, `jansMultivaluedAttr` as `oxMultiValuedAttribute`. A `urn` left out is no
 * difference (PUT keeps it); `inum` and `dn` are not compared.
 */
export function differences(input: JansAttributeInput, stored: JansAttribute): string[] {
  const a = { ...input, oxMultiValuedAttribute: input.oxMultiValuedAttribute ?? input.jansMultivaluedAttr };
  const mine = a as Record<string, unknown>;
  const theirs = stored as Record<string, unknown>;
  const different: string[] = [];
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  const norm = (v: unknown, f: (v: unknown) => unknown) => (absent(v) ? undefined : f(v));
  const lower = (v: unknown) => String(v).toLowerCase();
  const set = (v: unknown) => [...new Set((v as unknown[]).map(lower))].sort();
  for (const field of TEXT) {
    if (field === 'urn' && absent(mine.urn)) continue;
    if (!same(norm(mine[field], String), norm(theirs[field], String))) different.push(field);
  }
  for (const field of ENUMS) {
    if (!same(norm(mine[field], lower), norm(theirs[field], lower))) different.push(field);
  }
  for (const field of LISTS) {
    if (!same(norm(mine[field], set), norm(theirs[field], set))) different.push(field);
  }
  for (const field of BOOLEANS) if (!!mine[field] !== !!theirs[field]) different.push(field);
  if (!same(validation(a.attributeValidation), validation(stored.attributeValidation)))
    different.push('attributeValidation');
  return different;
}

function validation(v: JansAttributeInput['attributeValidation']) {
  const out = {
    minLength: v?.minLength ?? undefined,
    maxLength: v?.maxLength ?? undefined,
    regexp: v?.regexp || undefined,
  };
  return out.minLength === undefined && out.maxLength === undefined && !out.regexp ? undefined : out;
}
