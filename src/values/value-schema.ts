import { createRequire } from 'node:module';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { DERIVED_FLAGS, type AttributeDefinition } from '../attributes/definition.js';

/** Who a value document is for: an administrator, or the user the values belong to. */
export type Audience = 'user' | 'admin';
export const AUDIENCES: readonly Audience[] = ['user', 'admin'];

export type JsonSchema = Record<string, unknown>;

export interface Access {
  view: boolean;
  edit: boolean;
}

/**
 * Attributes that hold credentials. Their values are neither served nor written through the values API,
 * whatever the definition says: reading would hand out password hashes, and a plain LDAP write would store
 * a new password unhashed. Passwords change through the identity server's own flows.
 */
const CREDENTIALS = new Set(['userpassword']);

/** What an audience may do with an attribute, from the definition's viewType and editType. */
export function accessOf(definition: AttributeDefinition, audience: Audience): Access {
  if (CREDENTIALS.has((definition.name ?? '').toLowerCase())) return { view: false, edit: false };
  return audience === 'admin'
    ? { view: DERIVED_FLAGS.adminCanView(definition), edit: DERIVED_FLAGS.adminCanEdit(definition) }
    : { view: DERIVED_FLAGS.userCanView(definition), edit: DERIVED_FLAGS.userCanEdit(definition) };
}

/**
 * The RE2 engine (linear-time matching), loaded when a pattern is first compiled: its WebAssembly
 * memory adds about 15 MB to the resident size of a service that never checks a pattern.
 */
let re2: typeof import('re2-wasm').RE2 | undefined;
function RE2(pattern: string, flags: string): InstanceType<typeof import('re2-wasm').RE2> {
  re2 ??= (createRequire(import.meta.url)('re2-wasm') as typeof import('re2-wasm')).RE2;
  return new re2(pattern, flags);
}

const BASE64 = '^[A-Za-z0-9+/]*={0,2}$';

/**
 * The RFC 3339 date-times the API can store, next to `format: 'date-time'` (which still checks the
 * calendar): the format alone lets through texts no JavaScript Date represents (a leap second 23:59:60,
 * an offset such as +99:99 or +05), and a space for the T, which Date.parse reads with two-digit-year
 * rules (0049-01-01 10:00:00Z as 2049). A year leaving 0000-9999 once the offset is applied
 * (9999-12-31T23:00:00-05:00) has no simple pattern and is refused by the API.
 */
const DATE_TIME =
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.][0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$';

/**
 * A definition's regexp is a whole-value match (as Janssen applies it), so it is anchored for JSON
 * Schema's `pattern`, which searches. Returns undefined when the linear-time engine cannot take it
 * (backreferences, lookaround): such a pattern could not be checked without risking a hang.
 */
export function anchoredPattern(regexp: string): string | undefined {
  const pattern = `^(?:${regexp})$`;
  try {
    RE2(pattern, 'u');
    return pattern;
  } catch {
    return undefined;
  }
}

/** The JSON Schema of one value (one item, for a multi-valued attribute). */
function itemSchema(definition: AttributeDefinition): JsonSchema {
  const v = definition.attributeValidation;
  const lengths = {
    ...(v?.minLength !== undefined ? { minLength: v.minLength } : {}),
    ...(v?.maxLength !== undefined ? { maxLength: v.maxLength } : {}),
  };
  switch (definition.dataType) {
    case 'numeric':
      return { type: 'number' };
    case 'boolean':
      return { type: 'boolean' };
    case 'generalizedTime':
      return { type: 'string', format: 'date-time', pattern: DATE_TIME };
    case 'json':
      return {};
    case 'binary':
    case 'certificate':
      return { type: 'string', contentEncoding: 'base64', pattern: BASE64, ...lengths };
    default: {
      const pattern = v?.regexp === undefined ? undefined : anchoredPattern(v.regexp);
      return { type: 'string', ...lengths, ...(pattern ? { pattern } : {}) };
    }
  }
}

/** A regexp the linear-time engine cannot run makes the attribute read-only: it cannot be validated. */
function uncheckable(definition: AttributeDefinition): boolean {
  const regexp = definition.attributeValidation?.regexp;
  const texty = !['numeric', 'boolean', 'generalizedTime', 'json', 'binary', 'certificate'].includes(
    definition.dataType ?? 'string',
  );
  return texty && regexp !== undefined && anchoredPattern(regexp) === undefined;
}

/**
 * The JSON Schema (draft 2020-12) of the values an audience may see or set, derived from the active
 * definitions: one property per attribute, an array when multi-valued, `readOnly` where the audience may
 * view but not edit, `writeOnly` where it may edit but not view, and attributes it may neither view nor
 * edit left out. Any other property is refused.
 */
export function deriveValueSchema(definitions: AttributeDefinition[], audience: Audience): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const sorted = [...definitions]
    .filter((d) => d.status === 'active' && d.name)
    .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
  for (const definition of sorted) {
    const access = accessOf(definition, audience);
    if (!access.view && !access.edit) continue;
    const item = itemSchema(definition);
    const schema: JsonSchema = definition.oxMultiValuedAttribute
      ? { type: 'array', items: item, minItems: 1, uniqueItems: true }
      : { ...item };
    if (definition.displayName) schema.title = definition.displayName;
    if (definition.description) schema.description = definition.description;
    if (!access.edit || uncheckable(definition)) schema.readOnly = true;
    if (!access.view) schema.writeOnly = true;
    properties[definition.name as string] = schema;
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: `Attribute values (${audience})`,
    type: 'object',
    properties,
    additionalProperties: false,
  };
}

