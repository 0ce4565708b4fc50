import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Context as KoaContext } from 'koa';
import { OpenAPIBackend, type Document, type Operation } from 'openapi-backend';
import { AppError, BadRequestError, UnsupportedMediaTypeError } from '../errors.js';
import { SERVER_ROOT } from './openapi.js';

/** One operation of the document, and what a request for it must be checked against (worked out once). */
export interface Route {
  operation: Operation;
  operationId: string;
  /** The scope sets of its security requirements; any one set suffices. Empty: no token needed. */
  scopes: string[][];
  /** Body media types it accepts. */
  accepted: string[];
  /** openapi-backend's request validators (they coerce path and query parameters to their types). */
  validators: ValidateFunction[];
  /** Query parameters it declares, and those of them that are arrays. */
  queryNames: ReadonlySet<string>;
  arrays: string[];
  /** A JSON body other than application/json (JSON Patch), validated here from the same document. */
  plusJsonBody?: ValidateFunction;
}

/** A request's route and its path parameters (URI-decoded). */
export interface Routed {
  route: Route;
  params: Record<string, string>;
}

/** The OpenAPI document as the router: matching, request validation, and contract checks for the domain. */
export interface Router {
  routes: Route[];
  /** The route of a method and a path below the server root; 404 or 405 otherwise. */
  match(method: string, path: string): Routed;
  /** Validates a request's parameters and body; gives the query to hand on, and the names it ignored. */
  validate(routed: Routed, ctx: KoaContext): { query: Record<string, unknown>; ignored: string[] };
  /** A check that throws a 400 naming the field when a value breaks the document's named schema. */
  schemaCheck(schema: string): (value: unknown) => void;
  /** A check of a value against an operation's request body (a patched definition against a PUT's). */
  bodyCheck(operationId: string): (value: unknown) => void;
}

const PLACES: Record<string, string> = {
  query: 'query parameter',
  path: 'path parameter',
  header: 'header',
  requestBody: 'field',
};

/** One step of an ajv instance path (a JSON Pointer), unescaped. */
const pointerStep = (step: string) => step.replace(/~1/g, '/').replace(/~0/g, '~');

/**
 * Names what is wrong from the first schema violation, e.g. "limit must be <= 200". Every message names
 * the parameter or field, whichever keyword the validator reports, or says which part of the request
 * (the body, the query) is wrong as a whole.
 */
export function describeViolation(errors: ErrorObject[] | null | undefined): BadRequestError {
  const first = errors?.[0];
  if (!first) return new BadRequestError('Invalid request');
  const [where = '', ...rest] = first.instancePath.split('/').filter(Boolean).map(pointerStep);
  const params = first.params as { missingProperty?: unknown; additionalProperty?: unknown };
  const missing = first.keyword === 'required' ? params.missingProperty : undefined;
  const extra = first.keyword === 'additionalProperties' ? params.additionalProperty : undefined;
  const named = [missing, extra].find((n): n is string => typeof n === 'string' && n !== '');
  const name = [...rest, ...(named ? [named] : [])].join('.');
  const place = PLACES[where] ?? 'field';
  const problem = first.message ?? 'is not valid';
  if (name === '') {
    if (where === 'requestBody') return new BadRequestError('Invalid request body', `The body ${problem}`);
    const part = PLACES[where] ? `${PLACES[where]}s` : 'request';
    return new BadRequestError(`Invalid ${part}`, `The ${part} ${problem}`);
  }
  if (missing) {
    return new BadRequestError(
      'A required attribute is missing.',
      `The ${place} ${name} is required for this operation`,
    );
  }
  if (extra) return new BadRequestError(`Unknown ${place} ${name}`, `${name} is not allowed here`);
  return new BadRequestError(`Invalid ${place} ${name}`, `${name} ${problem}`);
}

/**
 * The query parameters an operation declares, and the names of the others. Janssen (JAX-RS) ignores query
 * parameters an operation does not declare, and its command line sends some (a DELETE repeats the inum
 * as `?inum=`, a PATCH its own request fields), so they are dropped before validation, as there.
 */
export function declaredQuery(
  query: Record<string, unknown>,
  declared: ReadonlySet<string>,
): { query: Record<string, unknown>; ignored: string[] } {
  const kept: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (declared.has(name)) kept[name] = value;
    else ignored.push(name);
  }
  return { query: kept, ignored };
}

/** What the request parsing reads of a (dereferenced) parameter. */
interface Parameter {
  name: string;
  in: string;
  schema?: { type?: string };
  content?: unknown;
  style?: string;
  explode?: boolean;
}

/**
 * Builds the router from the document: openapi-backend compiles the request validators and dereferences
 * the document; matching, token scopes and validation are done here, each route's plan worked out once.
 */
