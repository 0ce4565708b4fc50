import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { diffOf, type AuditEvent, type AuditStore } from '../attributes/audit.js';
import type { Middleware, WriteOutcome } from './state.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Most attribute names one event of a batch value write keeps (a batch may name far more). */
const MAX_NAMES = 100;

/** Text from a request, as far as it is fit to keep in a record. */
function clip(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value.slice(0, 256) : undefined;
}

/** Counts audit events that could not be stored; they are still in the log. */
export const auditFailures = { count: 0 };

type About = Omit<AuditEvent, 'id' | 'time' | 'actor' | 'operation' | 'status'>;

interface Request {
  operation: string;
  params: Record<string, string>;
  body: Record<string, unknown>;
  outcome?: WriteOutcome;
  status: number;
}

/** A write of a user's or a session's values: whose, and which attributes (never the values). */
function valueWrite({ operation, params, body, outcome, status }: Request): About | undefined {
  const holder =
    params.userInum !== undefined
      ? { kind: 'user' as const, id: clip(params.userInum) ?? '' }
      : { kind: 'session' as const, id: clip(params.sessionId) ?? '' };
  const named = (names: unknown[]) =>
    names
      .map(clip)
      .filter((name): name is string => name !== undefined)
      .map((name) => ({ name, status }));
  if (!operation.endsWith('-many')) return { holder, attributes: named([params.name ?? body.name]) };
  // A batch: a read (`get`, `exists`) is not a write; a batch that ran has an outcome per attribute.
  if (body.op === 'get' || body.op === 'exists') return undefined;
  const results = outcome?.kind === 'values' ? outcome.results : undefined;
  const items: unknown[] = Array.isArray(body.items) ? body.items : [];
  const attributes = results ?? named(items.map((i) => (i as Record<string, unknown> | null)?.name));
  return { holder, attributes: attributes.slice(0, MAX_NAMES) };
}

/** A write of a scope: which, and the change to it. */
function scopeWrite({ params, outcome }: Request): About {
  const change = outcome?.kind === 'scope' ? outcome.change : undefined;
  return { scope: clip(params.inum), ...(change ? { diff: diffOf(change.before, change.after) } : {}) };
}

/** A write of a definition: which, and the change to it. */
function definitionWrite({ params, body, outcome }: Request): About {
  const change = outcome?.kind === 'definition' ? outcome.change : undefined;
  const definition = change?.after?.definition ?? change?.before?.definition;
  return {
    inum: definition?.inum ?? clip(params.inum) ?? clip(body.inum),
    name: definition?.name ?? clip(body.name),
    ...(change ? { diff: diffOf(change.before?.definition, change.after?.definition) } : {}),
  };
}

/**
 * Records every write operation of the API, allowed or refused, once its answer is known: as a JSON line
 * in the log and as an entry in the directory. Definition and scope writes carry the change as a patch;
 * value writes name the holder and the attributes, never a value (it may be a secret). Requests without a
 * valid token (401) are not recorded: there is no one to record, and anyone could fill the trail with
 * them. Failing to store an event never fails the request; it is logged loudly and counted.
 *
 * The operation and the caller are known before the body is read, so a write refused for its body (too
 * large, not JSON, nested too deeply) is recorded too.
 */
export function auditWrites(store: AuditStore, log: Logger): Middleware {
  return async (ctx, next) => {
    await next();
    const { routed, principal, outcome } = ctx.state;
    if (!WRITES.has(ctx.method) || ctx.status === 401 || !routed || !principal) return;
    const operation = routed.route.operationId;
    const { params } = routed;
    const body = ctx.request.body;
    const request: Request = {
      operation,
      params,
      body: typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {},
      outcome,
      status: ctx.status,
    };
    const about =
      params.userInum !== undefined || params.sessionId !== undefined
        ? valueWrite(request)
        : operation.includes('scopes')
          ? scopeWrite(request)
          : definitionWrite(request);
    if (!about) return;
    // A forced delete also changed scopes: each gets an event of its own, for its history.
    const scopes = outcome?.kind === 'definition' ? (outcome.change.scopes ?? []) : [];
    const changedScopes = scopes.map((s) => ({ scope: s.after.inum, diff: diffOf(s.before, s.after) }));
    const time = new Date().toISOString();
    const actor = { subject: principal.subject, clientId: principal.clientId };
    const events = [about, ...changedScopes].map(({ diff, ...what }): AuditEvent => ({
      id: randomUUID(),
      time,
      actor,
      operation,
      ...what,
      status: ctx.status,
      ...(diff ? { diff } : {}),
    }));
    await Promise.all(
      events.map(async (event) => {
        log.info({ audit: event }, 'audit');
        try {
          await store.append(event);
        } catch (error) {
          auditFailures.count++;
          log.error({ err: error, audit: event, failures: auditFailures.count }, 'AUDIT EVENT NOT STORED');
        }
      }),
    );
  };
}
