import { randomUUID } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import type { Document } from 'openapi-backend';
import type { Logger } from 'pino';
import { AppError, NotInSchemaError } from './errors.js';
import type { Api } from './http/api.js';
import { auditWrites } from './http/audit.js';
import { registerDocs } from './http/docs.js';
import type { Metrics } from './http/metrics.js';
import type { Middleware, RequestState } from './http/state.js';
import type { AuditStore } from './attributes/audit.js';

export interface AppDependencies {
  api: Api;
  audit: AuditStore;
  metrics: Metrics;
  document: Document;
  log: Logger;
  /** Resolves when the directory answers; rejects otherwise. */
  directoryReady: () => Promise<void>;
}

interface HttpError extends Error {
  status?: number;
}

/** The only place errors become responses: ApiError bodies, generic text for anything unexpected. */
function errorBodies(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      ctx.state.error = error;
      if (error instanceof AppError) {
        ctx.status = error.status;
        ctx.set(error.headers);
        ctx.body = {
          code: error.code,
          message: error.message,
          ...(error.description ? { description: error.description } : {}),
          ...(error instanceof NotInSchemaError && error.schemaChange
            ? { schemaChange: error.schemaChange }
            : {}),
        };
        if (!error.expose)
          log.warn(
            {
              err: error.cause ?? error,
              operationId: operationOf(ctx.state),
              requestId: ctx.state.requestId,
            },
            error.message,
          );
        return;
      }
      const httpError = error as HttpError;
      if (httpError.status && httpError.status >= 400 && httpError.status < 500) {
        // Body parser refusals: too large (413), malformed JSON (400), bad charset (415).
        ctx.status = httpError.status;
        ctx.body = { code: String(httpError.status), message: bodyProblem(httpError.status) };
        return;
      }
      log.error(
        { err: error, operationId: operationOf(ctx.state), requestId: ctx.state.requestId },
        'unexpected error',
      );
      ctx.status = 500;
      ctx.body = { code: '500', message: 'Internal server error' };
    }
  };
}

function bodyProblem(status: number): string {
  if (status === 413) return 'The request body is too large';
  if (status === 415) return 'Unsupported content type or charset';
  return 'The request body is not valid JSON';
}

/** No definition or patch needs more; deeper bodies would only exhaust the stack of whoever walks them. */
const MAX_BODY_DEPTH = 32;

/** The nesting depth of a parsed JSON value, measured without recursion. */
export function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > MAX_BODY_DEPTH) return deepest;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function limitDepth(): Middleware {
  return (ctx, next) => {
    if (depthOf(ctx.request.body) > MAX_BODY_DEPTH) {
      throw new AppError(
        400,
        'The request body is nested too deeply',
        `At most ${MAX_BODY_DEPTH} levels are accepted.`,
      );
    }
    return next();
  };
}

/**
 * JSON answers say `application/json` and nothing more, as Janssen's do: JSON is UTF-8 by definition
 * (RFC 8259), and Janssen's command line pretty-prints an answer only when its type is exactly that.
 * Koa adds `; charset=utf-8` to every JSON body it serialises; this takes it off again.
 */
function plainJsonType(): Middleware {
  return async (ctx, next) => {
    await next();
    if (/^application\/json\s*;\s*charset=utf-8$/i.test(ctx.response.get('Content-Type')))
      ctx.set('Content-Type', 'application/json');
  };
}

/**
 * Names each request (the caller's X-Request-Id when it is a sane token, else a new one, echoed in the
 * response) and logs one line for it; never headers, so tokens stay out of the log.
 */
function requestLog(log: Logger): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    const given = ctx.get('x-request-id');
    const requestId = /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      log.info(
        {
          requestId,
          method: ctx.method,
          path: ctx.path,
          operationId: operationOf(ctx.state),
          status: ctx.status,
          ms: Math.round((performance.now() - started) * 1000) / 1000,
        },
        'request',
      );
    }
  };
}

/** The operation a request was routed to, for its log line and metrics. */
export const operationOf = (state: RequestState): string | undefined => state.routed?.route.operationId;

/**
 * request id and log → JSON content type → metrics → audit → error bodies → routing and the token (API
 * paths) → body parsing → the API's validation and handler, or the plain routes (health, metrics, the
 * document, the docs page).
 */
export function createApp({
  api,
  audit,
  metrics,
  document,
  log,
  directoryReady,
}: AppDependencies): Koa<RequestState> {
  const app = new Koa<RequestState>();
  const router = new Router<RequestState>();
  router.get('/health/live', (ctx) => {
    ctx.body = { status: 'up' };
  });
  router.get('/health/ready', async (ctx) => {
    try {
      await directoryReady();
      ctx.body = { status: 'ready' };
    } catch {
      ctx.status = 503;
      ctx.body = { status: 'directory unavailable' };
    }
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  router.get('/jans-config-api/openapi.json', (ctx) => {
    ctx.body = document;
  });
  registerDocs(router, document);

  app.use(requestLog(log));
  app.use(plainJsonType());
  app.use(metrics.middleware());
  app.use(auditWrites(audit, log));
  app.use(errorBodies(log));
  app.use(api.identify);
  app.use(
    bodyParser({
      // The default JSON types include application/json-patch+json.
      enableTypes: ['json'],
      jsonLimit: '256kb',
      encoding: 'utf-8',
    }),
  );
  app.use(limitDepth());
  app.use(api.dispatch);
  app.use(router.routes());
  app.use(() => {
    throw new AppError(404, 'No such endpoint');
  });
  return app;
}
