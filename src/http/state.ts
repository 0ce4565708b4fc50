import type Koa from 'koa';
import type { Scope } from '../attributes/scopes.js';
import type { Change } from '../attributes/service.js';
import type { Principal } from '../auth/bearer.js';
import type { Route, Routed } from './router.js';

/** What a write did, as the audit trail records it. */
export type WriteOutcome =
  | { kind: 'definition'; change: Change }
  | { kind: 'scope'; change: { before: Scope; after: Scope } }
  | { kind: 'values'; results: { name: string; status: number }[] };

/** What the middleware learn about a request, each part set once by the one that works it out. */
export interface RequestState {
  /** The caller's sane X-Request-Id, or a new one. */
  requestId: string;
  /** The operation and path parameters of a request below the API root (routed before its body is read). */
  routed?: Routed;
  /** The caller, once its token is verified (operations that need one). */
  principal?: Principal;
  /** The error the request was answered with. */
  error?: unknown;
  /** What a write changed, for the audit trail. */
  outcome?: WriteOutcome;
}

export type Ctx = Koa.ParameterizedContext<RequestState>;
export type Middleware = Koa.Middleware<RequestState>;

/** A routed request as a handler sees it: validated parameters and body. */
export interface ApiRequest {
  route: Route;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
}

/** One operation's handler. */
export type Handler = (request: ApiRequest, ctx: Ctx) => Promise<void>;
