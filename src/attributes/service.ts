import { randomUUID } from 'node:crypto';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { AppError, BadRequestError, ConflictError, NotFoundError, NotInSchemaError } from '../errors.js';
import {
  DERIVED_FLAGS,
  assertNewName,
  readDefinition,
  toWire,
  type AttributeDefinition,
  type StoredAttribute,
} from './definition.js';
import { parseListQuery, type ListParams, type Page } from './query.js';
import type { AttributeStore, PersonSchema } from './store.js';

const { applyPatch, JsonPatchError } = fastJsonPatch;

export interface ServiceOptions {
  /** Largest page a list request may ask for. */
  maxPageSize: number;
  /** Refuse names that person entries cannot carry in the directory schema. */
  schemaCheck: boolean;
}

/** Checks a request body's shape against the API contract; throws BadRequestError naming the problem. */
export type ShapeCheck = (body: unknown) => void;

/** Fields a patch may not touch: identity, and flags that are derived from editType/viewType. */
const FIXED_ON_PATCH = new Set(['inum', 'dn', 'baseDn']);
const DERIVED_ON_PATCH = new Set(Object.keys(DERIVED_FLAGS));
const UNSAFE_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/** The registry's rules, independent of HTTP and of the directory. */
export class AttributeService {
  constructor(
    private readonly store: AttributeStore,
    private readonly schema: PersonSchema,
    private readonly options: ServiceOptions,
  ) {}

  async list(params: ListParams): Promise<Page> {
    return this.store.list(parseListQuery(params, this.options.maxPageSize));
  }

  async get(inum: string): Promise<StoredAttribute> {
    const found = await this.store.get(inum);
    if (!found) throw new NotFoundError();
    return found;
  }

  async create(body: Record<string, unknown>): Promise<StoredAttribute> {
    const draft = readDefinition(body, '');
    const name = draft.name ?? '';
    assertNewName(name);
    await this.assertNameFree(name, undefined);
    await this.assertInSchema(name);
    for (let attempt = 0; attempt < 3; attempt++) {
      const definition = { ...draft, inum: randomUUID() };
      if (await this.store.create(definition)) return this.get(definition.inum);
    }
    throw new AppError(500, 'Could not assign a free inum');
  }

  async replace(body: Record<string, unknown>): Promise<StoredAttribute> {
    const inum = body.inum;
    if (typeof inum !== 'string' || inum === '') {
      throw new BadRequestError(
        'A required attribute is missing.',
        'The attribute inum is required for this operation',
      );
    }
    const current = await this.get(inum);
    return this.write(current, body);
  }

  /**
   * Applies an RFC 6902 patch to the definition's JSON form, then stores the result as if it had been
   * PUT: `checkShape` holds it to the same contract as a PUT body.
   */
  async patch(inum: string, operations: Operation[], checkShape: ShapeCheck): Promise<StoredAttribute> {
    for (const [index, op] of operations.entries()) {
      const segments = [op.path, 'from' in op ? op.from : ''].flatMap((p) => p.split('/'));
      if (segments.some((s) => UNSAFE_SEGMENTS.has(s))) {
        throw new BadRequestError(`Invalid patch operation ${index}`, 'The path names a forbidden property');
      }
      const field = op.path.split('/')[1] ?? '';
      if (DERIVED_ON_PATCH.has(field)) {
        throw new BadRequestError(
          `Invalid patch operation ${index}`,
          `${field} is derived from editType and viewType; patch those instead`,
        );
      }
    }
    const current = await this.get(inum);
    const document = toWire(current);
    let patched: Record<string, unknown>;
    try {
      patched = applyPatch(document, operations, true, false).newDocument;
    } catch (error) {
      if (!(error instanceof JsonPatchError)) throw error;
      const at = `operation ${error.index ?? 0}`;
      if (error.name === 'TEST_OPERATION_FAILED') {
        throw new ConflictError(
          'JSON Patch test failed',
          `The test in ${at} does not hold; nothing was changed`,
        );
      }
      throw new BadRequestError(`Invalid patch ${at}`, patchProblem(error.name));
    }
    for (const field of FIXED_ON_PATCH) {
      if (patched[field] !== document[field]) {
        throw new BadRequestError('Invalid patch', `${field} cannot be changed`);
      }
    }
    checkShape(patched);
    return this.write(current, patched);
  }

  async remove(inum: string): Promise<void> {
    if (!(await this.store.remove(inum))) throw new NotFoundError();
  }

  /** PUT semantics over an existing definition: inum and dn are fixed, urn can be set but not changed. */
  private async write(current: StoredAttribute, body: Record<string, unknown>): Promise<StoredAttribute> {
    const { inum } = current.definition;
    if (body.dn !== undefined && body.dn !== null && body.dn !== current.dn) {
      throw new BadRequestError('Invalid value for dn', 'dn cannot be changed');
    }
    const next: AttributeDefinition = readDefinition(body, inum);
    const urn = current.definition.urn;
    if (next.urn === undefined) {
      if (urn !== undefined) next.urn = urn;
    } else if (urn !== undefined && next.urn !== urn) {
      throw new BadRequestError('Invalid value for urn', 'urn cannot be changed');
    }
    const name = next.name ?? '';
    if (name.toLowerCase() !== (current.definition.name ?? '').toLowerCase()) {
      assertNewName(name);
      await this.assertNameFree(name, inum);
      await this.assertInSchema(name);
    }
    await this.store.replace(current, next);
    return this.get(inum);
  }

  private async assertNameFree(name: string, ownInum: string | undefined): Promise<void> {
    const other = (await this.store.findByName(name)).find((s) => s.definition.inum !== ownInum);
    if (other) {
      throw new ConflictError(
        `Attribute with same name '${name}' already exists!`,
        `The definition with inum ${other.definition.inum} has this name.`,
      );
    }
  }

  private async assertInSchema(name: string): Promise<void> {
    if (!this.options.schemaCheck) return;
    const why = await this.schema.whyNotAllowed(name);
    if (why) throw new NotInSchemaError(`The attribute '${name}' not defined in DB schema`, why);
  }
}

function patchProblem(name: string): string {
  switch (name) {
    case 'OPERATION_PATH_UNRESOLVABLE':
    case 'OPERATION_FROM_UNRESOLVABLE':
      return 'The path does not exist in the definition';
    case 'OPERATION_PATH_ILLEGAL_ARRAY_INDEX':
    case 'OPERATION_VALUE_OUT_OF_BOUNDS':
      return 'The array index is not valid here';
    case 'OPERATION_VALUE_REQUIRED':
      return 'This operation needs a value';
    case 'OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED':
      return 'The value cannot contain undefined';
    default:
      return 'The operation is not a valid JSON Patch operation here';
  }
}
