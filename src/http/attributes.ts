import type { Operation as PatchOperation } from 'fast-json-patch';
import { tagMatches, entityTag, toWire } from '../attributes/definition.js';
import type { ListParams } from '../attributes/query.js';
import type { AttributeService } from '../attributes/service.js';
import { requireScopes, type Principal } from '../auth/bearer.js';
import { API_ROOT } from './openapi.js';
import { definitionSender, ifMatch, page, warn } from './responses.js';
import type { Router } from './router.js';
import type { Handler } from './state.js';

/** The handlers of the attribute-definition operations, by operationId. */
export function attributeHandlers(service: AttributeService, router: Router): Record<string, Handler> {
  const send = definitionSender();
  /** A forced delete also changes scopes: it needs what changing a scope needs, too. */
  const scopeWriters = router.routes.find((r) => r.operationId === 'patch-oauth-scopes-by-id')?.scopes ?? [];
  return {
    'get-attributes': async ({ query }, ctx) => {
      const params = query as ListParams;
      const found = await service.list(params);
      ctx.body = page(params.startIndex ?? 0, found.totalEntriesCount, found.entries.map(toWire));
    },
    'get-attributes-by-inum': async ({ params }, ctx) => {
      const stored = await service.get(String(params.inum));
      const ifNoneMatch = ctx.get('if-none-match');
      if (ifNoneMatch && tagMatches(ifNoneMatch, stored)) {
        ctx.status = 304;
        ctx.set('ETag', entityTag(stored));
        return;
      }
      send(ctx, 200, stored);
    },
    'post-attributes': async ({ query, body }, ctx) => {
      const stored = await service.create(body as Record<string, unknown>, query.extendSchema === true);
      ctx.state.outcome = { kind: 'definition', change: { after: stored } };
      ctx.set('Location', `${API_ROOT}/attributes/${encodeURIComponent(stored.definition.inum)}`);
      send(ctx, 201, stored);
    },
    'put-attributes': async ({ body }, ctx) => {
      const change = await service.replace(body as Record<string, unknown>, ifMatch(ctx));
      ctx.state.outcome = { kind: 'definition', change };
      warn(ctx, change);
      send(ctx, 200, change.after);
    },
    'patch-attributes-by-inum': async ({ params, body }, ctx) => {
      const change = await service.patch(String(params.inum), body as PatchOperation[], ifMatch(ctx));
      ctx.state.outcome = { kind: 'definition', change };
      warn(ctx, change);
      send(ctx, 200, change.written ?? change.after);
    },
    'delete-attributes-by-inum': async ({ params, query }, ctx) => {
      const force = query.force === true;
      if (force) requireScopes(ctx.state.principal as Principal, scopeWriters);
      const change = await service.remove(String(params.inum), ifMatch(ctx), force);
      ctx.state.outcome = { kind: 'definition', change };
      warn(ctx, change);
      ctx.status = 204;
    },
    'get-attributes-claims': async (_request, ctx) => {
      ctx.body = (await service.claims()).map(({ definition: d }) => ({
        claimName: d.claimName,
        attribute: d.name,
        inum: d.inum,
        ...(d.dataType ? { dataType: d.dataType } : {}),
        multiValued: d.oxMultiValuedAttribute ?? false,
        hideOnDiscovery: d.jansHideOnDiscovery ?? false,
      }));
    },
    'get-attributes-conflicts': async (_request, ctx) => {
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
    'get-attributes-usage-by-inum': async ({ params }, ctx) => {
      const { definition, scopes } = await service.usage(String(params.inum));
      ctx.body = { inum: definition.definition.inum, name: definition.definition.name, scopes };
    },
  };
}
