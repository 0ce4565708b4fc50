import type { Logger } from 'pino';
import type { AuditStore } from '../attributes/audit.js';
import type { ScopeService } from '../attributes/scopes.js';
import type { AttributeService } from '../attributes/service.js';
import { bearerToken, requireScopes, type TokenVerifier } from '../auth/bearer.js';
import type { ValueService } from '../values/service.js';
import type { ValueSchemas } from '../values/value-schema.js';
import { attributeHandlers } from './attributes.js';
import { historyHandlers } from './history.js';
import { API_ROOT } from './openapi.js';
import type { Router } from './router.js';
import { scopeHandlers } from './scopes.js';
import type { Handler, Middleware } from './state.js';
import { valueHandlers } from './values.js';

export interface ApiDependencies {
  router: Router;
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

/** The API below its root, as two middleware around body parsing. */
export interface Api {
  /**
   * Routes a request by the document and checks its bearer token against the operation's scopes, before
   * its body is read: what follows (the body parser, the audit trail, the log line, the metrics) knows
   * the operation and the caller from `ctx.state`.
   */
  identify: Middleware;
  /** Validates the routed request's parameters and body by the document, and runs its handler. */
  dispatch: Middleware;
}

const isApiPath = (path: string) => path.startsWith(`${API_ROOT}/`);

/** The API: one handler per operationId of the document, each operation's scopes from the document. */
export function createApi({
  router,
  service,
  scopes,
  verifier,
  audit,
  maxPageSize,
  values,
  valueSchemas,
  log,
}: ApiDependencies): Api {
  const handlers: Record<string, Handler> = {
    ...attributeHandlers(service, router),
    ...scopeHandlers(scopes),
    ...historyHandlers(audit, maxPageSize),
    ...valueHandlers(values, valueSchemas),
  };
  const unhandled = router.routes.map((r) => r.operationId).filter((id) => !handlers[id]);
  if (unhandled.length > 0) throw new Error(`No handler for ${unhandled.join(', ')}`);

  return {
    identify: async (ctx, next) => {
      if (!isApiPath(ctx.path)) return next();
      const routed = router.match(ctx.method, ctx.path);
      ctx.state.routed = routed;
      if (routed.route.scopes.length > 0) {
        const principal = await verifier.verify(bearerToken(ctx.get('authorization') || undefined));
        ctx.state.principal = principal;
        requireScopes(principal, routed.route.scopes);
      }
      return next();
    },
    dispatch: async (ctx, next) => {
      const routed = ctx.state.routed;
      if (!routed) return next();
      const { query, ignored } = router.validate(routed, ctx);
      if (ignored.length > 0)
        log?.debug(
          { requestId: ctx.state.requestId, operationId: routed.route.operationId, ignored },
          'undeclared query parameters ignored',
        );
      const handler = handlers[routed.route.operationId] as Handler;
      await handler({ route: routed.route, params: routed.params, query, body: ctx.request.body }, ctx);
    },
  };
}
