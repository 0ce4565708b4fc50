import { BadRequestError } from '../errors.js';
import {
  BOOLEAN_FIELDS,
  DERIVED_FLAGS,
  LIST_FIELDS,
  STRING_FIELDS,
  canonical,
  enumOf,
  wireValue,
  type DerivedFlag,
  type StoredAttribute,
  type StoredField,
} from './definition.js';

/**
 * A search condition over stored fields, free of any query syntax: the directory adapter translates it
 * into filter objects, so user text is only ever a value, never filter syntax.
 */
export type Condition =
  /** Equality, ignoring case; on a list field: the list contains the value. Booleans: true only. */
  | { kind: 'equals'; field: StoredField; value: string | true }
  /** Any of the fields contains the text, ignoring case. */
  | { kind: 'contains'; fields: StoredField[]; text: string }
  | { kind: 'any'; of: Condition[] }
  | { kind: 'all'; of: Condition[] }
  | { kind: 'not'; of: Condition };

export interface ListQuery {
  where: Condition | undefined;
  sortBy: string;
  descending: boolean;
  startIndex: number;
  limit: number;
}

/** Every definition that meets `where` (all of them without it), in one page sorted by `sortBy`. */
export function everyDefinition(where?: Condition, sortBy = 'inum'): ListQuery {
  return { where, sortBy, descending: false, startIndex: 0, limit: Number.MAX_SAFE_INTEGER };
}

export interface Page {
  totalEntriesCount: number;
  entries: StoredAttribute[];
}

export interface ListParams {
  limit?: number;
  startIndex?: number;
  pattern?: string;
  status?: string;
  sortBy?: string;
  sortOrder?: string;
  fieldValuePair?: string;
}

const PATTERN_FIELDS: StoredField[] = ['name', 'displayName', 'description', 'inum'];

/** Every JSON field a client can sort by. */
export const SORTABLE_FIELDS = new Set<string>([
  'dn',
  'baseDn',
  'inum',
  'selected',
  'custom',
  'attributeValidation',
  ...STRING_FIELDS,
  ...LIST_FIELDS,
  ...BOOLEAN_FIELDS,
  ...Object.keys(DERIVED_FLAGS),
]);

const DERIVED_CONDITIONS: Record<DerivedFlag, Condition> = {
  adminCanView: { kind: 'equals', field: 'viewType', value: 'admin' },
  adminCanEdit: { kind: 'equals', field: 'editType', value: 'admin' },
  userCanView: { kind: 'equals', field: 'viewType', value: 'user' },
  userCanEdit: { kind: 'equals', field: 'editType', value: 'user' },
  whitePagesCanView: { kind: 'equals', field: 'viewType', value: 'whitePages' },
  adminCanAccess: {
    kind: 'any',
    of: [
      { kind: 'equals', field: 'viewType', value: 'admin' },
      { kind: 'equals', field: 'editType', value: 'admin' },
    ],
  },
  userCanAccess: {
    kind: 'any',
    of: [
      { kind: 'equals', field: 'viewType', value: 'user' },
      { kind: 'equals', field: 'editType', value: 'user' },
    ],
  },
};

/** `limit` (default 50) and the zero-based `startIndex` of any paged listing, checked. */
export function parsePaging(
  params: { limit?: number; startIndex?: number },
  maxLimit: number,
): { limit: number; startIndex: number } {
  const limit = params.limit ?? Math.min(50, maxLimit);
  if (!Number.isInteger(limit) || limit < 0 || limit > maxLimit) {
    throw new BadRequestError(
      'Invalid query parameter limit',
      `Maximum number of results per page is ${maxLimit}; limit must be 0 to ${maxLimit}`,
    );
  }
  const startIndex = params.startIndex ?? 0;
  if (!Number.isInteger(startIndex) || startIndex < 0) {
    throw new BadRequestError(
      'Invalid query parameter startIndex',
      'startIndex must be a whole number, 0 or more',
    );
  }
  return { limit, startIndex };
}

