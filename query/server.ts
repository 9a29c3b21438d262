/**
 * The query service as a Fastify app, built by {@link buildQueryServer} from its dependencies so
 * tests can inject them. Read-only over Redis: every answer comes from the read models through
 * lib/read-models, and the live stream from the analytics group's Pub/Sub channel. The request
 * lifecycle is lib/http/app.ts's, shared with the ingestion service:
 *
 * 1. `onRequest`: authenticate (lib/http-auth.ts, scope `query`), then the rate limit, keyed by
 *    the caller or, for a refused credential, the client IP.
 * 2. `preParsing`: refuse (401/403).
 * 3. Parameters checked by the route's JSON Schema (400 naming each bad one), then by the handler
 *    (instants, ranges, cursors: 400 too).
 *
 * Every refusal has the same body, `{ error, message, fields? }`, from one error handler. Redis
 * being unreachable is a 503, never a 500; a 500 is a bug.
 */
import { ReplyError } from 'ioredis';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { AuthSettings, TributaryConfig } from '../lib/config.js';
import type { EventCatalog } from '../schemas/catalog.js';
import type { ReadableModel } from '../lib/read-models/reader.js';
import { buildServiceApp } from '../lib/http/app.js';
import type { MappedError } from '../lib/http/app.js';
import { createAuthenticator } from '../lib/http-auth.js';
import type { Authenticator } from '../lib/http-auth.js';
import type { Logger } from '../lib/logger.js';
import { createMetricsRegistry } from '../lib/metrics.js';
import type { Registry } from '../lib/metrics.js';
import type { ReadModelSource } from '../lib/read-models/source.js';
import { analyticsUpdatesChannel } from '../lib/redis-keys.js';
import { QueryErrorCodes } from './http-error.js';
import type { QueryErrorCode } from './http-error.js';
import { swaggerOptions } from './openapi.js';
import { createQueryMetrics } from './query-metrics.js';
import type { QueryMetrics } from './query-metrics.js';
import { registerAnalyticsRoutes } from './analytics-routes.js';
import { registerDashboard } from './dashboard/index.js';
import { registerModelRoutes } from './model-routes.js';
import { StreamHub, registerStreamRoute } from './sse.js';

export interface QueryServerOptions {
  /** The app's events and topics. */
  readonly catalog: EventCatalog;
  /** The app's projections: their readers are served at `/models/<projection>/<reader>`. */
  readonly models: readonly ReadableModel[];
  readonly config: TributaryConfig;
  readonly logger: Logger;
  /** Redis, key prefix, topic names and partition counts (owned by the caller, closed after the app). */
  readonly source: ReadModelSource;
  /** Auth settings to use instead of `config.auth` (e.g. with a generated development key). */
  readonly auth?: AuthSettings;
  /** An authenticator to use instead of one built from the settings. */
  readonly authenticator?: Authenticator;
  /** Metrics registry; default: a new one with process metrics. */
  readonly registry?: Registry;
  /** The Pub/Sub channel of live updates; default the analytics group's (`analyticsUpdatesChannel`). */
  readonly streamChannel?: string;
}

/** The app, with what tests and the service want to reach. */
export interface QueryServer {
  readonly app: FastifyInstance;
  readonly metrics: QueryMetrics;
  readonly registry: Registry;
  readonly authenticator: Authenticator;
  readonly hub: StreamHub;
}

/**
 * Errors that mean a bug here, not a dependency being away (a 500): JavaScript's own, an error
 * reply from Redis (a wrong command or key type) and Fastify's own (a reply its schema rejects).
 */
function isBug(err: FastifyError): boolean {
  return (
    [TypeError, RangeError, ReferenceError, SyntaxError, ReplyError as ErrorConstructor].some(
      (c) => err instanceof c,
    ) ||
    (typeof err.code === 'string' && err.code.startsWith('FST_'))
  );
}

/**
 * Redis unreachable, timed out or closing, as ioredis reports it (its connection errors carry no
 * class of their own, only a name or a message). Anything else a reader throws is a bug of the
 * reader: a 500 with its stack in the log, not a 503 that tells clients to retry forever.
 */
function isUnavailable(err: FastifyError): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    ['MaxRetriesPerRequestError', 'AbortError'].includes(err.name) ||
    (typeof code === 'string' &&
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE'].includes(code)) ||
    /Connection is closed|Command timed out|Stream isn't writeable|connect ECONNREFUSED/.test(err.message)
  );
}

