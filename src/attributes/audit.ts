import fastJsonPatch, { type Operation } from 'fast-json-patch';
import type { StoredAttribute } from './definition.js';

/** Who made a request, as its token says. */
export interface Actor {
  subject?: string;
  clientId?: string;
}

/** One write to the registry, allowed or refused. */
export interface AuditEvent {
  /** Unique per event (records written before it existed have none). */
  id?: string;
  time: string;
  actor: Actor;
  /** The operationId of the request. */
  operation: string;
  inum?: string;
  name?: string;
  /** The HTTP status the request was answered with. */
  status: number;
  /** RFC 6902 patch from the definition before the change to the definition after it. */
  diff?: Operation[];
}

/** Where audit events are kept, so that they outlive the process and are shared by every instance. */
export interface AuditStore {
  append(event: AuditEvent): Promise<void>;
  /** Events about one definition, newest first, one page of them, and how many there are in all. */
  history(inum: string, startIndex: number, limit: number): Promise<{ total: number; events: AuditEvent[] }>;
}

/** The change between two states of a definition as a JSON Patch (absent states count as empty). */
export function diffOf(before: StoredAttribute | undefined, after: StoredAttribute | undefined): Operation[] {
  return fastJsonPatch.compare(before?.definition ?? {}, after?.definition ?? {});
}
