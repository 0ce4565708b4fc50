import type { JansAttribute, JansAttributeInput } from '../../client/index.js';
import { BOOLEAN_FIELDS, LIST_FIELDS, STRING_FIELDS } from '../../attributes/definition.js';
import { parseLdif } from '../../directory/ldif.js';
import { LDAP_NAMES } from '../../ldap/definition-entry.js';

type Kind = 'text' | 'list' | 'boolean' | 'validation';

/**
 * Janssen's LDAP attribute for each JSON field of a definition (the store's own mapping), in the order an
 * entry is written. `encrypted` and `predefined` stay out: a registry's own bookkeeping, not a definition's
 * content to carry elsewhere (`predefined` is set by the standard seed only).
 */
const FIELDS: (readonly [field: string, ldap: string, kind: Kind])[] = [
  ...STRING_FIELDS.map((f) => [f, LDAP_NAMES[f], 'text'] as const),
  ...LIST_FIELDS.map((f) => [f, LDAP_NAMES[f], 'list'] as const),
  ...BOOLEAN_FIELDS.filter((f) => f !== 'encrypted' && f !== 'predefined').map(
    (f) => [f, LDAP_NAMES[f], 'boolean'] as const,
  ),
  ['attributeValidation', LDAP_NAMES.attributeValidation, 'validation'],
];
const BY_LDAP_NAME = new Map(FIELDS.map(([field, ldap, kind]) => [ldap.toLowerCase(), { field, kind }]));

/** `jansRequired` is allowed by this project's auxiliary class, not by Janssen's jansAttr. */
const EXTENSION_CLASS = 'jansAttrRegistryExt';

/** RFC 2849: a value is written as base64 (`::`) unless it is SAFE-STRING; one ending in a space too. */
function needsBase64(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[ :<]|[\0\n\r]|[^\x00-\x7f]| $/.test(value);
}

function line(name: string, value: string): string {
  const text = needsBase64(value)
    ? `${name}:: ${Buffer.from(value, 'utf8').toString('base64')}`
    : `${name}: ${value}`;
  // Fold at 76 columns; continuation lines start with one space.
  const parts = [text.slice(0, 76)];
  for (let i = 76; i < text.length; i += 75) parts.push(` ${text.slice(i, i + 75)}`);
  return parts.join('\n');
}

/**
 * The definitions as LDIF content records with Janssen's LDAP names, loadable by `npm run seed` (booleans
 * as TRUE/FALSE, the validation as the JSON string Janssen stores).
 */
export function toLdif(attributes: JansAttribute[]): string {
  const records = attributes.map((a) => {
    const values = a as unknown as Record<string, unknown>;
    const lines = [line('dn', a.dn || `inum=${a.inum},ou=attributes,o=jans`)];
    lines.push(line('objectClass', 'top'), line('objectClass', 'jansAttr'));
    if (a.required !== undefined) lines.push(line('objectClass', EXTENSION_CLASS));
    lines.push(line('inum', a.inum));
    for (const [field, ldap, kind] of FIELDS) {
      const value = values[field];
      if (value === undefined || value === null || value === '') continue;
      // The service serves an absent flag as false; leave the default out, as the directory does.
      if (field === 'oxMultiValuedAttribute' && value === false) continue;
      if (kind === 'list') for (const v of value as string[]) lines.push(line(ldap, v));
      else if (kind === 'boolean') lines.push(line(ldap, value ? 'TRUE' : 'FALSE'));
      else if (kind === 'validation') {
        const v = value as { minLength?: number | null; maxLength?: number | null; regexp?: string | null };
        const json = {
          minLength: v.minLength ?? null,
          maxLength: v.maxLength ?? null,
          regexp: v.regexp ?? '',
        };
        lines.push(line(ldap, JSON.stringify(json)));
      } else lines.push(line(ldap, String(value)));
    }
    return lines.join('\n');
  });
  return ['version: 1', ...records].join('\n\n') + '\n';
}

/**
 * Reads definitions from LDIF: every record whose objectClass includes jansAttr, mapped back to the JSON
 * form (unknown attributes dropped; the inum kept, though the service assigns its own on creation).
 * Throws LdifSyntaxError, naming the line, for a malformed file.
 */
export function fromLdif(
  text: string,
  source: string,
): { definitions: JansAttributeInput[]; skipped: number } {
  const definitions: JansAttributeInput[] = [];
  let skipped = 0;
  for (const entry of parseLdif(text, source)) {
    const attributes = new Map<string, string[]>();
    for (const [name, values] of entry.attributes) {
      const base = name.split(';')[0]?.toLowerCase() ?? '';
      attributes.set(base, [...(attributes.get(base) ?? []), ...values]);
    }
    if (!attributes.get('objectclass')?.some((c) => c.toLowerCase() === 'jansattr')) {
      skipped++;
      continue;
    }
    const out: Record<string, unknown> = {};
    const inum = attributes.get('inum')?.[0];
    if (inum) out.inum = inum;
    for (const [ldap, values] of attributes) {
      const mapped = BY_LDAP_NAME.get(ldap);
      const first = values[0];
      if (!mapped || first === undefined) continue;
      if (mapped.kind === 'list') out[mapped.field] = values;
      else if (mapped.kind === 'boolean') out[mapped.field] = first.toLowerCase() === 'true';
      else if (mapped.kind === 'validation') out[mapped.field] = readValidation(first);
      // Some directories carry two descriptions; the JSON form has room for one.
      else out[mapped.field] = first;
    }
    definitions.push(out as JansAttributeInput);
  }
  return { definitions, skipped };
}

function readValidation(json: string): unknown {
  try {
    const v = JSON.parse(json) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of ['minLength', 'maxLength', 'regexp']) {
      if (v[key] !== null && v[key] !== undefined && v[key] !== '') out[key] = v[key];
    }
    return Object.keys(out).length > 0 ? out : undefined;
  } catch {
    return undefined;
  }
}
