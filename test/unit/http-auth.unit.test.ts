import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import type { AuthSettings } from '../../lib/config.js';
import { ErrorCodes, hasCode } from '../../lib/errors.js';
import {
  AuthError,
  createAuthenticator,
  ensureDevApiKey,
  isLoopbackHost,
  resolveAuth,
  scopesOf,
} from '../../lib/http-auth.js';

const INGEST_KEY = 'ingest-key-0123456789abcdef';
const QUERY_KEY = 'query-key-0123456789abcdef';
const SECRET = 'a-very-long-shared-secret-of-32-chars-at-least';

function settings(over: Partial<AuthSettings> = {}, jwt: Partial<AuthSettings['jwt']> = {}): AuthSettings {
  return {
    disabled: false,
    apiKeys: [
      { name: 'writer', key: INGEST_KEY, scopes: ['ingest', 'query'] },
      { name: 'reader', key: QUERY_KEY, scopes: ['query'] },
    ],
    ...over,
    jwt: { secret: SECRET, jwksUrl: undefined, issuer: undefined, audience: [], ...jwt },
  };
}

async function hsToken(
  claims: Record<string, unknown>,
  opts: { exp?: string; iss?: string; aud?: string } = {},
) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('svc-1').setIssuedAt();
  if (opts.exp) jwt = jwt.setExpirationTime(opts.exp);
  if (opts.iss) jwt = jwt.setIssuer(opts.iss);
  if (opts.aud) jwt = jwt.setAudience(opts.aud);
  return jwt.sign(new TextEncoder().encode(SECRET));
}

async function refusal(promise: Promise<unknown>): Promise<AuthError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError);
    return err as AuthError;
  }
  throw new Error('expected a refusal');
}

describe('API keys', () => {
  const auth = createAuthenticator(settings());

  it('accepts a key as X-API-Key or as a bearer token, with its scopes', async () => {
    const a = await auth.authenticate({ 'x-api-key': INGEST_KEY });
    expect(a).toMatchObject({ id: 'api-key:writer', method: 'api-key' });
    expect([...a.scopes].sort()).toEqual(['ingest', 'query']);
    const b = await auth.authenticate({ authorization: `Bearer ${QUERY_KEY}` });
    expect(b.id).toBe('api-key:reader');
    expect([...b.scopes]).toEqual(['query']);
  });

  it('refuses a missing, unknown or malformed credential with 401 and a challenge', async () => {
    const missing = await refusal(auth.authenticate({}));
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer realm="tributary"/);
    expect((await refusal(auth.authenticate({ 'x-api-key': 'nope-nope-nope-nope' }))).message).toBe(
      'invalid API key',
    );
    expect((await refusal(auth.authenticate({ authorization: `Basic ${INGEST_KEY}` }))).statusCode).toBe(401);
    // X-API-Key wins over an Authorization header (which may belong to a proxy in between).
    const both = await auth.authenticate({ 'x-api-key': QUERY_KEY, authorization: 'Basic dXNlcjpwYXNz' });
    expect(both.id).toBe('api-key:reader');
  });
});

describe('JWT (HS256)', () => {
  it('reads scopes from `scope` (space-separated) or `scopes` (array)', async () => {
    const auth = createAuthenticator(settings());
    const a = await auth.authenticate({
      authorization: `Bearer ${await hsToken({ scope: 'ingest other' })}`,
    });
    expect(a).toMatchObject({ id: 'jwt:svc-1', method: 'jwt' });
    expect(a.scopes.has('ingest')).toBe(true);
    const b = await auth.authenticate({ authorization: `Bearer ${await hsToken({ scopes: ['query'] })}` });
    expect([...b.scopes]).toEqual(['query']);
    expect([...scopesOf({ scope: 'a  b', scopes: 'c' })].sort()).toEqual(['a', 'b', 'c']);
  });

  it('refuses expired tokens, wrong signatures, issuers and audiences', async () => {
    const auth = createAuthenticator(
      settings({}, { issuer: 'https://idp.example', audience: ['tributary'] }),
    );
    const ok = await hsToken(
      { scope: 'ingest' },
      { iss: 'https://idp.example', aud: 'tributary', exp: '1h' },
    );
    expect((await auth.authenticate({ authorization: `Bearer ${ok}` })).scopes.has('ingest')).toBe(true);

    const expired = await hsToken({}, { iss: 'https://idp.example', aud: 'tributary', exp: '-1h' });
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${expired}` }))).message).toBe(
      'token expired',
    );
    const wrongIss = await hsToken({}, { iss: 'https://evil.example', aud: 'tributary' });
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${wrongIss}` }))).message).toContain(
      'iss',
    );
    const wrongAud = await hsToken({}, { iss: 'https://idp.example', aud: 'other' });
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${wrongAud}` }))).message).toContain(
      'aud',
    );
    const forged = `${ok.slice(0, ok.lastIndexOf('.'))}.${'A'.repeat(43)}`;
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${forged}` }))).statusCode).toBe(401);
  });

  it('refuses unsigned tokens (alg none)', async () => {
    const auth = createAuthenticator(settings());
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${b64({ alg: 'none' })}.${b64({ sub: 'x', scope: 'ingest' })}.`;
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${unsigned}` }))).statusCode).toBe(401);
  });
});

