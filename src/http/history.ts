import { auditTarget, type AuditStore, type AuditSubject } from '../attributes/audit.js';
import { parsePaging, type ListParams } from '../attributes/query.js';
import { page } from './responses.js';
import type { Handler } from './state.js';

/** The handlers of the audit histories (of a definition, a scope, a user's or a session's values). */
export function historyHandlers(audit: AuditStore, maxPageSize: number): Record<string, Handler> {
  /** One page of the audit events about what the path names, newest first. */
  const history =
    (about: (params: Record<string, string>) => AuditSubject): Handler =>
    async ({ params, query }, ctx) => {
      const { limit, startIndex } = parsePaging(query as ListParams, maxPageSize);
      const { total, events } = await audit.history(auditTarget(about(params)) ?? '', startIndex, limit);
      ctx.body = page(startIndex, total, events);
    };
  return {
    'get-attributes-history-by-inum': history((p) => ({ inum: String(p.inum) })),
    'get-oauth-scopes-history-by-inum': history((p) => ({ scope: String(p.inum) })),
    'get-user-attribute-history': history((p) => ({ holder: { kind: 'user', id: String(p.userInum) } })),
    'get-session-attribute-history': history((p) => ({
      holder: { kind: 'session', id: String(p.sessionId) },
    })),
  };
}
