import Ajv from 'ajv';
import { LRUCache } from 'lru-cache';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Context as KoaContext } from 'koa';
import type { Logger } from 'pino';
import { OpenAPIBackend, type Context, type Document, type Operation } from 'openapi-backend';
import type { Operation as PatchOperation } from 'fast-json-patch';
import { bearerToken, requireScopes, type Principal, type TokenVerifier } from '../auth/bearer.js';
import { entityTag, tagMatches, toWire, type StoredAttribute } from '../attributes/definition.js';
import { auditTarget, type AuditStore, type AuditSubject } from '../attributes/audit.js';
import { parsePaging, type ListParams } from '../attributes/query.js';
import type { ScopeService } from '../attributes/scopes.js';
import type { AttributeService, Change } from '../attributes/service.js';
import { AppError, BadRequestError, UnsupportedMediaTypeError } from '../errors.js';
import type { ValueService } from '../values/service.js';
import type { ValueSchemas } from '../values/value-schema.js';
import { API_ROOT, SERVER_ROOT } from './openapi.js';
import { valueHandlers } from './values.js';

/** Answers one request below the API root. */
export interface Api {
  (ctx: KoaContext): Promise<void>;
  /**
   * The operation a request names, its path parameters and its caller (when it sent a valid token), for
   * a request refused before it reached the API (its body could not be read); undefined when either
   * cannot be known.
   */
  identify(
    ctx: KoaContext,
  ): Promise<{ operationId: string; params: Record<string, string>; principal: Principal } | undefined>;
}

