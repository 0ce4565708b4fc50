import { createHash, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt, { type Algorithm } from 'jsonwebtoken';
import jwksRsa from 'jwks-rsa';
import { AuthorizationServerUnavailableError, InsufficientScopeError, UnauthorizedError } from '../errors.js';

/** Who is calling, as far as the token says. */
export interface Principal {
  subject?: string;
  clientId?: string;
  scopes: Set<string>;
}

/** Where the keys that verify signed (JWT) access tokens come from. */
export type KeySource =
  | { kind: 'jwks'; uri: string; cacheMaxAgeMs: number }
  | { kind: 'pem'; publicKey: string }
  | { kind: 'secret'; secret: string };

export interface JwtOptions {
  keys: KeySource;
  /** Accepted algorithms: configuration, never the token's say. */
  algorithms: Algorithm[];
  issuer?: string;
  audience?: string;
  clockToleranceSec: number;
}

export interface IntrospectionOptions {
  /** RFC 7662 endpoint and the client credentials it wants. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Longest time an answer is reused (never beyond the token's own exp). */
  cacheTtlMs: number;
  timeoutMs: number;
  /**
   * Required `iss` and `aud` of an answer that names them (JWT_ISSUER, JWT_AUDIENCE): RFC 7662 makes both
   * optional, so an answer without them is the endpoint's word alone.
   */
  issuer?: string;
  audience?: string;
}

export interface VerifierOptions {
  jwt?: JwtOptions;
  introspection?: IntrospectionOptions;
}

/** No honest access token is this long; refusing early keeps the verifier's work bounded. */
const MAX_TOKEN_LENGTH = 8192;
const MAX_CACHED_INTROSPECTIONS = 10_000;

/** Takes the token out of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw new UnauthorizedError('A bearer token is required', false);
  const match = /^Bearer +(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw new UnauthorizedError('Only bearer token authorization is supported', false);
  return match[1];
}

/** The claims of a token that has the shape of a JWT, unverified, or undefined for anything else. */
function peek(token: string): jwt.JwtPayload | undefined {
  const decoded = jwt.decode(token, { complete: true });
  return decoded && typeof decoded.payload === 'object' ? decoded.payload : undefined;
}

/** How long a verified signed token is trusted without checking its signature again. */
const VERIFIED_TTL_MS = 60_000;

/**
 * Verifies bearer tokens: signed JWTs locally (JWKS, PEM key or, for development, a shared secret) and
 * anything else through RFC 7662 introspection. When both are configured, a JWT goes to local
 * verification if it names the configured issuer (which the configuration then requires), and to
 * introspection otherwise.
 */
export class TokenVerifier {
  private readonly jwks?: jwksRsa.JwksClient;
  /** Keys parsed once: parsing a PEM on every request costs more than verifying the signature. */
  private readonly keys = new Map<string, KeyObject>();
  private readonly introspected = new Map<
    string,
    { principal?: Principal; refusal?: string; until: number }
  >();
  /** Signed tokens already verified, until they expire (at most VERIFIED_TTL_MS): a client sends the same one. */
  private readonly verified = new Map<string, { principal: Principal; until: number }>();

  constructor(private readonly options: VerifierOptions) {
    const keys = options.jwt?.keys;
    if (keys?.kind === 'jwks') {
      this.jwks = jwksRsa({
        jwksUri: keys.uri,
        cache: true,
        cacheMaxAge: keys.cacheMaxAgeMs,
        // An unknown kid refetches the key set, but a flood of made-up kids cannot hammer the server.
        rateLimit: true,
        jwksRequestsPerMinute: 10,
        timeout: 5000,
      });
    }
  }

  async verify(token: string): Promise<Principal> {
    if (token.length > MAX_TOKEN_LENGTH) throw new UnauthorizedError('The token is too large', true);
    const known = this.verified.get(token);
    if (known && known.until > Date.now()) return known.principal;
    const { jwt: jwtOptions, introspection } = this.options;
    const claims = peek(token);
    const local = jwtOptions && claims && (!introspection || claims.iss === jwtOptions.issuer);
    if (local) return this.verifyJwt(token, jwtOptions);
    if (introspection) return this.introspect(token, introspection);
    throw new UnauthorizedError('The token is not valid', true);
  }

  private async verifyJwt(token: string, options: JwtOptions): Promise<Principal> {
    let claims: jwt.JwtPayload;
    try {
      const key = await this.keyFor(token, options.keys);
      const decoded = jwt.verify(token, key, {
        algorithms: options.algorithms,
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockToleranceSec,
      });
      if (typeof decoded === 'string') throw new Error('payload is not a JSON object');
      if (decoded.exp === undefined) throw new Error('the token has no expiry');
      claims = decoded;
    } catch (error) {
      if (error instanceof AuthorizationServerUnavailableError) throw error;
      throw new UnauthorizedError(describe(error), true);
    }
    const principal = principalOf(claims);
    const expires = ((claims.exp as number) + options.clockToleranceSec) * 1000;
    if (this.verified.size >= MAX_CACHED_INTROSPECTIONS) this.verified.clear();
    this.verified.set(token, { principal, until: Math.min(expires, Date.now() + VERIFIED_TTL_MS) });
    return principal;
  }

  private parsed(pem: string, make: (pem: string) => KeyObject): KeyObject {
    let key = this.keys.get(pem);
    if (!key) {
      key = make(pem);
      if (this.keys.size > 100) this.keys.clear();
      this.keys.set(pem, key);
    }
    return key;
  }

  private async keyFor(token: string, keys: KeySource): Promise<KeyObject> {
    if (keys.kind === 'pem') return this.parsed(keys.publicKey, createPublicKey);
    if (keys.kind === 'secret') return this.parsed(keys.secret, (s) => createSecretKey(Buffer.from(s)));
    const kid = jwt.decode(token, { complete: true })?.header.kid;
    if (!kid) throw new Error('the token names no key (kid)');
    try {
      const pem = (await (this.jwks as jwksRsa.JwksClient).getSigningKey(kid)).getPublicKey();
      return this.parsed(pem, createPublicKey);
    } catch (error) {
      if (error instanceof jwksRsa.SigningKeyNotFoundError || error instanceof jwksRsa.JwksRateLimitError) {
        throw new Error('the token names an unknown key', { cause: error });
      }
      throw new AuthorizationServerUnavailableError(
        'The key set of the authorization server could not be read',
      );
    }
  }

  private async introspect(token: string, options: IntrospectionOptions): Promise<Principal> {
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.introspected.get(key);
    if (cached && cached.until > Date.now()) return accepted(cached.principal, cached.refusal);

    let answer: Record<string, unknown>;
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      if (!response.ok) throw new Error(`introspection answered ${response.status}`);
      answer = (await response.json()) as Record<string, unknown>;
    } catch {
      throw new AuthorizationServerUnavailableError('The token introspection endpoint could not be reached');
    }

    const now = Date.now();
    const exp = typeof answer.exp === 'number' ? answer.exp * 1000 : Infinity;
    const active = answer.active === true && exp > now;
    const refusal = !active ? 'The token is not active' : foreign(answer, options);
    const principal = refusal ? undefined : principalOf(answer);
    if (this.introspected.size >= MAX_CACHED_INTROSPECTIONS) {
      this.introspected.delete(this.introspected.keys().next().value as string);
    }
    this.introspected.set(key, { principal, refusal, until: Math.min(now + options.cacheTtlMs, exp) });
    return accepted(principal, refusal);
  }
}