describe('JWT (JWKS)', () => {
  it('verifies tokens against the remote key set and answers 503 when it is unreachable', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const token = await new SignJWT({ scope: 'ingest' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('svc-2')
      .sign(privateKey);
    const jwks = settings({ apiKeys: [] }, { secret: undefined, jwksUrl: 'https://idp.example/jwks.json' });

    let fetched = 0;
    const good = createAuthenticator(jwks, {
      fetch: async () => {
        fetched++;
        return new Response(JSON.stringify({ keys: [jwk] }), { status: 200 });
      },
    });
    expect(good.methods).toEqual(['jwt-jwks']);
    expect((await good.authenticate({ authorization: `Bearer ${token}` })).id).toBe('jwt:svc-2');
    await good.authenticate({ authorization: `Bearer ${token}` });
    expect(fetched).toBe(1);
    // An HS256 token is not accepted without a secret, even if it would verify with some key.
    const hs = await hsToken({ scope: 'ingest' });
    expect((await refusal(good.authenticate({ authorization: `Bearer ${hs}` }))).statusCode).toBe(401);

    const down = createAuthenticator(jwks, {
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const err = await refusal(down.authenticate({ authorization: `Bearer ${token}` }));
    expect(err.statusCode).toBe(503);
    expect(err.code).toBe('auth_unavailable');
  });
});

describe('safe default', () => {
  it('refuses to build an authenticator with no credentials unless disabled', async () => {
    expect(() => createAuthenticator(settings({ apiKeys: [] }, { secret: undefined }))).toThrow(
      /no HTTP credentials/,
    );
    const open = createAuthenticator(settings({ apiKeys: [], disabled: true }, { secret: undefined }));
    expect(open.mode).toBe('disabled');
    expect((await open.authenticate({})).scopes.has('ingest')).toBe(true);
  });

  it('generates a development key only for loopback, and keeps it across restarts', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tributary-auth-'));
    const config = loadConfig({ TRIBUTARY_STATE_DIR: dir });
    const first = await resolveAuth(config, '127.0.0.1');
    expect(first.devKey?.created).toBe(true);
    expect(first.settings.apiKeys).toEqual([
      { name: 'local-dev', key: first.devKey!.key, scopes: ['ingest', 'query'] },
    ]);
    expect((await stat(first.devKey!.file)).mode & 0o777).toBe(0o600);
    expect((await readFile(first.devKey!.file, 'utf8')).trim()).toBe(first.devKey!.key);
    const again = await resolveAuth(config, 'localhost');
    expect(again.devKey).toMatchObject({ key: first.devKey!.key, created: false });

    let refused: unknown;
    await resolveAuth(config, '0.0.0.0').catch((err: unknown) => (refused = err));
    expect(hasCode(refused, ErrorCodes.CONFIG_INVALID)).toBe(true);
    expect((refused as Error).message).toContain('TRIBUTARY_AUTH_API_KEYS');

    const configured = loadConfig({
      TRIBUTARY_STATE_DIR: dir,
      TRIBUTARY_AUTH_API_KEYS: `ops:${INGEST_KEY}=ingest`,
    });
    expect((await resolveAuth(configured, '0.0.0.0')).devKey).toBeUndefined();

    await writeFile(first.devKey!.file, 'short\n');
    await expect(ensureDevApiKey(dir)).rejects.toThrow(/delete it/);
  });

  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com']) expect(isLoopbackHost(h)).toBe(false);
  });
});
