import type { PersonSchema } from '../attributes/store.js';
import type { Directory } from './directory.js';

export interface SchemaElement {
  oid: string;
  names: string[];
  sup: string[];
  /** MUST and MAY of an object class. */
  attributes: string[];
  /** SYNTAX OID of an attribute type (without a length bound). */
  syntax?: string;
}

export interface Subschema {
  attributeTypes: SchemaElement[];
  objectClasses: SchemaElement[];
}

export const BOOLEAN_SYNTAX = '1.3.6.1.4.1.1466.115.121.1.7';

/** Splits `( a $ b )` or `a` into names. */
function list(text: string | undefined): string[] {
  return (text ?? '')
    .replace(/[()]/g, ' ')
    .split(/[\s$]+/)
    .filter((t) => t.length > 0);
}

/** Reads one attributeTypes/objectClasses value (RFC 4512) far enough for names, SUP, MUST and MAY. */
export function parseSchemaElement(definition: string): SchemaElement {
  const oid = /^\(\s*([\w.-]+)/.exec(definition)?.[1] ?? '';
  const nameMatch = /\bNAME\s+(\([^)]*\)|'[^']*')/.exec(definition);
  const names = [...(nameMatch?.[1] ?? '').matchAll(/'([^']*)'/g)].map((m) => m[1] as string);
  // Quoted text (DESC, X-ORIGIN) could contain keywords; drop it before reading the rest.
  const bare = definition.replace(/'[^']*'/g, "''");
  const clause = (keyword: string) => new RegExp(`\\b${keyword}\\s+(\\([^)]*\\)|[\\w.-]+)`).exec(bare)?.[1];
  return {
    oid,
    names,
    sup: list(clause('SUP')),
    attributes: [...list(clause('MUST')), ...list(clause('MAY'))],
    syntax: clause('SYNTAX')?.replace(/\{\d+\}$/, ''),
  };
}

/** Reads the directory's subschema entry (the schema in force, whatever loaded it). */
export async function readSubschema(directory: Directory): Promise<Subschema> {
  const entry = await directory.run(async (c) => {
    const root = await c.search('', { scope: 'base', attributes: ['subschemaSubentry'] });
    const base = String(root.searchEntries[0]?.subschemaSubentry ?? 'cn=Subschema');
    const { searchEntries } = await c.search(base, {
      scope: 'base',
      filter: '(objectClass=subschema)',
      attributes: ['attributeTypes', 'objectClasses'],
    });
    return searchEntries[0];
  });
  const values = (key: string) => {
    const raw = entry?.[key];
    return (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String).map(parseSchemaElement);
  };
  return { attributeTypes: values('attributeTypes'), objectClasses: values('objectClasses') };
}

/** Answers the POST schema check from the directory's subschema entry, read afresh on each call. */
export class LdapPersonSchema implements PersonSchema {
  constructor(
    private readonly directory: Directory,
    private readonly personClasses: string[],
  ) {}

  async whyNotAllowed(name: string): Promise<string | undefined> {
    const { attributeTypes, objectClasses } = await readSubschema(this.directory);
    const wanted = name.toLowerCase();
    const type = attributeTypes.find((t) => t.names.some((n) => n.toLowerCase() === wanted));
    const classes = this.personClasses.join(', ');
    if (!type) {
      return `The directory schema has no attribute type named '${name}'. Add one, and allow it in one of the person object classes (${classes}), before defining this attribute.`;
    }
    const byName = new Map(objectClasses.flatMap((c) => c.names.map((n) => [n.toLowerCase(), c] as const)));
    const allowed = new Set<string>();
    const visit = (className: string, seen: Set<string>) => {
      const key = className.toLowerCase();
      const oc = byName.get(key);
      if (!oc || seen.has(key)) return;
      seen.add(key);
      for (const a of oc.attributes) allowed.add(a.toLowerCase());
      for (const sup of oc.sup) visit(sup, seen);
    };
    for (const c of this.personClasses) visit(c, new Set());
    const allowedByType = [type.oid, ...type.names].some((n) => allowed.has(n.toLowerCase()));
    if (!allowedByType) {
      return `The attribute type '${name}' exists, but none of the person object classes (${classes}) allows it. Add it to the MAY list of one of them.`;
    }
    return undefined;
  }
}
