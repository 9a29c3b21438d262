/**
 * Authentication and scopes for Tributary's HTTP services (ingestion, query; DESIGN.md §6).
 *
 * A caller presents one credential: an API key (`X-API-Key: <key>` or `Authorization: Bearer <key>`;
 * X-API-Key is the one checked when both headers are present)
 * from `TRIBUTARY_AUTH_API_KEYS`, or a JWT (`Authorization: Bearer <jwt>`) signed with the HS256
 * secret `TRIBUTARY_AUTH_JWT_SECRET` or by a key of the JWKS at `TRIBUTARY_AUTH_JWKS_URL`, whose scopes
 * come from its `scope` (space-separated) or `scopes` (array) claim. A route names the scope it
 * needs in its config (`config: { scope: 'ingest' }`); routes without one are public.
 *
 * What a JWT must carry: a valid signature, `exp` (a token without one would never expire), and, when
 * `TRIBUTARY_AUTH_JWT_ISSUER` / `TRIBUTARY_AUTH_JWT_AUDIENCE` are set (always with a JWKS, whose keys
 * a shared identity provider also uses for other services), a matching `iss` and `aud`. Its age is
 * bounded by `TRIBUTARY_AUTH_JWT_MAX_AGE_S`: a token with `iat` is refused once it was issued longer
 * ago than that; one without `iat` is refused when its `exp` lies further ahead than that, so no
 * accepted token lives longer than the maximum age either way.
 *
 * Failures: 401 (no, malformed or invalid credential), 403 (valid, but without the scope), 503 (the
 * JWKS cannot be fetched). The credential is checked in `onRequest`, but the answer is given in
 * `preParsing`, so that a rate limiter running in between counts failed attempts too, and no body
 * is read for a caller that will be refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { JWTPayload, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import { AUTH_SCOPES, jwtSettingsProblems } from './config.js';
import type { ApiKeySpec, AuthScope, AuthSettings, TributaryConfig } from './config.js';
import { ErrorCodes, TributaryError } from './errors.js';

/** Who is calling, once authenticated. */
export interface Principal {
  /** Stable, non-secret id for logs, metrics and rate limits: `api-key:<name>`, `jwt:<sub>`, `anonymous`. */
  readonly id: string;
  readonly method: 'api-key' | 'jwt' | 'none';
  readonly scopes: ReadonlySet<string>;
}

