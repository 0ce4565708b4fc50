/**
 * An error answer of the attribute registry (any status of 400 or more), with the ApiError body the service
 * sends (`{code, message, description}`) and the response headers.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** The HTTP status, e.g. 404, 409, 412. */
  readonly status: number;
  /** The `code` of the body (the service uses the status as text, e.g. `"404"`), or `HTTP_<status>`. */
  readonly code: string;
  /** The `description` of the body: usually names the parameter or field at fault. */
  readonly description?: string;
  readonly headers: Headers;
  /** The definition's current ETag, sent with 412 Precondition Failed. */
  readonly etag?: string;
  /** Seconds to wait before retrying, sent with 503 (Retry-After). */
  readonly retryAfter?: number;
  /** With 406: the LDIF that would let the directory schema hold the attribute. */
  readonly schemaChange?: string;

  constructor(status: number, body: unknown, headers: Headers, statusText = '') {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    super(typeof b.message === 'string' ? b.message : statusText || `HTTP ${status}`);
    this.status = status;
    this.code = typeof b.code === 'string' ? b.code : `HTTP_${status}`;
    if (typeof b.description === 'string') this.description = b.description;
    if (typeof b.schemaChange === 'string') this.schemaChange = b.schemaChange;
    this.headers = headers;
    const etag = headers.get('etag');
    if (etag) this.etag = etag;
    const retryAfter = Number.parseInt(headers.get('retry-after') ?? '', 10);
    if (Number.isFinite(retryAfter)) this.retryAfter = retryAfter;
  }

  /** `code message: description`, one line, for logs and command-line output. */
  override toString(): string {
    return `${this.code} ${this.message}${this.description ? `: ${this.description}` : ''}`;
  }
}
