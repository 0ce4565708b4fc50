import type { Entry } from 'ldapts';
import {
  BOOLEAN_FIELDS,
  LIST_FIELDS,
  STRING_FIELDS,
  enumOf,
  type AttributeDefinition,
  type AttributeValidation,
  type StoredAttribute,
  type StoredField,
} from '../attributes/definition.js';

/**
 * The mapping between a definition and its `jansAttr` entry, with Janssen's LDAP names: the one place it
 * is written (the store and the command line's LDIF both use it).
 */
/** Janssen's LDAP attribute for each persisted JSON field. */
export const LDAP_NAMES: Record<StoredField, string> = {
  inum: 'inum',
  name: 'jansAttrName',
  displayName: 'displayName',
  description: 'description',
  origin: 'jansAttrOrigin',
  dataType: 'jansAttrTyp',
  claimName: 'jansClaimName',
  seeAlso: 'seeAlso',
  status: 'jansStatus',
  saml1Uri: 'jansSAML1URI',
  saml2Uri: 'jansSAML2URI',
  urn: 'urn',
  sourceAttribute: 'jansSourceAttr',
  nameIdType: 'jansNameIdTyp',
  tooltip: 'jansTooltip',
  editType: 'jansAttrEditTyp',
  viewType: 'jansAttrViewTyp',
  usageType: 'jansAttrUsgTyp',
  scimCustomAttr: 'jansScimCustomAttr',
  oxMultiValuedAttribute: 'jansMultivaluedAttr',
  jansHideOnDiscovery: 'jansHideOnDiscovery',
  required: 'jansRequired',
  encrypted: 'registryAttrEncrypted',
  predefined: 'registryAttrPredefined',
  attributeValidation: 'jansValidation',
};

export const FIELD_BY_LDAP_NAME = new Map(
  Object.entries(LDAP_NAMES).map(([field, ldap]) => [ldap.toLowerCase(), field]),
);

/**
 * `jansRequired`, `encrypted` and `predefined` are not in Janssen's jansAttr object class; this project's
 * auxiliary class allows them. The class is present exactly when the entry carries one of them.
 */
export const EXTENSION_CLASS = 'jansAttrRegistryExt';
const EXTENSION_FIELDS = ['required', 'encrypted', 'predefined'] as const;
export const usesExtension = (d: AttributeDefinition) => EXTENSION_FIELDS.some((f) => d[f] !== undefined);
/** The inum in `inum=<value>,ou=attributes,...`, with DN escapes undone. */
export function inumOf(dn: string): string | undefined {
  const value = /^inum=((?:[^,+\\]|\\.)+),/i.exec(dn)?.[1];
  if (value === undefined) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value[i] === '\\' ? /^[0-9a-f]{2}/i.exec(value.slice(i + 1))?.[0] : undefined;
    if (hex) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      if (value[i] === '\\') i++;
      bytes.push(...Buffer.from(value[i] ?? '', 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Every mapped LDAP attribute with its values for this definition; no values means "not present". */
export function toLdapValues(d: AttributeDefinition): [string, string[]][] {
  const out: [string, string[]][] = [[LDAP_NAMES.inum, [d.inum]]];
  for (const field of STRING_FIELDS) out.push([LDAP_NAMES[field], d[field] === undefined ? [] : [d[field]]]);
  for (const field of LIST_FIELDS) out.push([LDAP_NAMES[field], d[field] ?? []]);
  for (const field of BOOLEAN_FIELDS) {
    const value = d[field];
    out.push([LDAP_NAMES[field], value === undefined ? [] : [value ? 'TRUE' : 'FALSE']]);
  }
  const v = d.attributeValidation;
  // Janssen stores all three keys, with nulls for the ones not set.
  const json =
    v &&
    JSON.stringify({
      minLength: v.minLength ?? null,
      maxLength: v.maxLength ?? null,
      regexp: v.regexp ?? '',
    });
  out.push([LDAP_NAMES.attributeValidation, json ? [json] : []]);
  return out;
}

export function valuesOf(raw: Entry[string] | undefined): string[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
}

/** Directory values may be in any case (`ADMIN`); serve the canonical spelling where one exists. */
function canonicalSpelling(field: StoredField, value: string): string {
  const allowed = enumOf(field as (typeof STRING_FIELDS)[number]);
  return allowed?.find((a) => a.toLowerCase() === value.toLowerCase()) ?? value;
}

/**
 * Values that most definitions share (origin, role lists, ...): one copy each, so that an index of every
 * definition does not hold a hundred thousand copies of "jansCustomPerson" or ["admin"]. Lists are frozen
 * because they are internedValues.
 */
const SHARED_FIELDS = new Set<StoredField>([
  'origin',
  'dataType',
  'status',
  'nameIdType',
  'editType',
  'viewType',
  'usageType',
]);
const internedValues = new Map<string, unknown>();
function interned<T extends string | string[]>(value: T): T {
  const key = typeof value === 'string' ? value : `[]${value.join('\u0000')}`;
  const found = internedValues.get(key) as T | undefined;
  if (found !== undefined) return found;
  if (internedValues.size < 10_000)
    internedValues.set(key, typeof value === 'string' ? value : Object.freeze(value));
  return value;
}

export function fromEntry(entry: Entry): StoredAttribute {
  const byField = new Map<string, string[]>();
  for (const [key, raw] of Object.entries(entry)) {
    const field = FIELD_BY_LDAP_NAME.get(key.toLowerCase());
    if (field) byField.set(field, valuesOf(raw));
  }
  const definition: AttributeDefinition = { inum: byField.get('inum')?.[0] ?? '' };
  for (const field of STRING_FIELDS) {
    // Some directories carry two descriptions; the JSON form has room for one.
    const first = byField.get(field)?.[0];
    if (first === undefined || first === '') continue;
    const value = canonicalSpelling(field, first);
    definition[field] = SHARED_FIELDS.has(field) ? interned(value) : value;
  }
  for (const field of LIST_FIELDS) {
    const values = byField.get(field);
    if (values && values.length > 0)
      definition[field] = interned<string[]>(values.map((v) => canonicalSpelling(field, v)));
  }
  for (const field of BOOLEAN_FIELDS) {
    const first = byField.get(field)?.[0];
    if (first !== undefined) definition[field] = first.toLowerCase() === 'true';
  }
  const validation = validationFromLdap(byField.get('attributeValidation')?.[0]);
  if (validation) definition.attributeValidation = validation;
  const version = valuesOf(entry.entryCSN)[0];
  return { dn: entry.dn, definition, ...(version ? { version } : {}) };
}

function validationFromLdap(json: string | undefined): AttributeValidation | undefined {
  if (!json) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const p = parsed as Record<string, unknown>;
  const out: AttributeValidation = {};
  if (Number.isInteger(p.minLength)) out.minLength = p.minLength as number;
  if (Number.isInteger(p.maxLength)) out.maxLength = p.maxLength as number;
  if (typeof p.regexp === 'string' && p.regexp !== '') out.regexp = p.regexp;
  return Object.keys(out).length > 0 ? out : undefined;
}
