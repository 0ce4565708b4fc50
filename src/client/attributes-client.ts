import { ApiError } from './api-error.js';
import type { components, operations } from './schema.js';

type Schemas = components['schemas'];
/** A stored definition, as the service returns it. */
export type JansAttribute = Schemas['JansAttribute'];
/** A definition as clients send it (POST, PUT). */
export type JansAttributeInput = Schemas['JansAttributeInput'];
/** One RFC 6902 operation of a PATCH. */
export type PatchOperation = Schemas['PatchOperation'];
/** One page of definitions; `entries` is left out when the page is empty. */
export type PagedResult = Schemas['PagedResult'];
export type AuditPage = Schemas['AuditPage'];
export type AuditEvent = Schemas['AuditEvent'];
export type ClaimMapping = Schemas['ClaimMapping'];
/** Definitions sharing a name or an active claim name (writes made at once through two providers). */
export type DefinitionConflict = Schemas['DefinitionConflict'];
export type AttributeUsage = Schemas['AttributeUsage'];
/** An OAuth/OpenID scope; `claims` are the DNs of the definitions whose claims it releases. */
export type Scope = Schemas['Scope'];
/** Query parameters of `get-attributes`. */
export type ListParams = NonNullable<operations['get-attributes']['parameters']['query']>;
/** Query parameters of `get-attributes-history-by-inum`. */
export type HistoryParams = NonNullable<operations['get-attributes-history-by-inum']['parameters']['query']>;

/** A value with its name, and its metadata when asked for. */
export type AttributeValue = Schemas['AttributeValue'];
export type ValueMetadata = Schemas['ValueMetadata'];
/** The body of a `_many` request, and its answer (one result per item). */
export type ValueBatch = Schemas['ValueBatch'];
export type ValueBatchResult = Schemas['ValueBatchResult'];
/** The JSON Schema (draft 2020-12) of values, as `get-attributes-schema` serves it. */
export type ValueJsonSchema = Schemas['ValueJsonSchema'];
/** When a value stops existing: seconds from now, or a date-time. */
export type Expiry = Schemas['Expiry'];

/** The values of one user or one session. */
export interface ValueAccess {
  /** `get-*-attribute-names`. */
  names(): Promise<string[]>;
  /** `get-*-attribute`. */
  get(name: string, options?: { metadata?: boolean }): Promise<AttributeValue>;
  /** `get-*-attribute-exists`. */
  exists(name: string): Promise<boolean>;
  /** `post-*-attribute`: fails with 409 when the attribute has a value. */
  create(name: string, value: unknown, expiry?: Expiry): Promise<AttributeValue>;
  /** `patch-*-attribute`: fails with 404 when it has none. */
  update(name: string, value: unknown, expiry?: Expiry): Promise<AttributeValue>;
  /** `put-*-attribute`: create or update. */
  set(name: string, value: unknown, expiry?: Expiry): Promise<AttributeValue>;
  /** `delete-*-attribute`. */
  delete(name: string): Promise<void>;
  /** `post-*-attributes-many`: one operation on several attributes, answered per item. */
  many(batch: ValueBatch): Promise<ValueBatchResult['results']>;
  /** `get-*-attribute-history`: one page of the audit events of writes to these values, newest first. */
  history(params?: HistoryParams): Promise<AuditPage>;
}

/**
 * Where the operations live, relative to the service's origin: the document's server (`/jans-config-api`)
 * and the `/api/v1` that starts each of its paths, as in Janssen's document.
 */
export const API_ROOT = '/jans-config-api/api/v1';

export interface AttributesClientOptions {
  /** The service, e.g. `http://127.0.0.1:8080`; `/jans-config-api/api/v1` is added unless already there. */
  baseUrl: string;
  /** The bearer token, or a function asked for it before every request (for tokens that expire). */
  token: string | (() => string | Promise<string>);
  /** A fetch implementation; the global fetch by default. */
  fetch?: typeof fetch;
}

/** A definition together with the strong ETag of the state it was read in. */
export interface Tagged {
  attribute: JansAttribute;
  etag: string;
}

/** The answer of a conditional read: the definition, or word that the given ETag is still current. */
export type GetResult = (Tagged & { notModified: false }) | { notModified: true; etag: string };

interface Request {
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
}

/**
 * A typed client of the attribute registry's HTTP API: one method per operation of
 * `openapi/attributes.yaml`. Error answers are thrown as {@link ApiError}; network failures as fetch's own
 * errors.
 */
