import { createHmac, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { SCOPE, call, startTestApp, type TestApp, useTestApp, useTestDirectory } from './harness.js';

const ISSUER = 'https://as.test';
const AUDIENCE = 'attribute-registry';
const now = () => Math.floor(Date.now() / 1000);
/** Waits for a moment on the clock: a cache entry expiring is a time, not an event to await. */
const until = (ms: number) => new Promise((done) => setTimeout(done, Math.max(0, ms - Date.now()) + 5));
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'PS256' | 'ES256';
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function newKey(alg: SigningKey['alg']): SigningKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: randomUUID(), alg, ...pair };
}

/** A loopback authorization server: a JWKS with keys that can rotate, and an introspection endpoint. */
class AuthorizationServer {
  keys: SigningKey[] = [newKey('RS256'), newKey('PS256'), newKey('ES256')];
  jwksFetches = 0;
  introspections = 0;
  down = false;
  readonly opaque = new Map<string, Record<string, unknown>>();
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      if (this.down) {
        res.statusCode = 503;
        res.end();
        return;
      }
      if (req.url === '/jwks') {
        this.jwksFetches++;
        const keys = this.keys.map((k) => ({
          ...k.publicKey.export({ format: 'jwk' }),
          kid: k.kid,
          alg: k.alg,
          use: 'sig',
        }));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys }));
        return;
      }
      if (req.url === '/introspect' && req.method === 'POST') {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          this.introspections++;
          const expected = `Basic ${Buffer.from('registry:client-secret').toString('base64')}`;
          if (req.headers.authorization !== expected) {
            res.statusCode = 401;
            res.end();
            return;
          }
          const token = new URLSearchParams(body).get('token') ?? '';
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(this.opaque.get(token) ?? { active: false }));
        });
        return;
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((done) => this.server?.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((done) => this.server?.close(done));
  }

  sign(
    claims: Record<string, unknown>,
    key = this.keys[0] as SigningKey,
    options: jwt.SignOptions = {},
  ): string {
    return jwt.sign(
      { iss: ISSUER, aud: AUDIENCE, exp: now() + 300, sub: 'alice', client_id: 'admin-ui', ...claims },
      key.privateKey,
      {
        algorithm: key.alg,
        keyid: key.kid,
        ...options,
      },
    );
  }

  /** An opaque reference token, known only to this server. */
  issueOpaque(claims: Record<string, unknown>): string {
    const token = randomUUID().replace(/-/g, '');
    this.opaque.set(token, { active: true, exp: now() + 300, sub: 'bob', client_id: 'script', ...claims });
    return token;
  }
}