export interface ApiDependencies {
  document: Document;
  service: AttributeService;
  scopes: ScopeService;
  verifier: TokenVerifier;
  audit: AuditStore;
  maxPageSize: number;
  /** The values API (users and sessions) and the value schema. */
  values: ValueService;
  valueSchemas: ValueSchemas;
  /** Where a request's ignored query parameters are named (at debug level). */
  log?: Logger;
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

/**
 * The OpenAPI document as the router: one handler per operationId, the special handlers for the edges,
 * request validation from the document, and the scopes of each operation from its security requirements.
 */
export async function createApi({
  document,
  service,
  scopes,
  verifier,
  audit,
  maxPageSize,
  values,
  valueSchemas,
  log,
}: ApiDependencies): Promise<Api> {
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

  // openapi-backend validates application/json bodies only; JSON Patch bodies get the same treatment here,
  // from the same document.
  const bodyAjv = new Ajv.default({ strict: false });
  const bodyValidator = (schema: unknown): ValidateFunction =>
    bodyAjv.compile({ type: 'object', properties: { requestBody: schema }, required: ['requestBody'] });
  const otherJsonBody = (operation: Operation): ValidateFunction | undefined => {
    const content =
      operation.requestBody && 'content' in operation.requestBody ? operation.requestBody.content : {};
    if (content['application/json']) return undefined;
    const schema = Object.entries(content).find(([type]) => type.endsWith('+json'))?.[1].schema;
    return schema ? bodyValidator(schema) : undefined;
  };

  /** Holds a patched definition to the contract of a PUT body, with the validators of `put-attributes`. */
  const checkShape = (body: unknown) => {
    const parameters = { path: {}, query: {}, header: {}, requestBody: body };
    for (const validate of api.validator.getRequestValidatorsForOperation('put-attributes') ?? [])
      if (!validate(parameters)) throw describeViolation(validate.errors);
  };
  // A patched scope is held to the document's Scope schema, as a patched definition is to the PUT body.
  const validateScope = bodyValidator((document.components?.schemas ?? {}).Scope);
  const checkScope = (scope: unknown) => {
    if (!validateScope({ requestBody: scope })) throw describeViolation(validateScope.errors);
  };
  // A stored version never changes, so its JSON is written once and served again from here while the
  // version is among the most recently served (16 MiB of JSON: the hot definitions, or all of a registry
  // of up to about 20 000). A body is kept from its second request on, while the first is among the last
  // 4 096 asked for: the first alone would fill the cache with each definition of an even spread of reads
  // over 100 000 and push it out again before it is read twice, which at that size cost 10 % more CPU per
  // read and 45 MiB more peak memory (bodies promoted to the old generation to die there) than no cache.
  const bodies = new LRUCache<StoredAttribute, string>({
    maxSize: 16 * 2 ** 20,
    sizeCalculation: (b) => b.length,
  });
  const askedOnce = new LRUCache<StoredAttribute, true>({ max: 4096 });
  const sendAttribute = (ctx: KoaContext, status: number, stored: StoredAttribute) => {
    let body = bodies.get(stored);
    if (body === undefined) {
      body = JSON.stringify(toWire(stored));
      if (askedOnce.delete(stored)) bodies.set(stored, body);
      else askedOnce.set(stored, true);
    }
    ctx.status = status;
    ctx.set('ETag', entityTag(stored));
    ctx.set('Content-Type', 'application/json');
    ctx.body = body;
  };
  const ifMatch = (ctx: KoaContext) => ctx.get('if-match') || undefined;
  /** One page of the audit events about what the path names, newest first. */
  const history =
    (about: (params: Record<string, string>) => AuditSubject) => async (c: Context, ctx: KoaContext) => {
      const { limit, startIndex } = parsePaging(c.request.query as ListParams, maxPageSize);
      const target = auditTarget(about(c.request.params as Record<string, string>)) ?? '';
      const { total, events } = await audit.history(target, startIndex, limit);
      ctx.body = {
        start: startIndex,
        totalEntriesCount: total,
        entriesCount: events.length,
        ...(events.length > 0 ? { entries: events } : {}),
      };
    };
  const scopeWriters = () =>
    (api.router.getOperation('patch-oauth-scopes-by-id')?.security ?? []).map((r) => r.oauth2 ?? []);
  /** RFC 7234 `Warning: 299 - "..."` for each thing the caller should know about a change. */
  const warn = (ctx: KoaContext, change: Change) => {
    const warnings = change.warnings ?? [];
    if (warnings.length > 0)
      ctx.set('Warning', warnings.map((w) => `299 - "${w.replace(/["\\]/g, '')}"`).join(', '));
  };

  api.register({
    ...valueHandlers(values, valueSchemas),
    'get-attributes': async (c: Context, ctx: KoaContext) => {
      const params = c.request.query as ListParams;
      const page = await service.list(params);
      const start = params.startIndex ?? 0;
      ctx.body = {
        start,
        totalEntriesCount: page.totalEntriesCount,
        entriesCount: page.entries.length,
        ...(page.entries.length > 0 ? { entries: page.entries.map(toWire) } : {}),
      };
    },
    'get-attributes-by-inum': async (c: Context, ctx: KoaContext) => {
      const stored = await service.get(String(c.request.params.inum));
      const ifNoneMatch = ctx.get('if-none-match');
      if (ifNoneMatch && tagMatches(ifNoneMatch, stored)) {
        ctx.status = 304;
        ctx.set('ETag', entityTag(stored));
        return;
      }
      sendAttribute(ctx, 200, stored);
    },
    'post-attributes': async (c: Context, ctx: KoaContext) => {
      const stored = await service.create(
        c.request.requestBody as Record<string, unknown>,
        c.request.query.extendSchema === (true as unknown),
      );
      ctx.state.change = { after: stored };
      ctx.set('Location', `${API_ROOT}/attributes/${encodeURIComponent(stored.definition.inum)}`);
      sendAttribute(ctx, 201, stored);
    },
    'put-attributes': async (c: Context, ctx: KoaContext) => {
      const change = await service.replace(c.request.requestBody as Record<string, unknown>, ifMatch(ctx));
      ctx.state.change = change;
      warn(ctx, change);
      sendAttribute(ctx, 200, change.after);
    },
    'patch-attributes-by-inum': async (c: Context, ctx: KoaContext) => {
      const operations = c.request.requestBody as PatchOperation[];
      const inum = String(c.request.params.inum);
      const change = await service.patch(inum, operations, checkShape, ifMatch(ctx));
      ctx.state.change = change;
      warn(ctx, change);
      sendAttribute(ctx, 200, change.written ?? change.after);
    },
    'delete-attributes-by-inum': async (c: Context, ctx: KoaContext) => {
      const force = c.request.query.force === (true as unknown);
      // A forced delete also changes scopes: it needs what changing a scope needs, too.
      if (force) requireScopes(ctx.state.principal as Principal, scopeWriters());
      const change = await service.remove(String(c.request.params.inum), ifMatch(ctx), force);
      ctx.state.change = change;
      warn(ctx, change);
      ctx.status = 204;
    },
    'get-attributes-claims': async (_c: Context, ctx: KoaContext) => {
      ctx.body = (await service.claims()).map(({ definition: d }) => ({
        claimName: d.claimName,
        attribute: d.name,
        inum: d.inum,
        ...(d.dataType ? { dataType: d.dataType } : {}),
        multiValued: d.oxMultiValuedAttribute ?? false,
        hideOnDiscovery: d.jansHideOnDiscovery ?? false,
      }));
    },
    'get-attributes-conflicts': async (_c: Context, ctx: KoaContext) => {
      ctx.body = (await service.conflicts()).map((c) => ({
        kind: c.kind,
        value: c.value,
        definitions: c.definitions.map(({ definition: d }) => ({
          inum: d.inum,
          ...(d.name ? { name: d.name } : {}),
          ...(d.displayName ? { displayName: d.displayName } : {}),
          ...(d.status ? { status: d.status } : {}),
          ...(d.claimName ? { claimName: d.claimName } : {}),
        })),
      }));
    },
    'get-attributes-usage-by-inum': async (c: Context, ctx: KoaContext) => {
      const { definition, scopes: users } = await service.usage(String(c.request.params.inum));
      ctx.body = { inum: definition.definition.inum, name: definition.definition.name, scopes: users };
    },
    'get-oauth-scopes': async (_c: Context, ctx: KoaContext) => {
      ctx.body = await scopes.list();
    },
    'get-oauth-scopes-by-inum': async (c: Context, ctx: KoaContext) => {
      ctx.body = await scopes.get(String(c.request.params.inum));
    },
    'patch-oauth-scopes-by-id': async (c: Context, ctx: KoaContext) => {
      const operations = c.request.requestBody as PatchOperation[];
      const change = await scopes.patch(String(c.request.params.inum), operations, checkScope);
      ctx.state.scopeChange = change;
      ctx.body = change.after;
    },
    'get-attributes-history-by-inum': history((p) => ({ inum: p.inum })),
    'get-oauth-scopes-history-by-inum': history((p) => ({ scope: p.inum })),
    'get-user-attribute-history': history((p) => ({ holder: { kind: 'user', id: String(p.userInum) } })),
    'get-session-attribute-history': history((p) => ({
      holder: { kind: 'session', id: String(p.sessionId) },
    })),
  });
  await api.init();
  const handlers = api.handlers as Record<string, Handler | undefined>;
  // What each operation needs checked, worked out once from the (dereferenced) document.
  const plans = api.router.getOperations().map((operation) => {
    const body = operation.requestBody;
    const parameters = (operation.parameters ?? []) as Parameter[];
    // The request parsing below knows path, header and form-style query parameters, as the document has.
    const other = parameters.find(
      (p) => p.in === 'cookie' || p.content || p.explode === false || (p.style && p.style !== 'form'),
    );
    if (other) throw new Error(`${operation.operationId}: parameter ${other.name} is of a kind not handled`);
    return {
      operation,
      handler: handlers[operation.operationId ?? ''],
      scopes: (operation.security ?? []).map((r) => r.oauth2 ?? []),
      accepted: body && 'content' in body ? Object.keys(body.content) : [],
      validators: api.validator.getRequestValidatorsForOperation(operation.operationId ?? '') ?? [],
      arrays: parameters.filter((p) => p.in === 'query' && p.schema?.type === 'array').map((p) => p.name),
      queryNames: new Set(parameters.filter((p) => p.in === 'query').map((p) => p.name)),
      otherBody: otherJsonBody(operation),
    };
  });
  const unhandled = plans.filter((p) => !p.handler).map((p) => p.operation.operationId);
  if (unhandled.length > 0) throw new Error(`No handler for ${unhandled.join(', ')}`);
  const match = matcher(plans);

  /**
   * One request: route it by the document (openapi-backend's matching rules), check the bearer token
   * against the operation's scopes first, then validate it with the validators openapi-backend compiled
   * from the document (which coerce path and query parameters to their types), then run the handler.
   */
  const run = async (ctx: KoaContext) => {
    const { route, params } = match(ctx.method, ctx.path.slice(SERVER_ROOT.length));
    const { operation, handler, scopes, accepted, validators, arrays, queryNames, otherBody } = route;
    ctx.state.operationId = operation.operationId;
    ctx.state.params = params;
    if (scopes.length > 0) {
      const principal = await verifier.verify(bearerToken(ctx.get('authorization') || undefined));
      ctx.state.principal = principal;
      requireScopes(principal, scopes);
    }
    if (accepted.length > 0 && !ctx.is(accepted)) throw new UnsupportedMediaTypeError(accepted);

    const { query, ignored } = declaredQuery(ctx.query, queryNames);
    if (ignored.length > 0)
      log?.debug(
        { requestId: ctx.state.requestId, operationId: operation.operationId, ignored },
        'undeclared query parameters ignored',
      );
    for (const name of arrays) if (typeof query[name] === 'string') query[name] = [query[name]];
    const body: unknown = ctx.request.body;
    const parameters: Record<string, unknown> = { path: params, query, header: ctx.headers };
    if (typeof body === 'object' || ctx.headers['content-type'] === 'application/json')
      parameters.requestBody = body;
    for (const validate of validators)
      if (!validate(parameters)) throw describeViolation(validate.errors as ErrorObject[]);
    if (otherBody && !otherBody({ requestBody: body })) throw describeViolation(otherBody.errors);
    await handler?.({ operation, request: { params, query, requestBody: body } } as unknown as Context, ctx);
  };
  const identify = async (ctx: KoaContext) => {
    if (!ctx.path.startsWith(`${API_ROOT}/`)) return undefined;
    try {
      const { route, params } = match(ctx.method, ctx.path.slice(SERVER_ROOT.length));
      const token = bearerToken(ctx.get('authorization') || undefined);
      const principal = await verifier.verify(token);
      return { operationId: route.operation.operationId as string, params, principal };
    } catch {
      // No such operation, or no valid token (or no way to check it now): nobody to record.
      return undefined;
    }
  };
  return Object.assign(run, { identify });
}

type Handler = (c: Context, ctx: KoaContext) => Promise<void>;

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
