import {
  Attribute,
  Change,
  EqualityFilter,
  InsufficientAccessError,
  InvalidCredentialsError,
  ResultCodeError,
} from 'ldapts';
import type { PersonSchema, SchemaGap, WantedType } from '../attributes/store.js';
import { BadRequestError, DirectoryUnavailableError, SchemaChangeRefusedError } from '../errors.js';
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

/** LDAP syntax and matching rules for each definition data type. */
const SYNTAX_OF: Record<string, string> = {
  string:
    'EQUALITY caseIgnoreMatch ORDERING caseIgnoreOrderingMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15',
  json: 'EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15',
  numeric: 'EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27',
  boolean: `EQUALITY booleanMatch SYNTAX ${BOOLEAN_SYNTAX}`,
  generalizedTime:
    'EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24',
  // Certificates are kept as plain octet strings: the Certificate syntax needs the ;binary option.
  binary: 'EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40',
  certificate: 'EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40',
};

/** What RFC 4512 allows as the name of an attribute type. */
const DESCRIPTOR = /^[A-Za-z][A-Za-z0-9-]*$/;
const NOT_A_DESCRIPTOR =
  'An LDAP attribute type name starts with a letter and has only letters, digits and hyphens, so the schema cannot be extended with this name.';

/** The definition of a new attribute type (RFC 4512 form) for `type`, with the given OID. */
export function attributeTypeDefinition(type: WantedType, oid: string): string {
  const description = (type.description ?? type.name).replace(/['\\]/g, '');
  return [
    `( ${oid} NAME '${type.name}' DESC '${description}'`,
    SYNTAX_OF[type.dataType] ?? SYNTAX_OF.string,
    ...(type.multiValued ? [] : ['SINGLE-VALUE']),
    "X-ORIGIN 'attribute registry' )",
  ].join(' ');
}

/** An object class definition with `name` added to its MAY list (the `{n}` ordering prefix kept). */
export function allowInClass(classDefinition: string, name: string): string {
  const may = /\bMAY\s+(\(([^)]*)\)|[\w.-]+)/.exec(classDefinition);
  if (!may) {
    const at = classDefinition.search(/\s(X-[\w-]+\s|\)\s*$)/);
    return `${classDefinition.slice(0, at)} MAY ${name}${classDefinition.slice(at)}`;
  }
  const names = (may[2] ?? may[1] ?? '').split('$').map((n) => n.trim());
  return classDefinition.replace(may[0], `MAY ( ${[...names, name].join(' $ ')} )`);
}

/** The next free OID under `arc`, given the attribute types the directory has. */
export function nextOid(arc: string, existing: SchemaElement[]): string {
  const prefix = `${arc}.`;
  const taken = existing
    .filter((t) => t.oid.startsWith(prefix))
    .map((t) => Number(t.oid.slice(prefix.length)))
    .filter((n) => Number.isInteger(n));
  return `${prefix}${Math.max(0, ...taken) + 1}`;
}

export interface SchemaChangeOptions {
  /** Person object classes; one of them must allow a defined attribute. */
  personClasses: string[];
  /** The object class that new attribute types are added to (e.g. jansCustomPerson). */
  customClass: string;
  /** OID arc under which new attribute types are numbered. */
  oidArc: string;
  /** A connection bound to the directory configuration (cn=config), when the service has one. */
  config?: Directory;
  /** Whether the service may change the schema (SCHEMA_EXTENSION). */
  allowChanges: boolean;
}

interface ClassLocation {
  /** The cn=config entry that holds the class, e.g. `cn={4}jans,cn=schema,cn=config`. */
  dn: string;
  /** The class's value there, with its `{n}` ordering prefix. */
  value: string;
}

/**
 * Answers the schema check from the directory's subschema entry, read afresh on each call, and changes
 * the schema through cn=config when it is allowed to.
 */