/** Why a request is refused; carries its HTTP status and a stable `code` for the response body. */
export class AuthError extends Error {
  readonly statusCode: 401 | 403 | 503;
  readonly code: 'unauthorized' | 'forbidden' | 'auth_unavailable';
  /** Response headers to send (`WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    statusCode: AuthError['statusCode'],
    message: string,
    headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AuthError';
    this.statusCode = statusCode;
    this.code = statusCode === 401 ? 'unauthorized' : statusCode === 403 ? 'forbidden' : 'auth_unavailable';
    this.headers = headers;
  }
}

/** True for the errors this module raises to refuse a request. */
export function isAuthError(err: unknown): err is AuthError {
  return err instanceof AuthError;
}

/** Checks the credential of a request. */
export interface Authenticator {
  /** `disabled`: every request is the anonymous principal with every scope. */
  readonly mode: 'enforced' | 'disabled';
  /** Which credential kinds are accepted, for start-up logs: `api-key`, `jwt-hs256`, `jwt-jwks`. */
  readonly methods: readonly string[];
  /** @throws {@link AuthError} 401 or 503. */
  authenticate(headers: IncomingHttpHeaders): Promise<Principal>;
}

const REALM = 'tributary';
/** Asymmetric algorithms accepted from a JWKS; HS256 only with the shared secret. */
const JWKS_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Seconds of clock difference with the token's issuer tolerated in `exp`, `nbf`, `iat` checks. */
const CLOCK_TOLERANCE_S = 5;

function challenge(error?: string, description?: string, scope?: string): Record<string, string> {
  const parts = [`realm="${REALM}"`];
  if (error) parts.push(`error="${error}"`);
  if (description) parts.push(`error_description="${description.replace(/["\\]/g, '')}"`);
  if (scope) parts.push(`scope="${scope}"`);
  return { 'www-authenticate': `Bearer ${parts.join(', ')}` };
}

function unauthorized(message: string, invalidToken = true): AuthError {
  return new AuthError(401, message, invalidToken ? challenge('invalid_token', message) : challenge());
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** True when at least one kind of credential is configured. */
export function hasCredentials(settings: AuthSettings): boolean {
  return (
    settings.apiKeys.length > 0 || settings.jwt.secret !== undefined || settings.jwt.jwksUrl !== undefined
  );
}

/** Scopes of a verified JWT: its `scope` claim (space-separated) and its `scopes` claim (array or string). */
export function scopesOf(payload: JWTPayload): Set<string> {
  const scopes = new Set<string>();
  const add = (value: unknown) => {
    const list: unknown[] =
      typeof value === 'string' ? value.split(/\s+/) : Array.isArray(value) ? value : [];
    for (const s of list) if (typeof s === 'string' && s !== '') scopes.add(s);
  };
  add(payload.scope);
  add(payload.scopes);
  return scopes;
}

/**
 * Builds the authenticator for `settings`.
 *
 * @throws {@link TributaryError} `TRIBUTARY_CONFIG_INVALID` when no credential is configured and
 *   authentication is not explicitly disabled: a service never starts open by accident; and when a
 *   JWKS is configured without an issuer and an audience.
 */
export function createAuthenticator(
  settings: AuthSettings,
  options: {
    /** How long to wait for the JWKS, in ms. Default 5 000. */
    readonly jwksTimeoutMs?: number;
    /** The `fetch` used for the JWKS (tests pass a fake). */
    readonly fetch?: (url: string, init: RequestInit) => Promise<Response>;
  } = {},
): Authenticator {
  if (settings.disabled) {
    const anonymous: Principal = { id: 'anonymous', method: 'none', scopes: new Set(AUTH_SCOPES) };
    return { mode: 'disabled', methods: [], authenticate: async () => anonymous };
  }
  if (!hasCredentials(settings)) {
    throw new TributaryError(
      ErrorCodes.CONFIG_INVALID,
      'no HTTP credentials configured: set TRIBUTARY_AUTH_API_KEYS, TRIBUTARY_AUTH_JWT_SECRET or ' +
        'TRIBUTARY_AUTH_JWKS_URL (or TRIBUTARY_AUTH_DISABLED=true to let anyone in)',
    );
  }
  const problems = jwtSettingsProblems(settings.jwt);
  if (problems.length > 0) throw new TributaryError(ErrorCodes.CONFIG_INVALID, problems.join('; '));
  // Keys are looked up by their hash: the lookup time tells nothing about how close a guess was.
  const keys = new Map<string, ApiKeySpec>(settings.apiKeys.map((k) => [sha256(k.key), k]));
  const { jwt } = settings;
  const secret = jwt.secret === undefined ? undefined : new TextEncoder().encode(jwt.secret);
  const jwks =
    jwt.jwksUrl === undefined
      ? undefined
      : createRemoteJWKSet(new URL(jwt.jwksUrl), {
          timeoutDuration: options.jwksTimeoutMs ?? 5_000,
          ...(options.fetch ? { [customFetch]: options.fetch } : {}),
        });
  const methods = [
    ...(keys.size > 0 ? ['api-key'] : []),
    ...(secret ? ['jwt-hs256'] : []),
    ...(jwks ? ['jwt-jwks'] : []),
  ];

  function byApiKey(key: string): Principal {
    const spec = keys.get(sha256(key));
    if (!spec) throw unauthorized('invalid API key');
    return { id: `api-key:${spec.name}`, method: 'api-key', scopes: new Set(spec.scopes) };
  }

  async function byJwt(token: string): Promise<Principal> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthorized('malformed token');
    }
    const useSecret = alg === 'HS256';
    if (useSecret ? !secret : !jwks) {
      throw unauthorized(`tokens signed with ${alg ?? 'no algorithm'} are not accepted`);
    }
    // Whether the (not yet verified) token has `iat` only picks the age check; jose verifies the
    // signature over these same claims before any of them counts.
    let hasIssuedAt: boolean;
    try {
      hasIssuedAt = decodeJwt(token).iat !== undefined;
    } catch {
      throw unauthorized('malformed token');
    }
    const verifyOptions: JWTVerifyOptions = {
      algorithms: useSecret ? ['HS256'] : JWKS_ALGORITHMS,
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: [
        'exp',
        ...(jwt.issuer === undefined ? [] : ['iss']),
        ...(jwt.audience.length === 0 ? [] : ['aud']),
      ],
      ...(hasIssuedAt ? { maxTokenAge: jwt.maxAgeSeconds } : {}),
      ...(jwt.issuer === undefined ? {} : { issuer: jwt.issuer }),
      ...(jwt.audience.length === 0 ? {} : { audience: [...jwt.audience] }),
    };
    let payload: JWTPayload;
    try {
      ({ payload } = useSecret
        ? await jwtVerify(token, secret!, verifyOptions)
        : await jwtVerify(token, jwks as JWTVerifyGetKey, verifyOptions));
    } catch (err) {
      throw jwtError(err, jwt.maxAgeSeconds);
    }
    // Without `iat` the age is unknown: bound what is left of the token's life instead.
    const remaining = payload.exp! - Math.floor(Date.now() / 1000);
    if (!hasIssuedAt && remaining > jwt.maxAgeSeconds + CLOCK_TOLERANCE_S) {
      throw unauthorized(
        `token rejected: it has no "iat" claim and expires more than ${jwt.maxAgeSeconds} s from now ` +
          '(the longest lifetime accepted)',
      );
    }
    return { id: `jwt:${payload.sub ?? 'unknown'}`, method: 'jwt', scopes: scopesOf(payload) };
  }