/** Turns the list endpoint's query parameters into a query, naming the parameter that is wrong. */
export function parseListQuery(params: ListParams, maxLimit: number): ListQuery {
  const { limit, startIndex } = parsePaging(params, maxLimit);
  const sortBy = params.sortBy || 'inum';
  if (!SORTABLE_FIELDS.has(sortBy)) {
    throw new BadRequestError(
      'Invalid query parameter sortBy',
      `sortBy must be a field of JansAttribute, not '${sortBy}'`,
    );
  }
  const sortOrder = canonical('sortOrder', params.sortOrder || 'ascending', ['ascending', 'descending']);
  const status = canonical('status', params.status || 'all', ['all', 'active', 'inactive']);

  const conditions: Condition[] = [];
  const tokens = (params.pattern ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  if (tokens.length > 0) {
    conditions.push({
      kind: 'any',
      of: tokens.map((text) => ({ kind: 'contains', fields: PATTERN_FIELDS, text })),
    });
  }
  if (status !== 'all') conditions.push({ kind: 'equals', field: 'status', value: status });
  conditions.push(...parseFieldValuePairs(params.fieldValuePair ?? ''));

  return {
    where:
      conditions.length === 0
        ? undefined
        : conditions.length === 1
          ? conditions[0]
          : { kind: 'all', of: conditions },
    sortBy,
    descending: sortOrder === 'descending',
    startIndex,
    limit,
  };
}

function parseFieldValuePairs(text: string): Condition[] {
  const pairs = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  return pairs.map((pair) => {
    const at = pair.indexOf('=');
    const field = (at < 0 ? pair : pair.slice(0, at)).trim();
    const value = at < 0 ? '' : pair.slice(at + 1).trim();
    if (value === '') {
      throw new BadRequestError(
        'Invalid query parameter fieldValuePair',
        `'${field}' needs a value: use field=value`,
      );
    }
    return fieldCondition(field, value);
  });
}

function fieldCondition(field: string, value: string): Condition {
  const bad = (why: string) => new BadRequestError('Invalid query parameter fieldValuePair', why);
  const isTrue = () => {
    const v = value.toLowerCase();
    if (v !== 'true' && v !== 'false') throw bad(`${field} must be true or false`);
    return v === 'true';
  };
  if (Object.hasOwn(DERIVED_FLAGS, field)) {
    const condition = DERIVED_CONDITIONS[field as DerivedFlag];
    return isTrue() ? condition : { kind: 'not', of: condition };
  }
  if ((BOOLEAN_FIELDS as readonly string[]).includes(field)) {
    const condition: Condition = { kind: 'equals', field: field as StoredField, value: true };
    // An absent flag reads as false, so "false" must also match entries that do not carry it.
    return isTrue() ? condition : { kind: 'not', of: condition };
  }
  if (
    field === 'inum' ||
    (STRING_FIELDS as readonly string[]).includes(field) ||
    (LIST_FIELDS as readonly string[]).includes(field)
  ) {
    const allowed = field === 'inum' ? undefined : enumOf(field as (typeof STRING_FIELDS)[number]);
    return {
      kind: 'equals',
      field: field as StoredField,
      value: allowed ? canonical(field, value, allowed) : value,
    };
  }
  throw bad(`'${field}' is not a field that can be searched by value`);
}

/** Text order ignoring case, then the inum, so that pages of any sort are stable. */
export function sortKey(stored: StoredAttribute, field: string): string {
  const value = wireValue(stored, field);
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value).toLowerCase();
  return String(value).toLowerCase();
}

/** Ascending order of two definitions by a field's sort key, then by inum; both ignoring case. */
export function compareKeys(keyA: string, inumA: string, keyB: string, inumB: string): number {
  if (keyA !== keyB) return keyA < keyB ? -1 : 1;
  return inumA < inumB ? -1 : inumA > inumB ? 1 : 0;
}

/** Sorts the whole result, then cuts the requested page (Janssen sorts only within the page). */
export function sortAndPage(all: StoredAttribute[], query: ListQuery): Page {
  const keyed = all.map((s) => ({ s, key: sortKey(s, query.sortBy), inum: s.definition.inum.toLowerCase() }));
  const direction = query.descending ? -1 : 1;
  keyed.sort((a, b) => compareKeys(a.key, a.inum, b.key, b.inum) * direction);
  return {
    totalEntriesCount: all.length,
    entries: keyed.slice(query.startIndex, query.startIndex + query.limit).map((k) => k.s),
  };
}

/** The text values of a stored field, as the directory would compare them. */
function valuesOf(stored: StoredAttribute, field: StoredField): string[] {
  const value = (stored.definition as Record<string, unknown>)[field];
  if (value === undefined) return [];
  if (Array.isArray(value)) return value as string[];
  if (typeof value === 'boolean') return [value ? 'true' : 'false'];
  return [typeof value === 'object' ? JSON.stringify(value) : String(value)];
}

/**
 * Whether a definition meets a condition, with the directory's meaning: equality and substrings ignore
 * case, a list field equals a value when it holds it, an absent field equals nothing.
 */
export function matches(condition: Condition, stored: StoredAttribute): boolean {
  switch (condition.kind) {
    case 'equals': {
      const wanted = condition.value === true ? 'true' : condition.value.toLowerCase();
      return valuesOf(stored, condition.field).some((v) => v.toLowerCase() === wanted);
    }
    case 'contains': {
      const text = condition.text.toLowerCase();
      return condition.fields.some((f) => valuesOf(stored, f).some((v) => v.toLowerCase().includes(text)));
    }
    case 'any':
      return condition.of.some((c) => matches(c, stored));
    case 'all':
      return condition.of.every((c) => matches(c, stored));
    case 'not':
      return !matches(condition.of, stored);
  }
}
