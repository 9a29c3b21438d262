/**
 * The query service as a Fastify app, built by {@link buildQueryServer} from its dependencies so
 * tests can inject them. Read-only over Redis: every answer comes from the read models through
 * lib/read-models, and the live stream from the analytics group's Pub/Sub channel. The request
 * lifecycle is the ingestion service's (producers/http/server.ts):
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
import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { LogController } from 'fastify';
import { ReplyError } from 'ioredis';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthSettings, TributaryConfig } from '../lib/config.js';
import { createAuthenticator, isAuthError, rateLimitKey, registerHttpAuth } from '../lib/http-auth.js';
import type { Authenticator } from '../lib/http-auth.js';
import type { Logger } from '../lib/logger.js';
import { createMetricsRegistry, instrumentHttp } from '../lib/metrics.js';
import type { Registry } from '../lib/metrics.js';
import type { ReadModelSource } from '../lib/read-models/source.js';
import { analyticsUpdatesChannel } from '../lib/redis-keys.js';
import { QueryErrorCodes, QueryHttpError, isQueryHttpError } from './http-error.js';
import type { ErrorBody, FieldError, QueryErrorCode } from './http-error.js';
import { swaggerOptions } from './openapi.js';
import { createQueryMetrics } from './query-metrics.js';
import type { QueryMetrics } from './query-metrics.js';
import { registerAnalyticsRoutes } from './analytics-routes.js';
import { registerDashboard } from './dashboard/index.js';
import { registerQueryRoutes } from './routes.js';
import { StreamHub, registerStreamRoute } from './sse.js';

export interface QueryServerOptions {
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

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
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

/** Field errors from Fastify's JSON-Schema validation of params, query strings and headers. */
function validationFields(err: FastifyError): FieldError[] {
  return (err.validation ?? []).map((v) => {
    const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
    const path = [err.validationContext, ...v.instancePath.split('/').filter(Boolean), missing]
      .filter(Boolean)
      .join('.');
    return { path, message: v.message ?? 'invalid' };
  });
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
    metrics,
    logger,
  });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: settings.trustProxy,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: false,
    // Percent-encoded ids run longer than the 256 characters the schemas allow once decoded.
    routerOptions: { maxParamLength: 1024 },
    frameworkErrors: (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const message =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is too long' : 'the URL is malformed';
      reply.code(err.statusCode ?? 400).send({ error: QueryErrorCodes.INVALID_REQUEST, message });
    },
  });

  // Graceful shutdown: new requests get 503, responses close their connections, live streams end.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
    await hub.close();
  });
  app.addHook('onRequest', async () => {
    if (draining) {
      throw new QueryHttpError(503, QueryErrorCodes.UNAVAILABLE, 'the service is shutting down; retry', [], {
        'retry-after': '1',
      });
    }
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (draining) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    const entry = {
      reqId: request.id,
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      principal: request.principal?.id,
    };
    if (reply.statusCode >= 500) logger.warn(entry, 'request failed');
    else logger.debug(entry, 'request');
  });

  instrumentHttp(app, registry);
  registerHttpAuth(app, authenticator);
  if (settings.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: settings.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: rateLimitKey,
      errorResponseBuilder: (_request, context) =>
        new QueryHttpError(
          429,
          QueryErrorCodes.RATE_LIMITED,
          `rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`,
        ),
    });
  }
  await app.register(swagger, swaggerOptions());

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let status: number;
    let body: ErrorBody;
    if (isQueryHttpError(err)) {
      status = err.statusCode;
      body = {
        error: err.code,
        message: err.message,
        ...(err.fields.length > 0 ? { fields: err.fields } : {}),
      };
      reply.headers(err.headers);
    } else if (isAuthError(err)) {
      status = err.statusCode;
      body = { error: err.code, message: err.message };
      reply.headers(err.headers);
    } else if (err.validation) {
      status = 400;
      body = { error: QueryErrorCodes.INVALID_REQUEST, message: err.message, fields: validationFields(err) };
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      const code: QueryErrorCode =
        status === 404 ? QueryErrorCodes.NOT_FOUND : QueryErrorCodes.INVALID_REQUEST;
      body = { error: code, message: err.message };
    } else if (err.statusCode === 503 || !isBug(err)) {
      // Redis unreachable, timed out or closing (ioredis's errors), or a 503 from below.
      logger.warn({ err: err.message, reqId: request.id }, 'read failed: dependency unavailable');
      status = 503;
      body = {
        error: QueryErrorCodes.UNAVAILABLE,
        message: 'the read models are unavailable right now; retry',
      };
      reply.header('retry-after', '5');
    } else {
      logger.error({ err, reqId: request.id }, 'unexpected error');
      status = 500;
      body = { error: QueryErrorCodes.INTERNAL, message: 'internal error' };
    }
    if (request.routeOptions.config.scope === 'query') metrics.rejected.inc({ reason: body.error });
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler({}, (request, reply) => {
    reply
      .code(404)
      .send({ error: QueryErrorCodes.NOT_FOUND, message: `no route ${request.method} ${request.url}` });
  });

  const publicRoute = { config: { rateLimit: false as const } };
  app.get(
    '/healthz',
    { ...publicRoute, schema: { summary: 'The process is up', tags: ['health'] } },
    async () => ({
      status: 'ok',
    }),
  );
  app.get(
    '/readyz',
    { ...publicRoute, schema: { summary: 'Redis is reachable', tags: ['health'] } },
    async (_request, reply) => {
      const redis = await readiness();
      const ready = redis === 'ok';
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: { redis } });
    },
  );
  app.get('/openapi.json', { ...publicRoute, schema: { hide: true } }, async () => app.swagger());

  registerQueryRoutes(app, { source, metrics, maxPageSize: settings.maxPageSize });
  registerAnalyticsRoutes(app, { source, metrics, defaultTopN: config.analytics.topN });
  registerStreamRoute(app, hub);
  await registerDashboard(app, { source, config, logger });
  await app.ready();
  return { app, metrics, registry, authenticator, hub };
}
