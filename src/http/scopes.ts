import type { Operation as PatchOperation } from 'fast-json-patch';
import type { ScopeService } from '../attributes/scopes.js';
import type { Handler } from './state.js';

/** The handlers of the OpenID scope operations, by operationId. */
export function scopeHandlers(scopes: ScopeService): Record<string, Handler> {
  return {
    'get-oauth-scopes': async (_request, ctx) => {
      ctx.body = await scopes.list();
    },
    'get-oauth-scopes-by-inum': async ({ params }, ctx) => {
      ctx.body = await scopes.get(String(params.inum));
    },
    'patch-oauth-scopes-by-id': async ({ params, body }, ctx) => {
      const change = await scopes.patch(String(params.inum), body as PatchOperation[]);
      ctx.state.outcome = { kind: 'scope', change };
      ctx.body = change.after;
    },
  };
}
