import { createHash } from 'node:crypto';
import { BadRequestError } from '../errors.js';

export const DATA_TYPES = [
  'string',
  'numeric',
  'boolean',
  'binary',
  'certificate',
  'generalizedTime',
  'json',
];
export const STATUSES = ['active', 'inactive', 'expired', 'register'];
export const ROLES = ['admin', 'owner', 'manager', 'user', 'whitePages'];
export const USAGE_TYPES = ['openid'];

/** Persisted single-valued text fields, by their JSON names. */
export const STRING_FIELDS = [
  'name',
  'displayName',
  'description',
  'origin',
  'dataType',
  'claimName',
  'seeAlso',
  'status',
  'saml1Uri',
  'saml2Uri',
  'urn',
  'sourceAttribute',
  'nameIdType',
  'tooltip',
] as const;
export const LIST_FIELDS = ['editType', 'viewType', 'usageType'] as const;
export const BOOLEAN_FIELDS = [
  'scimCustomAttr',
  'oxMultiValuedAttribute',
  'jansHideOnDiscovery',
  'required',
  'encrypted',
  'predefined',
] as const;

/**
 * Set by the service, never by a request body: `predefined` marks the standard set shipped in ldif/.
 * On input it is ignored (like the derived flags), and a stored definition keeps its value.
 */
export const READ_ONLY_FIELDS: ReadonlySet<string> = new Set(['predefined']);

export type StringField = (typeof STRING_FIELDS)[number];
export type ListField = (typeof LIST_FIELDS)[number];
export type BooleanField = (typeof BOOLEAN_FIELDS)[number];
/** Every persisted field of a definition, as named on the wire. */
export type StoredField = 'inum' | StringField | ListField | BooleanField | 'attributeValidation';

export interface AttributeValidation {
  minLength?: number;
  maxLength?: number;
  regexp?: string;
}

/** A definition as persisted: Janssen's JansAttribute without its derived and transient properties. */
export type AttributeDefinition = { inum: string } & Partial<Record<StringField, string>> &
  Partial<Record<ListField, string[]>> &
  Partial<Record<BooleanField, boolean>> & { attributeValidation?: AttributeValidation };

/** A definition as read back from the store: where it lives, and its content. */
export interface StoredAttribute {
  dn: string;
  definition: AttributeDefinition;
  /** The store's change marker for the entry (entryCSN on OpenLDAP), when it has one. */
  version?: string;
}

/**
 * A strong entity tag: changes whenever the entry changes. The store's change marker is that on its own
 * (OpenLDAP gives every change of an entry a new entryCSN, unique across replicas, whose characters are
 * all allowed in a tag) and serves as the tag as it is; without one, a digest of the content.
 */
export function entityTag(stored: StoredAttribute): string {
  if (stored.version) return `"${stored.version}"`;
  const digest = createHash('sha256').update(JSON.stringify(stored.definition)).digest('base64url');
  return `"${digest.slice(0, 27)}"`;
}

/** If-Match / If-None-Match: `*` or a list of tags, compared strongly (weak tags never match). */
export function tagMatches(header: string, stored: StoredAttribute): boolean {
  const tag = entityTag(stored);
  return header
    .split(',')
    .map((t) => t.trim())
    .some((t) => t === '*' || t === tag);
}

/** Flags Janssen derives from editType/viewType. They are output only. */
export const DERIVED_FLAGS = {
  adminCanAccess: (d: AttributeDefinition) => has(d.viewType, 'admin') || has(d.editType, 'admin'),
  adminCanView: (d: AttributeDefinition) => has(d.viewType, 'admin'),
  adminCanEdit: (d: AttributeDefinition) => has(d.editType, 'admin'),
  userCanAccess: (d: AttributeDefinition) => has(d.viewType, 'user') || has(d.editType, 'user'),
  userCanView: (d: AttributeDefinition) => has(d.viewType, 'user'),
  userCanEdit: (d: AttributeDefinition) => has(d.editType, 'user'),
  whitePagesCanView: (d: AttributeDefinition) => has(d.viewType, 'whitePages'),
} as const;
export type DerivedFlag = keyof typeof DERIVED_FLAGS;

export const NEW_NAME_MAX_LENGTH = 30;
const NAME_PATTERN = /^[a-zA-Z0-9_]+$/;

function has(list: string[] | undefined, role: string): boolean {
  return list?.includes(role) ?? false;
}

/** Finds the canonical spelling of an enumerated value given in any case, or says what is allowed. */
export function canonical(field: string, value: string, allowed: readonly string[]): string {
  const found = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (found === undefined) {
    throw new BadRequestError(`Invalid value for ${field}`, `${field} must be one of: ${allowed.join(', ')}`);
  }
  return found;
}

const ENUMS: Partial<Record<StringField | ListField, readonly string[]>> = {
  dataType: DATA_TYPES,
  status: STATUSES,
  editType: ROLES,
  viewType: ROLES,
  usageType: USAGE_TYPES,
};

/** The allowed values of an enumerated field, or undefined for free text. */
export function enumOf(field: StringField | ListField): readonly string[] | undefined {
  return ENUMS[field];
}

/** OIDC claim names as this registry accepts them: an identifier, optionally with `.`, `:` or `-`. */
const CLAIM_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;

export function assertClaimName(claim: string): void {
  if (!CLAIM_NAME.test(claim)) {
    throw new BadRequestError(
      'Invalid value for claimName',
      'claimName must start with a letter or underscore and hold only letters, digits, _ . : or - (at most 128)',
    );
  }
}

