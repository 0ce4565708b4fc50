import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { diffOf, type Actor, type AuditEvent, type AuditStore } from '../attributes/audit.js';
import type { Principal } from '../auth/bearer.js';
import type { Change } from '../attributes/service.js';
import type { Api } from './api.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Text from a request, as far as it is fit to keep in a record. */
function clip(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value.slice(0, 256) : undefined;
}

/** Counts audit events that could not be stored; they are still in the log. */
export const auditFailures = { count: 0 };

/**
 * Records every write operation of the API, allowed or refused, once its answer is known: as a JSON line
 * in the log and as an entry in the directory. Requests without a valid token (401) are not recorded:
 * there is no one to record, and anyone could fill the trail with them. Failing to store an event never
 * fails the request; it is logged loudly and counted.
 *
 * A write refused before it reached the API (its body too large, not JSON or nested too deeply) has no
 * operation or caller yet; `identify` works them out from the method, path and token afterwards.
 */
export function auditWrites(store: AuditStore, log: Logger, identify: Api['identify']): Koa.Middleware {
  return async (ctx, next) => {
    await next();
    if (!WRITES.has(ctx.method) || ctx.status === 401) return;
    // The trail is of definitions; value writes (users, sessions) are not recorded in it.
    if (!/\/api\/v1\/attributes(\/|$)/.test(ctx.path)) return;
    if (!ctx.state.operationId && ctx.status >= 400) {
      const known = await identify(ctx);
      // Also names the operation in the request's log line and metrics.
      if (known) Object.assign(ctx.state, known);
    }
    const operation = ctx.state.operationId as string | undefined;
    const principal = ctx.state.principal as Principal | undefined;
    if (!operation || !principal) return;

    const change = ctx.state.change as Change | undefined;
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const definition = change?.after?.definition ?? change?.before?.definition;
    const pathInum = /\/attributes\/([^/]+)$/.exec(ctx.path)?.[1];
    const actor: Actor = { subject: principal.subject, clientId: principal.clientId };
    const event: AuditEvent = {
      id: randomUUID(),
      time: new Date().toISOString(),
      actor,
      operation,
      inum: definition?.inum ?? clip(pathInum && decodeURIComponent(pathInum)) ?? clip(body.inum),
      name: definition?.name ?? clip(body.name),
      status: ctx.status,
      ...(change ? { diff: diffOf(change.before, change.after) } : {}),
    };
    log.info({ audit: event }, 'audit');
    try {
      await store.append(event);
    } catch (error) {
      auditFailures.count++;
      log.error({ err: error, audit: event, failures: auditFailures.count }, 'AUDIT EVENT NOT STORED');
    }
  };
}