describe('bearer tokens as real deployments issue them (JWKS and introspection)', () => {
  const { directory, startApp, cleanup } = useTestDirectory();
  let as: AuthorizationServer;
  let app: TestApp;
  let env: Record<string, string>;
  const read = { scope: SCOPE.read };

  before(async () => {
    as = new AuthorizationServer();
    cleanup(() => as.stop());
    const base = await as.start();
    env = {
      JWT_PUBLIC_KEY_FILE: '',
      JWT_JWKS_URI: `${base}/jwks`,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      INTROSPECTION_URL: `${base}/introspect`,
      INTROSPECTION_CLIENT_ID: 'registry',
      INTROSPECTION_CLIENT_SECRET: 'client-secret',
      INTROSPECTION_CACHE_TTL_S: '60',
    };
    app = await startApp(env);
  });

  const get = (token: string | undefined, headers: Record<string, string> = {}) =>
    call(app, 'GET', '/attributes/08E2', { token, headers });
  const refusedWith = async (token: string, why: RegExp) => {
    const reply = await get(token);
    expect(reply.status).to.equal(401);
    expect(reply.headers.get('www-authenticate')).to.match(
      /^Bearer error="invalid_token", error_description="/,
    );
    expect(reply.body.description).to.match(why);
  };

  it('accepts JWTs signed with RS256, PS256 and ES256 keys from the JWKS', async () => {
    for (const key of as.keys) {
      expect((await get(as.sign(read, key))).status, key.alg).to.equal(200);
    }
  });

  it('answers 401 without a token, or with another scheme', async () => {
    const none = await get(undefined);
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.equal('Bearer');
    expect((await get(undefined, { authorization: 'Basic YWxpY2U6c2VjcmV0' })).status).to.equal(401);
  });

  it('refuses malformed, unsigned and key-confused tokens', async () => {
    const token = as.sign(read);
    const [header, payload] = token.split('.');
    await refusedWith(`${header}.${payload}`, /not valid|not active/);
    await refusedWith(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, /not valid|unknown key/);
    const rsa = as.keys[0] as SigningKey;
    const hsHeader = b64({ alg: 'HS256', typ: 'JWT', kid: rsa.kid });
    const pemAsSecret = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const forged = `${hsHeader}.${payload}.${createHmac('sha256', pemAsSecret).update(`${hsHeader}.${payload}`).digest('base64url')}`;
    await refusedWith(forged, /not valid/);
  });

  it('picks up a key rotated in mid-run', async () => {
    const rotated = newKey('RS256');
    as.keys = [rotated, ...as.keys.slice(1)];
    expect((await get(as.sign(read, rotated))).status).to.equal(200);
  });

  it('checks exp, nbf, iss and aud', async () => {
    await refusedWith(as.sign({ ...read, exp: now() - 120 }), /expired/);
    await refusedWith(as.sign({ ...read, nbf: now() + 300 }), /not valid yet/);
    await refusedWith(as.sign({ ...read, aud: 'someone-else' }), /issued for someone else/);
    // A JWT from another issuer is not ours to verify; the introspection endpoint does not know it either.
    await refusedWith(as.sign({ ...read, iss: 'https://evil.test' }), /not active/);
  });

  it('answers a valid token without a fitting scope with 403, naming the scopes that would do', async () => {
    const reply = await get(as.sign({ scope: SCOPE.delete }));
    expect(reply.status).to.equal(403);
    expect(reply.headers.get('www-authenticate')).to.contain('error="insufficient_scope"');
    expect(reply.headers.get('www-authenticate')).to.contain(SCOPE.readAll);
  });

  it('reads scopes from scp when there is no scope claim', async () => {
    expect((await get(as.sign({ scp: [SCOPE.readAll] }))).status).to.equal(200);
  });

  it('refuses a token far over a sane size with 401', async () => {
    await refusedWith(as.sign({ ...read, padding: 'x'.repeat(9_000) }), /too large/);
    // Beyond Node's 16 kB header limit the HTTP server itself refuses the request, before any code runs.
    const huge = as.sign({ ...read, padding: 'x'.repeat(20_000) });
    const reply = await fetch(`${app.service.url}/jans-config-api/api/v1/attributes`, {
      headers: { authorization: `Bearer ${huge}` },
    });
    expect(reply.status).to.equal(431);
  });

  it('accepts an active opaque token through introspection, and caches the answer', async () => {
    const token = as.issueOpaque({ scope: `${SCOPE.read} ${SCOPE.write}` });
    const before = as.introspections;
    for (let i = 0; i < 5; i++) expect((await get(token)).status).to.equal(200);
    expect(as.introspections - before).to.equal(1);
  });

  it('reuses an introspection answer until the token expires, when that comes before the cache TTL', async () => {
    const exp = now() + 2;
    const token = as.issueOpaque({ scope: SCOPE.read, exp });
    const before = as.introspections;
    expect((await get(token)).status).to.equal(200);
    expect((await get(token)).status).to.equal(200);
    expect(as.introspections - before).to.equal(1);
    await until(exp * 1000);
    // Asked again, not answered from the cache: the token has expired.
    await refusedWith(token, /not active/);
    expect(as.introspections - before).to.equal(2);
  });

  it('reuses an introspection answer for INTROSPECTION_CACHE_TTL_S, when that comes before the token expires', async () => {
    const short = await startTestApp(directory.slapd, { ...env, INTROSPECTION_CACHE_TTL_S: '1' });
    try {
      const token = as.issueOpaque({ scope: SCOPE.read, exp: now() + 300 });
      const getShort = () => call(short, 'GET', '/attributes/08E2', { token });
      const before = as.introspections;
      expect((await getShort()).status).to.equal(200);
      const cachedAtMost = Date.now() + 1000;
      expect((await getShort()).status).to.equal(200);
      expect(as.introspections - before).to.equal(1);
      await until(cachedAtMost);
      expect((await getShort()).status).to.equal(200);
      expect(as.introspections - before).to.equal(2);
    } finally {
      await short.stop();
    }
  });

  it('answers an inactive opaque token with 401', async () => {
    await refusedWith('definitely-not-a-known-token', /not active/);
    const expired = as.issueOpaque({ scope: SCOPE.read, exp: now() - 10 });
    await refusedWith(expired, /not active/);
  });

  it('refuses an introspected token whose answer names another issuer or audience, and caches the refusal', async () => {
    await refusedWith(
      as.issueOpaque({ scope: SCOPE.read, iss: 'https://other.test' }),
      /someone else \(issuer\)/,
    );
    const elsewhere = as.issueOpaque({ scope: SCOPE.read, iss: ISSUER, aud: ['other-api'] });
    const before = as.introspections;
    await refusedWith(elsewhere, /someone else \(audience\)/);
    await refusedWith(elsewhere, /someone else \(audience\)/);
    expect(as.introspections - before).to.equal(1);
    // The right issuer and an audience list that holds this service; and an answer that names neither.
    expect(
      (await get(as.issueOpaque({ scope: SCOPE.read, iss: ISSUER, aud: ['other-api', AUDIENCE] }))).status,
    ).to.equal(200);
    expect((await get(as.issueOpaque({ scope: SCOPE.read, aud: AUDIENCE }))).status).to.equal(200);
    expect((await get(as.issueOpaque({ scope: SCOPE.read }))).status).to.equal(200);
  });

  it('answers 503, not 401, while the introspection endpoint is down', async () => {
    as.down = true;
    try {
      const reply = await get(as.issueOpaque({ scope: SCOPE.read }));
      expect(reply.status).to.equal(503);
      expect(reply.headers.get('retry-after')).to.match(/^\d+$/);
    } finally {
      as.down = false;
    }
  });

  it('serves a JWKS token and an opaque token side by side, with no change of configuration', async () => {
    expect((await get(as.sign(read))).status).to.equal(200);
    expect((await get(as.issueOpaque({ scope: SCOPE.read }))).status).to.equal(200);
  });
  it('answers 503, not 401, while the key set cannot be fetched, and keeps the keys it has', async () => {
    // A key the authorization server starts signing with while its key set cannot be read.
    const fresh = newKey('RS256');
    as.keys = [...as.keys, fresh];
    const token = as.sign(read, fresh);
    as.down = true;
    try {
      const reply = await get(token);
      expect(reply.status).to.equal(503);
      expect(reply.headers.get('retry-after')).to.match(/^\d+$/);
      // Keys fetched before still verify new tokens.
      expect((await get(as.sign({ ...read, jti: randomUUID() }, as.keys[1]))).status).to.equal(200);
    } finally {
      as.down = false;
    }
    expect((await get(token)).status).to.equal(200);
  });

  // Last among the JWT tests: the flood uses up the refetch budget for a minute.
  it('refuses an unknown kid, and does not refetch the key set for every made-up kid', async () => {
    const stranger = newKey('RS256');
    const fetchesBefore = as.jwksFetches;
    for (let i = 0; i < 30; i++) {
      await refusedWith(as.sign(read, { ...stranger, kid: randomUUID() }), /unknown key/);
    }
    expect(as.jwksFetches - fetchesBefore).to.be.at.most(10);
  });
});

describe('bearer tokens with a shared development secret (HS256)', () => {
  const secret = 'a-development-secret-of-at-least-32-chars';
  const { app } = useTestApp({ env: { JWT_PUBLIC_KEY_FILE: '', JWT_SECRET: secret } });

  it('accepts tokens signed with the secret, and nothing else', async () => {
    const claims = { scope: SCOPE.read, exp: now() + 60 };
    const good = jwt.sign(claims, secret, { algorithm: 'HS256' });
    expect((await call(app, 'GET', '/attributes/08E2', { token: good })).status).to.equal(200);
    const otherSecret = jwt.sign(claims, `${secret}-not`, { algorithm: 'HS256' });
    expect((await call(app, 'GET', '/attributes/08E2', { token: otherSecret })).status).to.equal(401);
    // The RS256 key of the test issuer is not trusted in this mode.
    expect((await call(app, 'GET', '/attributes/08E2', { token: app.adminToken })).status).to.equal(401);
  });
});