export class AttributesClient {
  private readonly root: string;
  private readonly token: AttributesClientOptions['token'];
  private readonly fetch: typeof fetch;

  constructor(options: AttributesClientOptions) {
    const base = options.baseUrl.replace(/\/+$/, '');
    this.root = base.endsWith(API_ROOT) ? base : base + API_ROOT;
    this.token = options.token;
    // Looked up on each call, and never called as a method of this object.
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** `get-attributes`: one page of the definitions matching every given criterion. */
  async list(params: ListParams = {}): Promise<PagedResult> {
    return (await this.json('GET', '/attributes', { query: params })).body as PagedResult;
  }

  /**
   * Every matching definition, page by page (`get-attributes` repeated). `params.limit` is the page size
   * (the service's default when left out); `params.startIndex` where to begin.
   */
  async *listAll(params: ListParams = {}): AsyncGenerator<JansAttribute, void, undefined> {
    let start = params.startIndex ?? 0;
    for (;;) {
      const page = await this.list({ ...params, startIndex: start });
      const entries = page.entries ?? [];
      yield* entries;
      start += entries.length;
      if (entries.length === 0 || start >= page.totalEntriesCount) return;
    }
  }

  /** `get-attributes-by-inum`. With `ifNoneMatch`, answers `{ notModified: true }` while that ETag is current. */
  async get(inum: string, options: { ifNoneMatch?: string } = {}): Promise<GetResult> {
    const reply = await this.json('GET', `/attributes/${encodeURIComponent(inum)}`, {
      headers: { 'If-None-Match': options.ifNoneMatch },
    });
    if (reply.status === 304) return { notModified: true, etag: reply.etag };
    return { notModified: false, attribute: reply.body as JansAttribute, etag: reply.etag };
  }

  /**
   * `post-attributes`: creates a definition; the service assigns the inum. With `extendSchema`, the
   * directory schema is first extended to hold the attribute when it cannot yet.
   */
  async create(
    body: JansAttributeInput,
    options: { extendSchema?: boolean } = {},
  ): Promise<Tagged & { location?: string }> {
    const reply = await this.json('POST', '/attributes', {
      body,
      contentType: 'application/json',
      query: { extendSchema: options.extendSchema ? 'true' : undefined },
    });
    const location = reply.headers.get('location');
    return { attribute: reply.body as JansAttribute, etag: reply.etag, ...(location ? { location } : {}) };
  }

  /** `put-attributes`: replaces the definition named by `body.inum` whole. */
  async replace(body: JansAttributeInput, options: { ifMatch?: string } = {}): Promise<Tagged> {
    const reply = await this.json('PUT', '/attributes', {
      body,
      contentType: 'application/json',
      headers: { 'If-Match': options.ifMatch },
    });
    return { attribute: reply.body as JansAttribute, etag: reply.etag };
  }

  /** `patch-attributes-by-inum`: applies an RFC 6902 patch to the definition's JSON form. */
  async patch(
    inum: string,
    operations: PatchOperation[],
    options: { ifMatch?: string } = {},
  ): Promise<Tagged> {
    const reply = await this.json('PATCH', `/attributes/${encodeURIComponent(inum)}`, {
      body: operations,
      contentType: 'application/json-patch+json',
      headers: { 'If-Match': options.ifMatch },
    });
    return { attribute: reply.body as JansAttribute, etag: reply.etag };
  }

  /** `delete-attributes-by-inum`. With `force`, also removes the definition from the scopes that use it. */
  async delete(inum: string, options: { ifMatch?: string; force?: boolean } = {}): Promise<void> {
    await this.json('DELETE', `/attributes/${encodeURIComponent(inum)}`, {
      headers: { 'If-Match': options.ifMatch },
      query: { force: options.force ? 'true' : undefined },
    });
  }

  /** `get-attributes-conflicts`: the replication conflicts among the definitions (empty when none). */
  async conflicts(): Promise<DefinitionConflict[]> {
    return (await this.json('GET', '/attributes/conflicts', {})).body as DefinitionConflict[];
  }

  /** `get-attributes-claims`: claim name → LDAP attribute for every active definition with a claim. */
  async claims(): Promise<ClaimMapping[]> {
    return (await this.json('GET', '/attributes/claims', {})).body as ClaimMapping[];
  }

  /** `get-attributes-usage-by-inum`: the scopes that release the definition's claim. */
  async usage(inum: string): Promise<AttributeUsage> {
    return (await this.json('GET', `/attributes/${encodeURIComponent(inum)}/usage`, {}))
      .body as AttributeUsage;
  }

  /** `get-oauth-scopes`: every scope. */
  async scopes(): Promise<Scope[]> {
    return (await this.json('GET', '/scopes', {})).body as Scope[];
  }

  /** `get-oauth-scopes-by-inum`. */
  async scope(inum: string): Promise<Scope> {
    return (await this.json('GET', `/scopes/${encodeURIComponent(inum)}`, {})).body as Scope;
  }

  /** `patch-oauth-scopes-by-id`: applies an RFC 6902 patch to a scope, e.g. to add a claim. */
  async patchScope(inum: string, operations: PatchOperation[]): Promise<Scope> {
    const reply = await this.json('PATCH', `/scopes/${encodeURIComponent(inum)}`, {
      body: operations,
      contentType: 'application/json-patch+json',
    });
    return reply.body as Scope;
  }

  /** `get-oauth-scopes-history-by-inum`: one page of the scope's audit events, newest first. */
  async scopeHistory(inum: string, params: HistoryParams = {}): Promise<AuditPage> {
    const path = `/scopes/${encodeURIComponent(inum)}/history`;
    return (await this.json('GET', path, { query: params })).body as AuditPage;
  }

  /** `get-attributes-history-by-inum`: one page of the definition's audit events, newest first. */
  async history(inum: string, params: HistoryParams = {}): Promise<AuditPage> {
    const path = `/attributes/${encodeURIComponent(inum)}/history`;
    return (await this.json('GET', path, { query: params })).body as AuditPage;
  }

  /** `get-attributes-schema`: the JSON Schema of values for an audience. */
  async valueSchema(audience: 'user' | 'admin' = 'admin'): Promise<ValueJsonSchema> {
    return (await this.json('GET', '/attributes/schema', { query: { audience } })).body as ValueJsonSchema;
  }

  /** The values of a user (`inum=<userInum>,ou=people,...`). */
  userValues(userInum: string): ValueAccess {
    return this.valueAccess(`/users/${encodeURIComponent(userInum)}`);
  }

  /** The values of a login session. */
  sessionValues(sessionId: string): ValueAccess {
    return this.valueAccess(`/sessions/${encodeURIComponent(sessionId)}`);
  }

  private valueAccess(holder: string): ValueAccess {
    const base = `${holder}/attributes`;
    const at = (name: string) => `${base}/${encodeURIComponent(name)}`;
    const write = async (method: string, path: string, body: unknown) =>
      (await this.json(method, path, { body, contentType: 'application/json' })).body as AttributeValue;
    return {
      names: async () => ((await this.json('GET', base, {})).body as { names: string[] }).names,
      get: async (name, options = {}) =>
        (await this.json('GET', at(name), { query: { metadata: options.metadata ? 'true' : undefined } }))
          .body as AttributeValue,
      exists: async (name) =>
        ((await this.json('GET', `${at(name)}/exists`, {})).body as { exists: boolean }).exists,
      create: (name, value, expiry = {}) => write('POST', base, { name, value, ...expiry }),
      update: (name, value, expiry = {}) => write('PATCH', at(name), { value, ...expiry }),
      set: (name, value, expiry = {}) => write('PUT', at(name), { value, ...expiry }),
      delete: async (name) => {
        await this.json('DELETE', at(name), {});
      },
      many: async (batch) =>
        (
          (await this.json('POST', `${base}/_many`, { body: batch, contentType: 'application/json' }))
            .body as ValueBatchResult
        ).results,
      history: async (params = {}) =>
        (await this.json('GET', `${holder}/history`, { query: params })).body as AuditPage,
    };
  }

  private async json(method: string, path: string, request: Request) {
    const url = new URL(this.root + path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    for (const [key, value] of Object.entries(request.headers ?? {})) {
      if (value !== undefined) headers[key] = value;
    }
    const token = typeof this.token === 'function' ? await this.token() : this.token;
    headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['content-type'] = request.contentType ?? 'application/json';
    }
    const response = await this.fetch(url, { method, headers, body });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // An error page of a proxy, say: an ApiError still says what happened; a success must be JSON.
      if (response.ok) throw new Error(`${method} ${url.pathname}: the answer is not JSON`);
    }
    if (response.status >= 400)
      throw new ApiError(response.status, parsed, response.headers, response.statusText);
    return {
      status: response.status,
      headers: response.headers,
      etag: response.headers.get('etag') ?? '',
      body: parsed,
    };
  }
}
