import fastJsonPatch, { type Operation } from 'fast-json-patch';

/** Who made a request, as its token says. */
export interface Actor {
  subject?: string;
  clientId?: string;
}

/** One write through the API, allowed or refused. */
export interface AuditEvent {
  /** Unique per event (records written before it existed have none). */
  id?: string;
  time: string;
  actor: Actor;
  /** The operationId of the request. */
  operation: string;
  /** The attribute definition a definition write was about. */
  inum?: string;
  name?: string;
  /** The inum of the scope a scope write was about. */
  scope?: string;
  /** The user or session whose attribute values a value write was about. */
  holder?: { kind: 'user' | 'session'; id: string };
  /** The attributes a value write named, each with its outcome; never their values. */
  attributes?: { name: string; status: number }[];
  /** The HTTP status the request was answered with. */
  status: number;
  /** RFC 6902 patch from the definition or scope before the change to after it. */
  diff?: Operation[];
}

/** Where audit events are kept, so that they outlive the process and are shared by every instance. */
export interface AuditStore {
  append(event: AuditEvent): Promise<void>;
  /** Events about one target (see `auditTarget`), newest first, one page of them, and how many in all. */
  history(
    target: string,
    startIndex: number,
    limit: number,
  ): Promise<{ total: number; events: AuditEvent[] }>;
}

/** What an event is about: a definition, a scope or a holder of values. */
export type AuditSubject = Pick<AuditEvent, 'inum' | 'scope' | 'holder'>;

/**
 * What an event is found by: a definition's inum as it is, `scope:<inum>`, `user:<inum>` or
 * `session:<id>`. An inum has no colon; a refused request's path may have given one, which is not used.
 */
export function auditTarget(event: AuditSubject): string | undefined {
  if (event.holder) return `${event.holder.kind}:${event.holder.id}`;
  if (event.scope !== undefined) return `scope:${event.scope}`;
  return event.inum?.includes(':') ? undefined : event.inum;
}

/** The change between two states of a definition or scope as a JSON Patch (absent states count as empty). */
export function diffOf(before: object | undefined, after: object | undefined): Operation[] {
  return fastJsonPatch.compare(before ?? {}, after ?? {});
}
