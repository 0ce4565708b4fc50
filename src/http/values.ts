import { ForbiddenError } from '../errors.js';
import type { Caller, ItemResult, ValueItem, ValueOp, ValueService } from '../values/service.js';
import type { HolderKind, HolderRef } from '../values/store.js';
import type { Audience, ValueSchemas } from '../values/value-schema.js';
import type { ApiRequest, Ctx, Handler } from './state.js';

const CONFIG = 'https://jans.io/oauth/config/';

type Need = 'read' | 'write' | 'delete';

/** The scopes that make a caller an administrator of values, per holder kind and kind of operation. */
export function adminScopes(kind: HolderKind, need: Need): string[] {
  const own = `${CONFIG}${kind}-attributes`;
  switch (need) {
    case 'read':
      return [`${own}.readonly`, `${own}.write`, `${CONFIG}read-all`, `${CONFIG}write-all`];
    case 'write':
      return [`${own}.write`, `${CONFIG}write-all`];
    case 'delete':
      return [`${own}.delete`, `${CONFIG}delete-all`];
  }
}

const needOf = (op: ValueOp): Need =>
  op === 'get' || op === 'exists' ? 'read' : op === 'delete' ? 'delete' : 'write';

/** An admin when the token has a fitting scope; otherwise its subject, which may act on what it owns. */
function callerOf(ctx: Ctx, kind: HolderKind, op: ValueOp): Caller {
  const principal = ctx.state.principal;
  const scopes = principal?.scopes ?? new Set<string>();
  return {
    admin: adminScopes(kind, needOf(op)).some((s) => scopes.has(s)),
    subject: principal?.subject,
  };
}

function holderOf({ params }: ApiRequest, kind: HolderKind): HolderRef {
  return { kind, id: String(kind === 'user' ? params.userInum : params.sessionId) };
}

function body(request: ApiRequest): Record<string, unknown> {
  return (request.body ?? {}) as Record<string, unknown>;
}

function itemOf(name: string, input: Record<string, unknown>): ValueItem {
  return {
    name,
    value: input.value,
    ...(input.expiresIn !== undefined ? { expiresIn: input.expiresIn as number } : {}),
    ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt as string } : {}),
  };
}

function send(ctx: Ctx, result: ItemResult, status = result.status): void {
  ctx.status = status;
  ctx.body = {
    name: result.name,
    value: result.value ?? null,
    ...(result.metadata ? { metadata: result.metadata } : {}),
  };
}

/** The query flag `metadata`, however the query string spelled it. */
function wantsMetadata({ query }: ApiRequest): boolean {
  const raw = query.metadata;
  return raw === true || raw === 'true';
}

/** The handlers of the values API (users and sessions) and of the value schema, by operationId. */
export function valueHandlers(values: ValueService, schemas: ValueSchemas): Record<string, Handler> {
  return {
    ...holderHandlers(values, 'user'),
    ...holderHandlers(values, 'session'),
    'get-attributes-schema': async ({ query, route }, ctx) => {
      const audience = (query.audience ?? 'admin') as Audience;
      const principal = ctx.state.principal;
      const admin = route.scopes.some(
        (scopes) => scopes.length > 0 && scopes.every((s) => principal?.scopes.has(s)),
      );
      if (audience === 'admin' && !admin) {
        throw new ForbiddenError('The admin schema needs an admin scope; ask for audience=user');
      }
      ctx.body = (await schemas.for(audience)).document;
    },
  };
}

/** The value operations on one kind of holder (a user's or a session's values), by operationId. */
function holderHandlers(values: ValueService, kind: HolderKind): Record<string, Handler> {
  const handlers: Record<string, Handler> = {};
  handlers[`get-${kind}-attribute-names`] = async (request, ctx) => {
    ctx.body = { names: await values.names(holderOf(request, kind), callerOf(ctx, kind, 'get')) };
  };
  handlers[`post-${kind}-attribute`] = async (request, ctx) => {
    const input = body(request);
    const result = await values.one(
      holderOf(request, kind),
      callerOf(ctx, kind, 'create'),
      'create',
      itemOf(String(input.name), input),
    );
    send(ctx, result, 201);
  };
  handlers[`get-${kind}-attribute`] = async (request, ctx) => {
    const item = { name: String(request.params.name) };
    send(
      ctx,
      await values.one(
        holderOf(request, kind),
        callerOf(ctx, kind, 'get'),
        'get',
        item,
        wantsMetadata(request),
      ),
    );
  };
  handlers[`get-${kind}-attribute-exists`] = async (request, ctx) => {
    const item = { name: String(request.params.name) };
    const result = await values.one(holderOf(request, kind), callerOf(ctx, kind, 'exists'), 'exists', item);
    ctx.body = { name: result.name, exists: result.exists ?? false };
  };
  handlers[`put-${kind}-attribute`] = async (request, ctx) => {
    const item = itemOf(String(request.params.name), body(request));
    send(ctx, await values.one(holderOf(request, kind), callerOf(ctx, kind, 'set'), 'set', item));
  };
  handlers[`patch-${kind}-attribute`] = async (request, ctx) => {
    const item = itemOf(String(request.params.name), body(request));
    send(ctx, await values.one(holderOf(request, kind), callerOf(ctx, kind, 'update'), 'update', item));
  };
  handlers[`delete-${kind}-attribute`] = async (request, ctx) => {
    const item = { name: String(request.params.name) };
    await values.one(holderOf(request, kind), callerOf(ctx, kind, 'delete'), 'delete', item);
    ctx.status = 204;
  };
  handlers[`post-${kind}-attributes-many`] = async (request, ctx) => {
    const input = body(request);
    const op = input.op as ValueOp;
    const items = (input.items as Record<string, unknown>[]).map((i) => itemOf(String(i.name), i));
    const results = await values.many(
      holderOf(request, kind),
      callerOf(ctx, kind, op),
      op,
      items,
      input.metadata === true,
    );
    ctx.state.outcome = { kind: 'values', results: results.map(({ name, status }) => ({ name, status })) };
    ctx.body = {
      results: results.map((r) => ({
        name: r.name,
        status: r.status,
        ...(op === 'get' && r.status === 200 ? { value: r.value ?? null } : {}),
        ...(r.exists !== undefined ? { exists: r.exists } : {}),
        ...(r.metadata ? { metadata: r.metadata } : {}),
        ...(r.error
          ? {
              error: {
                code: r.error.code,
                message: r.error.message,
                ...(r.error.description ? { description: r.error.description } : {}),
              },
            }
          : {}),
      })),
    };
  };
  return handlers;
}