function accepted(principal: Principal | undefined, refusal?: string): Principal {
  if (!principal) throw new UnauthorizedError(refusal ?? 'The token is not active', true);
  return principal;
}

/** Why an active introspected token is not for this service, if its answer names another issuer or audience. */
function foreign(answer: Record<string, unknown>, options: IntrospectionOptions): string | undefined {
  if (options.issuer && answer.iss !== undefined && answer.iss !== options.issuer) {
    return 'The token was issued for someone else (issuer)';
  }
  const audiences = answer.aud === undefined ? undefined : [answer.aud].flat();
  if (options.audience && audiences && !audiences.includes(options.audience)) {
    return 'The token was issued for someone else (audience)';
  }
  return undefined;
}

function describe(error: unknown): string {
  if (error instanceof jwt.TokenExpiredError) return 'The token has expired';
  if (error instanceof jwt.NotBeforeError) return 'The token is not valid yet';
  if (error instanceof Error && error.message === 'the token has no expiry') return 'The token has no expiry';
  if (error instanceof Error && error.message === 'the token names an unknown key')
    return 'The token names an unknown key';
  if (error instanceof jwt.JsonWebTokenError && /audience|issuer/.test(error.message)) {
    return `The token was issued for someone else (${error.message.replace(/\. expected.*/, '')})`;
  }
  return 'The token is not valid';
}

function principalOf(claims: Record<string, unknown>): Principal {
  return {
    subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    clientId: typeof claims.client_id === 'string' ? claims.client_id : undefined,
    scopes: scopesOf(claims),
  };
}

/** Scopes from `scope` (space-separated, RFC 8693) or `scp` (an array, as some servers issue). */
function scopesOf(claims: Record<string, unknown>): Set<string> {
  const scopes = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value === 'string')
      value
        .split(' ')
        .filter(Boolean)
        .forEach((s) => scopes.add(s));
    if (Array.isArray(value)) value.filter((s) => typeof s === 'string').forEach((s) => scopes.add(s));
  };
  add(claims.scope);
  add(claims.scp);
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