export class LdapPersonSchema implements PersonSchema {
  /** Schema changes from this process take turns, so two never pick the same OID. */
  private changing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly directory: Directory,
    private readonly options: SchemaChangeOptions,
  ) {}

  async gap(type: WantedType): Promise<SchemaGap | undefined> {
    const schema = await readSubschema(this.directory);
    const reason = this.whyNotAllowed(type.name, schema);
    if (!reason) return undefined;
    if (!DESCRIPTOR.test(type.name)) return { reason: `${reason} ${NOT_A_DESCRIPTOR}` };
    return { reason, ldif: await this.changeLdif(type, schema).catch(() => undefined) };
  }

  extend(type: WantedType): Promise<void> {
    if (!DESCRIPTOR.test(type.name))
      return Promise.reject(new BadRequestError('Invalid value for name', NOT_A_DESCRIPTOR));
    const run = this.changing.then(() => this.applyExtension(type));
    this.changing = run.catch(() => undefined);
    return run;
  }

  private async applyExtension(type: WantedType): Promise<void> {
    // A schema that already allows the type needs no change, so no permission to change it either.
    const schema = await readSubschema(this.directory);
    if (!this.whyNotAllowed(type.name, schema)) return;
    const config = this.options.config;
    if (!this.options.allowChanges || !config) {
      throw new SchemaChangeRefusedError(
        'Schema changes are switched off on this service (SCHEMA_EXTENSION=false); an operator can apply the schema change from the 406 answer instead.',
      );
    }
    try {
      const change = await this.change(type, schema, config);
      await config.run((c) => c.modify(change.dn, change.changes));
    } catch (thrown) {
      // A refused bind reaches here as "directory unavailable"; what matters is why.
      const error = thrown instanceof DirectoryUnavailableError ? thrown.cause : thrown;
      if (error instanceof InsufficientAccessError || error instanceof InvalidCredentialsError) {
        throw new SchemaChangeRefusedError(
          'The directory refused the schema change: the configured cn=config account may not change the schema.',
        );
      }
      if (error instanceof ResultCodeError) {
        throw new SchemaChangeRefusedError(`The directory refused the schema change: ${error.message}`);
      }
      throw thrown;
    }
  }

  private whyNotAllowed(name: string, { attributeTypes, objectClasses }: Subschema): string | undefined {
    const wanted = name.toLowerCase();
    const type = attributeTypes.find((t) => t.names.some((n) => n.toLowerCase() === wanted));
    const classes = this.options.personClasses.join(', ');
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
    for (const c of this.options.personClasses) visit(c, new Set());
    const allowedByType = [type.oid, ...type.names].some((n) => allowed.has(n.toLowerCase()));
    if (!allowedByType) {
      return `The attribute type '${name}' exists, but none of the person object classes (${classes}) allows it. Add it to the MAY list of one of them.`;
    }
    return undefined;
  }

  /** The modification of the custom class's cn=config entry, as ldapts changes and as LDIF. */
  private async change(type: WantedType, schema: Subschema, config: Directory) {
    const location = await this.locateClass(config);
    const exists = schema.attributeTypes.some((t) =>
      t.names.some((n) => n.toLowerCase() === type.name.toLowerCase()),
    );
    const added = exists
      ? undefined
      : attributeTypeDefinition(type, nextOid(this.options.oidArc, schema.attributeTypes));
    const extended = allowInClass(location.value, type.name);
    const changes = [
      ...(added
        ? [
            new Change({
              operation: 'add',
              modification: new Attribute({ type: 'olcAttributeTypes', values: [added] }),
            }),
          ]
        : []),
      new Change({
        operation: 'delete',
        modification: new Attribute({ type: 'olcObjectClasses', values: [location.value] }),
      }),
      new Change({
        operation: 'add',
        modification: new Attribute({ type: 'olcObjectClasses', values: [extended] }),
      }),
    ];
    const ldif = [
      `dn: ${location.dn}`,
      'changetype: modify',
      ...(added ? ['add: olcAttributeTypes', `olcAttributeTypes: ${added}`, '-'] : []),
      'delete: olcObjectClasses',
      `olcObjectClasses: ${location.value}`,
      '-',
      'add: olcObjectClasses',
      `olcObjectClasses: ${extended}`,
      '-',
      '',
    ].join('\n');
    return { dn: location.dn, changes, ldif };
  }

  private async changeLdif(type: WantedType, schema: Subschema): Promise<string | undefined> {
    return this.options.config ? (await this.change(type, schema, this.options.config)).ldif : undefined;
  }

  /** Finds the cn=config schema entry that defines the custom person class. */
  private async locateClass(config: Directory): Promise<ClassLocation> {
    const { customClass } = this.options;
    const { searchEntries } = await config.run((c) =>
      c.search('cn=schema,cn=config', {
        scope: 'one',
        filter: new EqualityFilter({ attribute: 'objectClass', value: 'olcSchemaConfig' }),
        attributes: ['olcObjectClasses'],
      }),
    );
    const named = new RegExp(`\\bNAME\\s+(\\(\\s*)?'${customClass}'`, 'i');
    for (const entry of searchEntries) {
      const raw = entry.olcObjectClasses;
      const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
      const value = values.find((v) => named.test(v));
      if (value) return { dn: entry.dn, value };
    }
    throw new SchemaChangeRefusedError(
      `The directory configuration has no object class named '${customClass}'.`,
    );
  }
}