  return {
    mode: 'enforced',
    methods,
    async authenticate(headers) {
      const apiKeyHeader = headers['x-api-key'];
      const authorization = headers.authorization;
      if (Array.isArray(apiKeyHeader)) throw unauthorized('send one X-API-Key header');
      // X-API-Key wins: an Authorization header beside it may belong to a proxy in between.
      if (apiKeyHeader !== undefined) return byApiKey(apiKeyHeader.trim());
      if (authorization === undefined) {
        throw new AuthError(
          401,
          'credentials required: Authorization: Bearer <key or token>, or X-API-Key',
          challenge(),
        );
      }
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) throw unauthorized('Authorization must be "Bearer <key or token>"');
      const credential = match[1]!;
      if (JWT_SHAPE.test(credential) && (secret || jwks)) return byJwt(credential);
      return byApiKey(credential);
    },
  };
}

/** A jose failure becomes 401, except a JWKS that cannot be fetched, which is our problem: 503. */
function jwtError(err: unknown, maxAgeSeconds: number): AuthError {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof joseErrors.JOSEError && code !== 'ERR_JWKS_TIMEOUT' && code !== 'ERR_JOSE_GENERIC') {
    const message =
      err instanceof joseErrors.JWTExpired && err.claim === 'iat'
        ? `token too old: issued more than ${maxAgeSeconds} s ago`
        : code === 'ERR_JWT_EXPIRED'
          ? 'token expired'
          : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED'
            ? `token rejected: ${(err as Error).message}`
            : 'invalid token';
    return unauthorized(message);
  }
  return new AuthError(
    503,
    'cannot verify tokens right now: the key set (JWKS) is unreachable',
    {},
    { cause: err },
  );
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller on routes that require a scope; null elsewhere or when refused. */
    principal: Principal | null;
    /** Why the credential was refused; answered in `preParsing`. */
    authFailure: AuthError | null;
  }
  interface FastifyContextConfig {
    /** The scope a caller needs on this route; public when absent. */
    scope?: AuthScope;
  }
}