/**
 * Fastify's own 4xx errors, and Redis unavailable (or a 503 from below): a 503 with Retry-After.
 * Anything else is answered 500 by the shared error handler, which logs it with its stack.
 */
function mapQueryError(
  err: FastifyError,
  logger: Logger,
  reqId: string,
): MappedError<QueryErrorCode> | undefined {
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    const code = err.statusCode === 404 ? QueryErrorCodes.NOT_FOUND : QueryErrorCodes.INVALID_REQUEST;
    return { status: err.statusCode, body: { error: code, message: err.message } };
  }
  if (err.statusCode !== 503 && (isBug(err) || !isUnavailable(err))) return undefined;
  logger.warn({ err: err.message, reqId }, 'read failed: dependency unavailable');
  return {
    status: 503,
    body: { error: QueryErrorCodes.UNAVAILABLE, message: 'the read models are unavailable right now; retry' },
    headers: { 'retry-after': '5' },
  };
}

/** `/readyz`: Redis answers PING within `timeoutMs`; the answer is reused for a second. */
function redisReadiness(source: ReadModelSource, timeoutMs = 2_000, cacheMs = 1_000): () => Promise<string> {
  let last: { at: number; result: Promise<string> } | undefined;
  const probe = async (): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        source.redis.ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return 'ok';
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(timer);
    }
  };
  return () => {
    if (!last || Date.now() - last.at >= cacheMs) last = { at: Date.now(), result: probe() };
    return last.result;
  };
}

/** Builds the query app (routes, auth, rate limit, OpenAPI, health, metrics, stream); does not listen. */
export async function buildQueryServer(options: QueryServerOptions): Promise<QueryServer> {
  const { config, source } = options;
  const settings = config.query;
  const logger = options.logger.child({ component: 'query-http' });
  const authenticator = options.authenticator ?? createAuthenticator(options.auth ?? config.auth);
  const registry = options.registry ?? createMetricsRegistry({ service: 'query' });
  const metrics = createQueryMetrics(registry);
  const readiness = redisReadiness(source);
  const hub = new StreamHub({
    redis: source.redis,
    channel: options.streamChannel ?? analyticsUpdatesChannel(config.redis.keyPrefix),
    heartbeatMs: settings.streamHeartbeatMs,
    replay: settings.streamReplay,
    maxClients: settings.streamMaxClients,
    maxClientsPerKey: settings.streamMaxClientsPerKey,
    metrics,
    logger,
  });

  const app = await buildServiceApp<QueryErrorCode>({
    logger,
    authenticator,
    registry,
    trustProxy: settings.trustProxy,
    // Percent-encoded ids run longer than the 256 characters the schemas allow once decoded.
    maxParamLength: 1024,
    rateLimitPerMinute: settings.rateLimitPerMinute,
    swagger: swaggerOptions(),
    codes: {
      invalidRequest: QueryErrorCodes.INVALID_REQUEST,
      notFound: QueryErrorCodes.NOT_FOUND,
      rateLimited: QueryErrorCodes.RATE_LIMITED,
      unavailable: QueryErrorCodes.UNAVAILABLE,
      internal: QueryErrorCodes.INTERNAL,
    },
    frameworkMessage: (err) =>
      err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is too long' : 'the URL is malformed',
    mapError: (err, request) => mapQueryError(err, logger, request.id),
    onRefused: (request, code) => {
      if (request.routeOptions.config.scope === 'query') metrics.rejected.inc({ reason: code });
    },
    readiness: {
      summary: 'Redis is reachable',
      check: async () => {
        const redis = await readiness();
        return { ready: redis === 'ok', checks: { redis } };
      },
    },
    // Live streams end first, so they do not hold the close open.
    onDrain: () => hub.close(),
  });

  registerModelRoutes(app, { models: options.models, source, metrics, maxPageSize: settings.maxPageSize });
  registerAnalyticsRoutes(app, { source, metrics, defaultTopN: config.analytics.topN });
  registerStreamRoute(app, hub);
  const topics = options.catalog.eventTopics.map((t) => t.name);
  await registerDashboard(app, { source, topics, config, logger });
  await app.ready();
  return { app, metrics, registry, authenticator, hub };
}
