import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { BadRequestError, ConflictError } from '../errors.js';

const { applyPatch, JsonPatchError } = fastJsonPatch;

const UNSAFE_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Applies an RFC 6902 patch to a copy of a JSON document. A malformed operation or a path that does not
 * exist is a 400 naming the operation, a failed `test` a 409; either way nothing is changed. Paths through
 * `__proto__`, `constructor` or `prototype` are refused before anything is applied, and every field for
 * which `fixed` is true must come out as it went in.
 */
export function patchDocument(
  document: Record<string, unknown>,
  operations: Operation[],
  fixed: (field: string) => boolean,
): Record<string, unknown> {
  for (const [index, op] of operations.entries()) {
    const segments = [op.path, 'from' in op ? op.from : ''].flatMap((p) => p.split('/'));
    if (segments.some((s) => UNSAFE_SEGMENTS.has(s))) {
      throw new BadRequestError(`Invalid patch operation ${index}`, 'The path names a forbidden property');
    }
  }
  let patched: Record<string, unknown>;
  try {
    patched = applyPatch(structuredClone(document), operations, true, false).newDocument;
  } catch (error) {
    if (!(error instanceof JsonPatchError)) throw error;
    const at = `operation ${error.index ?? 0}`;
    if (error.name === 'TEST_OPERATION_FAILED') {
      throw new ConflictError(
        'JSON Patch test failed',
        `The test in ${at} does not hold; nothing was changed`,
      );
    }
    // The library's first line says what is wrong with the operation (path, index, value).
    throw new BadRequestError(`Invalid patch ${at}`, error.message.split('\n')[0]);
  }
  if (typeof patched !== 'object' || patched === null || Array.isArray(patched)) {
    throw new BadRequestError(
      'Invalid patch',
      'The patch must leave a JSON object, not replace or remove it',
    );
  }
  for (const field of new Set([...Object.keys(document), ...Object.keys(patched)])) {
    if (fixed(field) && patched[field] !== document[field]) {
      throw new BadRequestError('Invalid patch', `${field} cannot be changed`);
    }
  }
  return patched;
}

/**
 * Holds a patched document to the API's contract for a whole one (a definition to a PUT body's, a scope
 * to the Scope schema); throws a BadRequestError naming the problem. The HTTP layer compiles it from
 * the OpenAPI document and gives it to the service once, at construction.
 */
export type ShapeCheck = (document: unknown) => void;