/** Ajv's `pattern` run by RE2: matching time is linear in the input, whatever the pattern. */
const linearRegExp = Object.assign(
  (pattern: string, flags: string): { test: (s: string) => boolean } =>
    RE2(pattern, flags.includes('u') ? flags : `${flags}u`),
  { code: 'new (require("re2-wasm").RE2)' },
);

export interface CompiledSchema {
  document: JsonSchema;
  /** Validates one attribute's value; returns the first problem as text, or undefined when valid. */
  check(name: string, value: unknown): string | undefined;
  /** The property schema of an attribute, or undefined when the audience has none. */
  property(name: string): JsonSchema | undefined;
  /** The validators compiled so far, by the JSON of their property schema (for the next snapshot). */
  readonly compiled: ReadonlyMap<string, ValidateFunction>;
}

function describe(name: string, errors: ErrorObject[] | null | undefined): string {
  const first = errors?.[0];
  if (!first) return `${name} is not valid`;
  const where = first.instancePath ? `${name}${first.instancePath.replace(/\//g, '.')}` : name;
  if (first.keyword === 'pattern' && first.params.pattern === DATE_TIME) {
    return `${where} must be a date-time of the form yyyy-mm-ddThh:mm:ss[.f](Z|±hh:mm), with seconds up to 59 and an offset within ±23:59`;
  }
  return `${where} ${first.message ?? 'is not valid'}`;
}

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: false, code: { regExp: linearRegExp } });
  addFormats.default(ajv);
  return ajv;
}

/**
 * Validators for a derived document, each compiled when its attribute is first checked: compiling every
 * property at once took seconds of a blocked event loop with thousands of definitions. A validator of an
 * earlier snapshot whose property schema has not changed is taken over instead of compiled again.
 */
export function compileValueSchema(
  document: JsonSchema,
  earlier?: ReadonlyMap<string, ValidateFunction>,
): CompiledSchema {
  const properties = document.properties as Record<string, JsonSchema>;
  const names = new Map(Object.keys(properties).map((name) => [name.toLowerCase(), name]));
  const byName = new Map<string, ValidateFunction>();
  const compiled = new Map<string, ValidateFunction>();
  let ajv: Ajv2020 | undefined;
  const validator = (name: string): ValidateFunction => {
    let validate = byName.get(name);
    if (!validate) {
      const schema = properties[name] as JsonSchema;
      const key = JSON.stringify(schema);
      validate = compiled.get(key) ?? earlier?.get(key) ?? (ajv ??= newAjv()).compile(schema);
      compiled.set(key, validate);
      byName.set(name, validate);
    }
    return validate;
  };
  return {
    document,
    compiled,
    property: (name) => {
      const found = names.get(name.toLowerCase());
      return found === undefined ? undefined : properties[found];
    },
    check(name, value) {
      const found = names.get(name.toLowerCase());
      if (found === undefined) return `${name} is not an attribute this caller may use`;
      const validate = validator(found);
      return validate(value) ? undefined : describe(found, validate.errors);
    },
  };
}

/** Where the active definitions come from. */
export type DefinitionSource = () => Promise<AttributeDefinition[]>;

/**
 * The compiled value schemas of both audiences, built on first use and rebuilt when definitions change
 * (`invalidate`, called on every change made through this instance) or when older than `maxAgeMs`
 * (changes made elsewhere).
 */
interface Built {
  at: number;
  byAudience: Map<Audience, CompiledSchema>;
  /** The active definitions the schemas were built from, by lower-case name. */
  definitions: Map<string, AttributeDefinition>;
}

export class ValueSchemas {
  private built?: Promise<Built>;
  /** The last snapshot built, whose validators the next one takes over where nothing changed. */
  private last?: Built;

  constructor(
    private readonly source: DefinitionSource,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  invalidate(): void {
    this.built = undefined;
  }

  /** The current snapshot: compiled schemas and the active definitions they come from. */
  async current(): Promise<Built> {
    const seen = this.built;
    const built = seen && (await seen.catch(() => undefined));
    if (built && this.now() - built.at <= this.maxAgeMs) return built;
    // Concurrent callers that found the same stale snapshot share one rebuild.
    if (this.built === seen) this.built = this.build();
    return this.built as Promise<Built>;
  }

  async for(audience: Audience): Promise<CompiledSchema> {
    return (await this.current()).byAudience.get(audience) as CompiledSchema;
  }

  private async build(): Promise<Built> {
    const earlier = this.last;
    const definitions = (await this.source()).filter((d) => d.status === 'active' && d.name);
    const byAudience = new Map<Audience, CompiledSchema>();
    for (const audience of AUDIENCES) {
      const document = deriveValueSchema(definitions, audience);
      byAudience.set(audience, compileValueSchema(document, earlier?.byAudience.get(audience)?.compiled));
    }
    this.last = {
      at: this.now(),
      byAudience,
      definitions: new Map(definitions.map((d) => [(d.name as string).toLowerCase(), d])),
    };
    return this.last;
  }
}