export async function createRouter(document: Document): Promise<Router> {
  const api = new OpenAPIBackend({
    definition: structuredClone(document),
    apiRoot: SERVER_ROOT,
    strict: true,
    validate: true,
    coerceTypes: true,
    // Validators are compiled when first asked for: the request validators of every operation right
    // below, the response validators (which only the tests use, from their own copy) never. Quick mode
    // also skips checking the document against the OpenAPI schema; the tests check it on every run.
    quick: true,
    // Janssen's JSON reader turns "true" into true and 5 into "5"; accept the same bodies it accepts.
    customizeAjv: (ajv, options, context) =>
      context === 'requestBodyValidator' ? new Ajv.default({ ...options, coerceTypes: true }) : ajv,
  });
  await api.init();

  // openapi-backend validates application/json bodies only; JSON Patch bodies get the same treatment here,
  // from the same document.
  const bodyAjv = new Ajv.default({ strict: false });
  const bodyValidator = (schema: unknown): ValidateFunction =>
    bodyAjv.compile({ type: 'object', properties: { requestBody: schema }, required: ['requestBody'] });
  const plusJsonBodyOf = (operation: Operation): ValidateFunction | undefined => {
    const content =
      operation.requestBody && 'content' in operation.requestBody ? operation.requestBody.content : {};
    if (content['application/json']) return undefined;
    const schema = Object.entries(content).find(([type]) => type.endsWith('+json'))?.[1].schema;
    return schema ? bodyValidator(schema) : undefined;
  };

  const routes = api.router.getOperations().map((operation): Route => {
    const body = operation.requestBody;
    const parameters = (operation.parameters ?? []) as Parameter[];
    // The request parsing below knows path, header and form-style query parameters, as the document has.
    const other = parameters.find(
      (p) => p.in === 'cookie' || p.content || p.explode === false || (p.style && p.style !== 'form'),
    );
    if (other) throw new Error(`${operation.operationId}: parameter ${other.name} is of a kind not handled`);
    const plusJsonBody = plusJsonBodyOf(operation);
    return {
      operation,
      operationId: operation.operationId ?? '',
      scopes: (operation.security ?? []).map((r) => r.oauth2 ?? []),
      accepted: body && 'content' in body ? Object.keys(body.content) : [],
      validators: api.validator.getRequestValidatorsForOperation(operation.operationId ?? '') ?? [],
      arrays: parameters.filter((p) => p.in === 'query' && p.schema?.type === 'array').map((p) => p.name),
      queryNames: new Set(parameters.filter((p) => p.in === 'query').map((p) => p.name)),
      ...(plusJsonBody ? { plusJsonBody } : {}),
    };
  });
  const match = matcher(routes);

  return {
    routes,
    match: (method, path) => match(method, path.slice(SERVER_ROOT.length)),
    validate({ route, params }, ctx) {
      if (route.accepted.length > 0 && !ctx.is(route.accepted))
        throw new UnsupportedMediaTypeError(route.accepted);
      const { query, ignored } = declaredQuery(ctx.query, route.queryNames);
      for (const name of route.arrays) if (typeof query[name] === 'string') query[name] = [query[name]];
      const body: unknown = ctx.request.body;
      const parameters: Record<string, unknown> = { path: params, query, header: ctx.headers };
      if (typeof body === 'object' || ctx.headers['content-type'] === 'application/json')
        parameters.requestBody = body;
      for (const validate of route.validators)
        if (!validate(parameters)) throw describeViolation(validate.errors as ErrorObject[]);
      if (route.plusJsonBody && !route.plusJsonBody({ requestBody: body }))
        throw describeViolation(route.plusJsonBody.errors);
      return { query, ignored };
    },
    schemaCheck(schema) {
      const validate = bodyValidator((document.components?.schemas ?? {})[schema]);
      return (value) => {
        if (!validate({ requestBody: value })) throw describeViolation(validate.errors);
      };
    },
    bodyCheck(operationId) {
      const validators = api.validator.getRequestValidatorsForOperation(operationId) ?? [];
      return (value) => {
        const parameters = { path: {}, query: {}, header: {}, requestBody: value };
        for (const validate of validators)
          if (!validate(parameters)) throw describeViolation(validate.errors);
      };
    },
  };
}

/**
 * The route (anything that names an operation) for a method and a path below the server root, with the
 * path's parameters (URI-decoded), by openapi-backend's rules (a literal path before a template, then the
 * template with the longest literal part; trailing slashes ignored); each path's pattern compiled once.
 */
export function matcher<R extends { operation: Operation }>(
  routes: R[],
): (method: string, path: string) => { route: R; params: Record<string, string> } {
  const escape = (literal: string) => literal.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  const compiled = routes
    .map((route) => ({
      route,
      pattern: new RegExp(
        `^${route.operation.path
          .split(/\{[^}]*\}/)
          .map(escape)
          .join('([^/]+)')}$`,
      ),
      names: [...route.operation.path.matchAll(/\{([^}]*)\}/g)].map((m) => m[1] as string),
      literal: route.operation.path.replace(/\{[^}]*\}/g, '').length,
    }))
    .sort((a, b) => b.literal - a.literal);
  return (method, path) => {
    const wanted = method.toLowerCase();
    const trimmed = path.replace(/(?<=.)\/+$/, '') || '/';
    for (const { route, pattern, names } of compiled) {
      if (route.operation.method !== wanted) continue;
      const found = pattern.exec(trimmed);
      if (!found) continue;
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        params[name] = decodePathSegment(name, found[i + 1] as string);
      });
      return { route, params };
    }
    const known = compiled.some(({ pattern }) => pattern.test(trimmed));
    throw known ? new AppError(405, 'Method not allowed') : new AppError(404, 'No such endpoint');
  };
}

function decodePathSegment(name: string, segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BadRequestError(`Invalid path parameter ${name}`, `${name} is not valid percent-encoding`);
  }
}