/** Rules for a name that is new to the registry (POST or rename); stored names may predate them. */
export function assertNewName(name: string): void {
  if (!NAME_PATTERN.test(name) || name.length > NEW_NAME_MAX_LENGTH) {
    throw new BadRequestError(
      'Invalid value for name',
      `name must be 1 to ${NEW_NAME_MAX_LENGTH} letters, digits or underscores`,
    );
  }
}

function missing(field: string): BadRequestError {
  return new BadRequestError(
    'A required attribute is missing.',
    `The attribute ${field} is required for this operation`,
  );
}

const isAbsent = (v: unknown) => v === undefined || v === null || v === '';

/**
 * What every write must give, and not empty: the fields Janssen's schema requires. A definition read
 * from the directory may lack some (a directory made elsewhere); it is served as it is.
 */
export const REQUIRED_FIELDS = [
  'name',
  'displayName',
  'description',
  'dataType',
  'editType',
  'viewType',
] as const satisfies readonly (StringField | ListField)[];

/**
 * Reads a definition from a request body in Janssen's wire format: enumerated values in any case,
 * `jansMultivaluedAttr` as another name for `oxMultiValuedAttribute`, empty values as absent (so an empty
 * required field is a missing one), unknown and derived fields ignored. The body's shape has already been
 * checked against the OpenAPI document; this adds what JSON Schema cannot say. The inum is left to the
 * caller.
 */
export function readDefinition(body: Record<string, unknown>, inum: string): AttributeDefinition {
  const def: AttributeDefinition = { inum };
  for (const field of STRING_FIELDS) {
    const value = body[field];
    if (isAbsent(value)) continue;
    if (typeof value !== 'string')
      throw new BadRequestError(`Invalid value for ${field}`, `${field} must be text`);
    const allowed = ENUMS[field];
    def[field] = allowed ? canonical(field, value, allowed) : value;
  }
  for (const field of LIST_FIELDS) {
    const value = body[field];
    if (isAbsent(value)) continue;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw new BadRequestError(`Invalid value for ${field}`, `${field} must be a list of text values`);
    }
    const allowed = ENUMS[field] ?? [];
    const values = [...new Set(value.map((v) => canonical(field, v, allowed)))];
    if (values.length > 0) def[field] = values;
  }
  const aliased: Record<string, unknown> = {
    ...body,
    oxMultiValuedAttribute: body.oxMultiValuedAttribute ?? body.jansMultivaluedAttr,
  };
  for (const field of BOOLEAN_FIELDS) {
    if (READ_ONLY_FIELDS.has(field)) continue;
    const value = aliased[field];
    if (isAbsent(value)) continue;
    if (typeof value !== 'boolean')
      throw new BadRequestError(`Invalid value for ${field}`, `${field} must be true or false`);
    def[field] = value;
  }
  const validation = validationFromBody(body.attributeValidation);
  if (validation) def.attributeValidation = validation;

  for (const field of REQUIRED_FIELDS) if (def[field] === undefined) throw missing(field);
  return def;
}

function validationFromBody(value: unknown): AttributeValidation | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new BadRequestError(
      'Invalid value for attributeValidation',
      'attributeValidation must be an object',
    );
  }
  const v = value as Record<string, unknown>;
  const out: AttributeValidation = {};
  for (const key of ['minLength', 'maxLength'] as const) {
    const n = v[key];
    if (isAbsent(n)) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new BadRequestError(
        `Invalid value for attributeValidation.${key}`,
        `attributeValidation.${key} must be a whole number, 0 or more`,
      );
    }
    out[key] = n;
  }
  if (out.minLength !== undefined && out.maxLength !== undefined && out.minLength > out.maxLength) {
    throw new BadRequestError(
      'Invalid value for attributeValidation',
      'attributeValidation.minLength must not exceed maxLength',
    );
  }
  if (!isAbsent(v.regexp)) {
    if (typeof v.regexp !== 'string') {
      throw new BadRequestError('Invalid value for attributeValidation.regexp', 'regexp must be text');
    }
    try {
      new RegExp(v.regexp);
    } catch {
      throw new BadRequestError(
        'Invalid value for attributeValidation.regexp',
        'attributeValidation.regexp is not a valid regular expression',
      );
    }
    out.regexp = v.regexp;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The value of any wire field of a stored definition, derived flags included (for sorting and patching). */
export function wireValue(stored: StoredAttribute, field: string): unknown {
  if (field === 'dn' || field === 'baseDn') return stored.dn;
  if (field === 'selected' || field === 'custom') return false;
  if (Object.hasOwn(DERIVED_FLAGS, field)) return DERIVED_FLAGS[field as DerivedFlag](stored.definition);
  if (field === 'oxMultiValuedAttribute') return stored.definition.oxMultiValuedAttribute ?? false;
  return (stored.definition as Record<string, unknown>)[field];
}

const WIRE_FIELDS = [...STRING_FIELDS, ...LIST_FIELDS, ...BOOLEAN_FIELDS];
const DERIVATIONS = Object.entries(DERIVED_FLAGS);

/** The JSON form Janssen serves: empty fields left out, derived flags and compatibility fields present. */
export function toWire(stored: StoredAttribute): Record<string, unknown> {
  const d = stored.definition;
  const wire: Record<string, unknown> = { dn: stored.dn, selected: false, inum: d.inum };
  for (const field of WIRE_FIELDS) {
    const value = d[field];
    if (value !== undefined) wire[field] = value;
  }
  wire.oxMultiValuedAttribute = d.oxMultiValuedAttribute ?? false;
  wire.custom = false;
  if (d.attributeValidation) wire.attributeValidation = d.attributeValidation;
  for (const [flag, derive] of DERIVATIONS) wire[flag] = derive(d);
  wire.baseDn = stored.dn;
  return wire;
}
