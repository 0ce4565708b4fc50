import { createHmac, generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import {
  TokenVerifier,
  bearerToken,
  requireScopes,
  type JwtOptions,
  type Principal,
} from '../../../src/auth/bearer.js';
import { InsufficientScopeError, UnauthorizedError } from '../../../src/errors.js';
import { caught, rejected } from '../helpers.js';

const pem = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
const keys = pem();
const otherKeys = pem();
const now = () => Math.floor(Date.now() / 1000);
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const sign = (claims: Record<string, unknown>, privateKey = keys.privateKey) =>
  jwt.sign({ exp: now() + 300, ...claims }, privateKey, { algorithm: 'RS256' });
const verifier = (options: Partial<JwtOptions> = {}) =>
  new TokenVerifier({
    jwt: {
      keys: { kind: 'pem', publicKey: keys.publicKey },
      algorithms: ['RS256'],
      clockToleranceSec: 30,
      ...options,
    },
  });
const refusal = (token: string, options: Partial<JwtOptions> = {}) =>
  rejected(verifier(options).verify(token), UnauthorizedError);

describe('bearerToken', () => {
  it('takes the token from a Bearer header, in any case of the scheme', () => {
    expect(bearerToken('Bearer abc.def.ghi')).to.equal('abc.def.ghi');
    expect(bearerToken('bearer   abc.def.ghi  ')).to.equal('abc.def.ghi');
  });

  it('answers 401 with a bare Bearer challenge when there is no token', () => {
    for (const header of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b']) {
      const error = caught(() => bearerToken(header), UnauthorizedError);
      expect(error.status, String(header)).to.equal(401);
      expect(error.headers['WWW-Authenticate'], String(header)).to.equal('Bearer');
    }
  });
});

describe('TokenVerifier', async () => {
  it('accepts a valid token and reads subject, client and scopes', async () => {
    const principal = await verifier().verify(
      sign({
        sub: 'admin',
        client_id: 'cli',
        scope: 'https://jans.io/oauth/config/attributes.readonly  openid',
      }),
    );
    expect(principal.subject).to.equal('admin');
    expect(principal.clientId).to.equal('cli');
    expect([...principal.scopes]).to.deep.equal([
      'https://jans.io/oauth/config/attributes.readonly',
      'openid',
    ]);
  });

  it('reads scopes from an scp array or string too', async () => {
    expect([...(await verifier().verify(sign({ scp: ['a', 'b', 7] }))).scopes]).to.deep.equal(['a', 'b']);
    expect([...(await verifier().verify(sign({ scp: 'c d' }))).scopes]).to.deep.equal(['c', 'd']);
    expect((await verifier().verify(sign({}))).scopes.size).to.equal(0);
  });

  it('answers 401 invalid_token, saying why, for an expired token', async () => {
    const error = await refusal(sign({ exp: now() - 120 }));
    expect(error.description).to.equal('The token has expired');
    expect(error.headers['WWW-Authenticate']).to.equal(
      'Bearer error="invalid_token", error_description="The token has expired"',
    );
  });

  it('allows 30 seconds of clock skew', async () => {
    expect((await verifier().verify(sign({ exp: now() - 5 }))).scopes.size).to.equal(0);
  });

  it('refuses a token that is not valid yet', async () => {
    expect((await refusal(sign({ nbf: now() + 300 }))).description).to.equal('The token is not valid yet');
  });

  it('refuses a token without expiry', async () => {
    const token = jwt.sign({ sub: 'admin' }, keys.privateKey, { algorithm: 'RS256' });
    expect((await refusal(token)).description).to.equal('The token has no expiry');
  });

  it('refuses a token signed with another key', async () => {
    expect((await refusal(sign({}, otherKeys.privateKey))).description).to.equal('The token is not valid');
  });

  it('refuses an unsigned token (alg none)', async () => {
    const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'admin', exp: now() + 300 })}.`;
    expect((await refusal(token)).description).to.equal('The token is not valid');
  });

  it('refuses an HS256 token signed with the public key as the secret', async () => {
    const content = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub: 'admin', exp: now() + 300, scope: 'x' })}`;
    const signature = createHmac('sha256', keys.publicKey).update(content).digest('base64url');
    expect((await refusal(`${content}.${signature}`)).description).to.equal('The token is not valid');
    // Even a verifier misconfigured to list HS256 must not take an RSA public key as an HMAC secret.
    expect((await refusal(`${content}.${signature}`, { algorithms: ['RS256', 'HS256'] })).status).to.equal(
      401,
    );
  });

  it('checks issuer and audience when configured', async () => {
    const options = { issuer: 'https://jans.example', audience: 'registry' };
    const principal = await verifier(options).verify(sign({ iss: 'https://jans.example', aud: 'registry' }));
    expect(principal.scopes.size).to.equal(0);
    expect(
      (await refusal(sign({ iss: 'https://evil.example', aud: 'registry' }), options)).description,
    ).to.contain('issued for someone else');
    expect(
      (await refusal(sign({ iss: 'https://jans.example', aud: 'other' }), options)).description,
    ).to.contain('issued for someone else');
  });

  it('refuses an oversized token before verifying it', async () => {
    const big = sign({ padding: 'x'.repeat(9000) });
    expect((await refusal(big)).description).to.equal('The token is too large');
  });

  it('refuses text that is not a JWT', async () => {
    expect((await refusal('not-a-jwt')).description).to.equal('The token is not valid');
  });
});

describe('requireScopes', () => {
  const holding = (...scopes: string[]): Principal => ({ scopes: new Set(scopes) });
  const alternatives = [['attributes.write', 'attributes.read'], ['config.admin']];

  it('passes when every scope of one alternative is held', () => {
    expect(() => requireScopes(holding('attributes.read', 'attributes.write'), alternatives)).not.to.throw();
    expect(() => requireScopes(holding('config.admin'), alternatives)).not.to.throw();
  });

  it('answers 403 naming the scopes that would do when no alternative is complete', () => {
    const error = caught(
      () => requireScopes(holding('attributes.read'), alternatives),
      InsufficientScopeError,
    );
    expect(error.status).to.equal(403);
    expect(error.headers['WWW-Authenticate']).to.equal(
      'Bearer error="insufficient_scope", scope="attributes.write attributes.read config.admin"',
    );
  });
});
