import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { parse } from 'yaml';

/** Janssen's published schemas of the attribute endpoints (see the fixture's header). */
const CONTRACT_FILE = fileURLToPath(new URL('../fixtures/janssen/contract.yaml', import.meta.url));

interface Contract {
  seedExceptions: Record<string, Record<string, string[]>>;
  operations: Record<string, Record<string, string>>;
  patchBody: string;
  components: { schemas: Record<string, object> };
}

const contract = parse(readFileSync(CONTRACT_FILE, 'utf8')) as Contract;
const ajv = new Ajv.default({ strict: false, allErrors: true });
ajv.addSchema({ components: contract.components }, 'janssen');
const schema = (name: string): ValidateFunction => {
  const validate = ajv.getSchema(`janssen#/components/schemas/${name}`);
  if (!validate) throw new Error(`no schema ${name} in ${CONTRACT_FILE}`);
  return validate;
};

/** Whether an error is one Janssen's own seed data makes (a value its schema refuses), not ours. */
function upstreamQuirk(error: ErrorObject, body: unknown): boolean {
  const field = error.instancePath.split('/').at(-1) ?? '';
  const allowed = contract.seedExceptions[field]?.[error.keyword];
  if (!allowed) return false;
  const value = error.instancePath
    .split('/')
    .filter(Boolean)
    .reduce<unknown>((node, step) => (node as Record<string, unknown> | undefined)?.[step], body);
  return typeof value === 'string' && allowed.includes(value);
}

function violations(validate: ValidateFunction, body: unknown, lacking: readonly string[]): string[] {
  if (validate(body)) return [];
  return (validate.errors ?? [])
    .filter((e) => !upstreamQuirk(e, body))
    .filter(
      (e) =>
        !(
          e.keyword === 'required' &&
          lacking.includes((e.params as { missingProperty: string }).missingProperty)
        ),
    )
    .map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
}

/**
 * What in an answer breaks Janssen's published contract: a body of one of its attribute operations
 * against the schema it documents for that status (each entry of a page against JansAttribute too), and
 * any error body against ApiError. `lacking` names required fields a test knows the stored entry lacks
 * (a directory made elsewhere can hold such entries; Janssen serves them the same way).
 */
export function upstreamViolations(
  operationId: string,
  status: number,
  body: unknown,
  lacking: readonly string[] = [],
): string[] {
  if (body === undefined) return [];
  if (status >= 400) return violations(schema('ApiError'), body, lacking);
  const name = contract.operations[operationId]?.[String(status)];
  if (!name) return [];
  const found = violations(schema(name), body, lacking);
  if (name === 'PagedResult') {
    const entries = (body as { entries?: unknown[] }).entries ?? [];
    entries.forEach((entry, i) => {
      found.push(...violations(schema('JansAttribute'), entry, lacking).map((v) => `/entries/${i}${v}`));
    });
  }
  return found;
}

/** Whether a PATCH body is what Janssen's document says such a body is: an array of PatchRequest. */
export function upstreamPatchBodyViolations(body: unknown): string[] {
  if (!Array.isArray(body)) return ['/ must be array'];
  return body.flatMap((op, i) => violations(schema(contract.patchBody), op, []).map((v) => `/${i}${v}`));
}
