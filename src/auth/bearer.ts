import jwt, { type Algorithm } from 'jsonwebtoken';
import { InsufficientScopeError, UnauthorizedError } from '../errors.js';

/** Who is calling, as far as the token says. */
export interface Principal {
  subject?: string;
  clientId?: string;
  scopes: Set<string>;
}

export interface VerifierOptions {
  publicKey: string;
  algorithms: Algorithm[];
  issuer?: string;
  audience?: string;
}

/** No honest access token is this long; refusing early keeps the verifier's work bounded. */
const MAX_TOKEN_LENGTH = 8192;

/** Takes the token out of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw new UnauthorizedError('A bearer token is required', false);
  const match = /^Bearer +(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw new UnauthorizedError('Only bearer token authorization is supported', false);
  return match[1];
}

/** Verifies signed JWT access tokens against one public key, with a fixed list of algorithms. */
export class TokenVerifier {
  constructor(private readonly options: VerifierOptions) {}

  verify(token: string): Principal {
    if (token.length > MAX_TOKEN_LENGTH) throw new UnauthorizedError('The token is too large', true);
    let claims: jwt.JwtPayload;
    try {
      const decoded = jwt.verify(token, this.options.publicKey, {
        algorithms: this.options.algorithms,
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: 30,
      });
      if (typeof decoded === 'string') throw new Error('payload is not a JSON object');
      if (decoded.exp === undefined) throw new Error('the token has no expiry');
      claims = decoded;
    } catch (error) {
      throw new UnauthorizedError(describe(error), true);
    }
    return {
      subject: typeof claims.sub === 'string' ? claims.sub : undefined,
      clientId: typeof claims.client_id === 'string' ? claims.client_id : undefined,
      scopes: scopesOf(claims),
    };
  }
}

function describe(error: unknown): string {
  if (error instanceof jwt.TokenExpiredError) return 'The token has expired';
  if (error instanceof jwt.NotBeforeError) return 'The token is not valid yet';
  if (error instanceof Error && error.message === 'the token has no expiry') return 'The token has no expiry';
  if (error instanceof jwt.JsonWebTokenError && /audience|issuer/.test(error.message)) {
    return `The token was issued for someone else (${error.message.replace(/\. expected.*/, '')})`;
  }
  return 'The token is not valid';
}

/** Scopes from `scope` (space-separated, RFC 8693) or `scp` (an array, as some servers issue). */
function scopesOf(claims: jwt.JwtPayload): Set<string> {
  const scopes = new Set<string>();
  if (typeof claims.scope === 'string')
    claims.scope
      .split(' ')
      .filter(Boolean)
      .forEach((s) => scopes.add(s));
  if (Array.isArray(claims.scp))
    claims.scp.filter((s) => typeof s === 'string').forEach((s) => scopes.add(s));
  if (typeof claims.scp === 'string')
    claims.scp
      .split(' ')
      .filter(Boolean)
      .forEach((s) => scopes.add(s));
  return scopes;
}

/**
 * Passes when the principal holds every scope of at least one of the alternatives (the operation's
 * security requirements in the OpenAPI document); otherwise names the scopes that would do.
 */
export function requireScopes(principal: Principal, alternatives: string[][]): void {
  if (alternatives.some((scopes) => scopes.every((s) => principal.scopes.has(s)))) return;
  throw new InsufficientScopeError([...new Set(alternatives.flat())]);
}