/**
 * Adds authentication to every route of `app` that declares `config.scope`. Register before the
 * routes, and before a rate limiter whose key uses {@link rateLimitKey}.
 */
export function registerHttpAuth(app: FastifyInstance, authenticator: Authenticator): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('authFailure', null);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.scope === undefined) return;
    try {
      request.principal = await authenticator.authenticate(request.headers);
    } catch (err) {
      if (!isAuthError(err)) throw err;
      request.authFailure = err;
    }
  });
  app.addHook('preParsing', async (request) => {
    const scope = request.routeOptions.config.scope;
    if (scope === undefined) return;
    if (request.authFailure) throw request.authFailure;
    if (!request.principal?.scopes.has(scope)) {
      throw new AuthError(
        403,
        `this credential lacks the "${scope}" scope`,
        challenge('insufficient_scope', undefined, scope),
      );
    }
  });
}

/** Rate-limit key: the caller's principal id when authenticated, else the client IP. */
export function rateLimitKey(request: FastifyRequest): string {
  const principal = request.principal;
  return principal && principal.method !== 'none' ? principal.id : `ip:${request.ip}`;
}

/** The file under the state directory that holds the generated local development key. */
export const DEV_API_KEY_FILE = 'dev-api-key';

/** True for `localhost` and loopback addresses, where a generated development key is acceptable. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare.startsWith('::ffff:127.');
}

/**
 * Returns the local development API key stored in `<stateDir>/dev-api-key` (mode 0600), creating it
 * on first use. It stays the same across restarts, so a demo and its scripts can read it.
 */
export async function ensureDevApiKey(
  stateDir: string,
): Promise<{ key: string; file: string; created: boolean }> {
  const file = path.join(stateDir, DEV_API_KEY_FILE);
  await mkdir(stateDir, { recursive: true });
  const key = `dev_${randomBytes(24).toString('hex')}`;
  try {
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return { key, file, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const existing = (await readFile(file, 'utf8')).trim();
  if (!/^[A-Za-z0-9_~+/.-]{16,512}$/.test(existing)) {
    throw new TributaryError(
      ErrorCodes.CONFIG_INVALID,
      `${file} does not hold a valid key: delete it to get a new one`,
    );
  }
  return { key: existing, file, created: false };
}

/** The auth settings a service runs with, and the development key when one was provided. */
export interface ResolvedAuth {
  readonly settings: AuthSettings;
  readonly devKey?: { readonly key: string; readonly file: string; readonly created: boolean };
}

/**
 * The safe default: configured credentials when there are any; none when
 * `TRIBUTARY_AUTH_DISABLED=true`; otherwise, only for a service bound to loopback, a generated local
 * development key (scopes `ingest` and `query`), so the demo stays one command. A service listening
 * on another address with no credentials refuses to start.
 *
 * @throws {@link TributaryError} `TRIBUTARY_CONFIG_INVALID` in that last case.
 */
export async function resolveAuth(config: TributaryConfig, host: string): Promise<ResolvedAuth> {
  const settings = config.auth;
  if (settings.disabled || hasCredentials(settings)) return { settings };
  if (!isLoopbackHost(host)) {
    throw new TributaryError(
      ErrorCodes.CONFIG_INVALID,
      `no HTTP credentials configured for a service listening on ${host}: set TRIBUTARY_AUTH_API_KEYS ` +
        '(e.g. "ops:<key>=ingest,query"), TRIBUTARY_AUTH_JWT_SECRET or TRIBUTARY_AUTH_JWKS_URL, ' +
        'or TRIBUTARY_AUTH_DISABLED=true to let anyone in',
    );
  }
  const devKey = await ensureDevApiKey(config.stateDir);
  return {
    settings: { ...settings, apiKeys: [{ name: 'local-dev', key: devKey.key, scopes: ['ingest', 'query'] }] },
    devKey,
  };
}
