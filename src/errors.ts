/**
 * The one error hierarchy of the service. Domain and adapters throw these; the HTTP edge turns them into
 * ApiError bodies (`{code, message, description?}`). `expose` is false for 5xx: their text stays in the log.
 */
export class AppError extends Error {
  readonly expose: boolean;

  constructor(
    readonly status: number,
    message: string,
    readonly description?: string,
    readonly headers: Record<string, string> = {},
    readonly code: string = String(status),
  ) {
    super(message);
    this.name = new.target.name;
    this.expose = status < 500;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, description?: string) {
    super(400, message, description);
  }
}

export class NotFoundError extends AppError {
  constructor(what = 'jans attribute') {
    super(404, `The requested ${what} doesn't exist`);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, description?: string) {
    super(409, message, description);
  }
}

/**
 * The directory schema cannot hold what was asked (Janssen answers 406 here). `schemaChange` is the LDIF
 * that would make room for it, when the service can work it out.
 */
export class NotInSchemaError extends AppError {
  constructor(
    message: string,
    description: string,
    readonly schemaChange?: string,
  ) {
    super(406, message, description);
  }
}

/** A schema change was asked for, but the service may not or cannot make it. */
export class SchemaChangeRefusedError extends AppError {
  constructor(description: string) {
    super(409, 'The directory schema was not changed', description);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(expected: string[]) {
    super(415, 'Unsupported content type', `This operation takes ${expected.join(' or ')}.`);
  }
}

/** RFC 6750 401: no token, or one that is not valid. */
export class UnauthorizedError extends AppError {
  constructor(description: string, tokenPresent: boolean) {
    const challenge = tokenPresent
      ? `Bearer error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"`
      : 'Bearer';
    super(401, 'Unauthorized', description, { 'WWW-Authenticate': challenge });
  }
}

/** RFC 6750 403: a valid token without any scope that would do. */
export class InsufficientScopeError extends AppError {
  constructor(acceptable: string[]) {
    super(403, 'Insufficient scope', `This operation needs one of the scopes: ${acceptable.join(' ')}`, {
      'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${acceptable.join(' ')}"`,
    });
  }
}

/** The caller is known but may not do this (not its own user or session, or the definition forbids it). */
export class ForbiddenError extends AppError {
  constructor(description: string) {
    super(403, 'Forbidden', description);
  }
}

/** If-Match named a state the definition is no longer in. Carries the current ETag. */
export class PreconditionFailedError extends AppError {
  constructor(currentEtag?: string) {
    super(
      412,
      'Precondition failed',
      'The definition has changed since the ETag given in If-Match; read it again and retry.',
      currentEtag ? { ETag: currentEtag } : {},
    );
  }
}

/** The definition changed between reading and writing it (the directory's assertion failed). */
export class ConcurrentChangeError extends AppError {
  constructor() {
    super(409, 'Concurrent change', 'The definition kept changing while this request was applied; retry it.');
  }
}

/** The authorization server (key set or introspection) cannot be reached: not the caller's fault. */
export class AuthorizationServerUnavailableError extends AppError {
  constructor(message: string) {
    super(503, message, 'The token could not be checked; retry shortly.', { 'Retry-After': '5' });
  }
}

/** The directory is down, slow or refusing work: the client should retry. */
export class DirectoryUnavailableError extends AppError {
  constructor(cause?: unknown) {
    super(503, 'The directory is unavailable', 'Retry the request shortly.', { 'Retry-After': '2' });
    this.cause = cause;
  }
}
