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
    jwt: {
      secret: SECRET,
      jwksUrl: undefined,
      issuer: undefined,
      audience: [],
      maxAgeSeconds: DAY_S,
      ...jwt,
    },
  };
}

const DAY_S = 24 * 3600;
const nowS = () => Math.floor(Date.now() / 1000);

/**
 * An HS256 token for `svc-1`. `exp` and `iat` are a jose time span (`'1h'`, `'-2h'`) or epoch
 * seconds, `null` to leave the claim out; by default it expires in an hour and was issued now.
 */
async function hsToken(
  claims: Record<string, unknown>,
  opts: { exp?: string | number | null; iat?: number | null; iss?: string; aud?: string } = {},
) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('svc-1');
  const exp = opts.exp === undefined ? '1h' : opts.exp;
  if (exp !== null) jwt = jwt.setExpirationTime(exp);
  const iat = opts.iat === undefined ? nowS() : opts.iat;
  if (iat !== null) jwt = jwt.setIssuedAt(iat);
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

  it('refuses a token without exp: it would never expire', async () => {
    const auth = createAuthenticator(settings());
    const forever = await hsToken({ scope: 'ingest' }, { exp: null });
    const err = await refusal(auth.authenticate({ authorization: `Bearer ${forever}` }));
    expect(err.statusCode).toBe(401);
    expect(err.message).toBe('token rejected: missing required "exp" claim');
    const forever2 = await hsToken({ scope: 'ingest' }, { exp: null, iat: null });
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${forever2}` }))).statusCode).toBe(401);
  });

  it('refuses a token older than the maximum age since its iat, whatever its exp', async () => {
    const auth = createAuthenticator(settings({}, { maxAgeSeconds: 3600 }));
    const bearer = async (opts: Parameters<typeof hsToken>[1]) => ({
      authorization: `Bearer ${await hsToken({ scope: 'ingest' }, opts)}`,
    });
    // Issued 59 minutes ago, valid for a day more: accepted.
    expect((await auth.authenticate(await bearer({ iat: nowS() - 59 * 60, exp: '1d' }))).id).toBe(
      'jwt:svc-1',
    );
    // Issued two hours ago: refused, though exp is still a day away.
    const old = await refusal(auth.authenticate(await bearer({ iat: nowS() - 2 * 3600, exp: '1d' })));
    expect(old.statusCode).toBe(401);
    expect(old.message).toBe('token too old: issued more than 3600 s ago');
    // The default maximum is a day.
    const daily = createAuthenticator(settings());
    expect((await daily.authenticate(await bearer({ iat: nowS() - 23 * 3600, exp: '1h' }))).id).toBe(
      'jwt:svc-1',
    );
    expect(
      (await refusal(daily.authenticate(await bearer({ iat: nowS() - 25 * 3600, exp: '1h' })))).message,
    ).toBe(`token too old: issued more than ${DAY_S} s ago`);
  });

  it('without iat, refuses a token whose exp lies further ahead than the maximum age', async () => {
    const auth = createAuthenticator(settings());
    const bearer = async (exp: number) => ({
      authorization: `Bearer ${await hsToken({ scope: 'ingest' }, { iat: null, exp })}`,
    });
    expect((await auth.authenticate(await bearer(nowS() + DAY_S - 60))).id).toBe('jwt:svc-1');
    for (const exp of [nowS() + DAY_S + 60, nowS() + 10 * 365 * DAY_S]) {
      const err = await refusal(auth.authenticate(await bearer(exp)));
      expect(err.statusCode).toBe(401);
      expect(err.message).toBe(
        `token rejected: it has no "iat" claim and expires more than ${DAY_S} s from now (the longest lifetime accepted)`,
      );
    }
    // Expired is expired, with or without iat.
    expect((await refusal(auth.authenticate(await bearer(nowS() - 60)))).message).toBe('token expired');
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
      .setIssuer('https://idp.example')
      .setAudience('tributary')
      .setExpirationTime('1h')
      .sign(privateKey);
    const jwks = settings(
      { apiKeys: [] },
      {
        secret: undefined,
        jwksUrl: 'https://idp.example/jwks.json',
        issuer: 'https://idp.example',
        audience: ['tributary'],
      },
    );

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

describe('JWT (JWKS): iss and aud are required', () => {
  const jwksSettings = (jwt: Partial<AuthSettings['jwt']> = {}) =>
    settings(
      { apiKeys: [] },
      {
        secret: undefined,
        jwksUrl: 'https://idp.example/jwks.json',
        issuer: 'https://idp.example',
        audience: ['tributary'],
        ...jwt,
      },
    );

  it('refuses to build an authenticator for a JWKS without an issuer and an audience', () => {
    for (const jwt of [{ issuer: undefined }, { audience: [] }, { issuer: undefined, audience: [] }]) {
      let err: unknown;
      try {
        createAuthenticator(jwksSettings(jwt));
      } catch (e) {
        err = e;
      }
      expect(hasCode(err, ErrorCodes.CONFIG_INVALID)).toBe(true);
      expect((err as Error).message).toContain('TRIBUTARY_AUTH_JWT_ISSUER and TRIBUTARY_AUTH_JWT_AUDIENCE');
    }
  });

  it('answers 401 for a token from the key set without, or with another, iss or aud', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const auth = createAuthenticator(jwksSettings(), {
      fetch: async () => new Response(JSON.stringify({ keys: [jwk] }), { status: 200 }),
    });
    const sign = (claims: { iss?: string; aud?: string | string[] }) =>
      new SignJWT({ scope: 'ingest', ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setSubject('svc-3')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey);
    const verdict = async (claims: { iss?: string; aud?: string | string[] }) => {
      try {
        return (await auth.authenticate({ authorization: `Bearer ${await sign(claims)}` })).id;
      } catch (err) {
        expect(err).toBeInstanceOf(AuthError);
        return `${(err as AuthError).statusCode} ${(err as AuthError).message}`;
      }
    };
    const iss = 'https://idp.example';
    expect(await verdict({ iss, aud: 'tributary' })).toBe('jwt:svc-3');
    expect(await verdict({ iss, aud: ['other', 'tributary'] })).toBe('jwt:svc-3');
    expect(await verdict({ aud: 'tributary' })).toBe('401 token rejected: missing required "iss" claim');
    expect(await verdict({ iss })).toBe('401 token rejected: missing required "aud" claim');
    expect(await verdict({ iss: 'https://evil.example', aud: 'tributary' })).toBe(
      '401 token rejected: unexpected "iss" claim value',
    );
    expect(await verdict({ iss, aud: 'another-service' })).toBe(
      '401 token rejected: unexpected "aud" claim value',
    );
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
