/**
 * The HTTP ingestion service as a Fastify app, built by {@link buildIngestServer} from its
 * dependencies so tests can inject them. Request lifecycle:
 *
 * 1. `onRequest`: authenticate the credential (lib/http-auth.ts), then the rate limit, keyed by
 *    the caller (API key name, token subject) or, for a refused credential, the client IP.
 * 2. `preParsing`: refuse (401/403) before any body is read.
 * 3. Body: JSON (or NDJSON on `/events/batch`) up to the body limit (413).
 * 4. Handler: Avro-schema validation (400 with field paths), publish, `202` once acked (or 503).
 *
 * Every refusal has the same body, `{ error, message, fields? }`, from one error handler; nothing
 * reaches the client as a 500 unless it is a bug.
 */
import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthSettings, TributaryConfig } from '../../lib/config.js';
import { createAuthenticator, isAuthError, rateLimitKey, registerHttpAuth } from '../../lib/http-auth.js';
import type { Authenticator } from '../../lib/http-auth.js';
import type { Logger } from '../../lib/logger.js';
import { createMetricsRegistry, instrumentHttp } from '../../lib/metrics.js';
import type { Registry } from '../../lib/metrics.js';
import { HttpError, HttpErrorCodes, isHttpError } from './http-error.js';
import type { ErrorBody, FieldError, HttpErrorCode } from './http-error.js';
import { createIngestMetrics } from './ingest-metrics.js';
import type { IngestMetrics } from './ingest-metrics.js';
import { swaggerOptions } from './openapi.js';
import { Readiness, brokerProbe, registryProbe } from './readiness.js';
import type { ReadinessProbe } from './readiness.js';
import { registerIngestRoutes } from './routes.js';
import type { IngestPublisher } from './routes.js';

export interface IngestServerOptions {
  readonly config: TributaryConfig;
  readonly logger: Logger;
  /** The process's {@link Publisher} (owned by the caller, who closes it after the server). */
  readonly publisher: IngestPublisher;
  /** Auth settings to use instead of `config.auth` (e.g. with a generated development key). */
  readonly auth?: AuthSettings;
  /** An authenticator to use instead of one built from the settings. */
  readonly authenticator?: Authenticator;
  /** Readiness probes; default: the Kafka broker and the schema registry from config. */
  readonly probes?: readonly ReadinessProbe[];
  /** Metrics registry; default: a new one with process metrics. */
  readonly registry?: Registry;
}

/** The app, with what tests and the service want to reach. */
export interface IngestServer {
  readonly app: FastifyInstance;
  readonly metrics: IngestMetrics;
  readonly registry: Registry;
  readonly authenticator: Authenticator;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Maps Fastify's own errors (body parsing, schema validation) to our codes. */
function fastifyErrorCode(err: FastifyError, status: number): HttpErrorCode {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return HttpErrorCodes.INVALID_JSON;
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return HttpErrorCodes.PAYLOAD_TOO_LARGE;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return HttpErrorCodes.UNSUPPORTED_MEDIA_TYPE;
    default:
      // A JSON body whose parse failed in a way Fastify reports as a SyntaxError (proto poisoning).
      if (err instanceof SyntaxError) return HttpErrorCodes.INVALID_JSON;
      if (status === 413) return HttpErrorCodes.PAYLOAD_TOO_LARGE;
      if (status === 415) return HttpErrorCodes.UNSUPPORTED_MEDIA_TYPE;
      if (status === 404) return HttpErrorCodes.NOT_FOUND;
      return HttpErrorCodes.INVALID_REQUEST;
  }
}

/** Field errors from Fastify's JSON-Schema validation of params and query strings. */
function validationFields(err: FastifyError): FieldError[] {
  return (err.validation ?? []).map((v) => {
    const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
    const path = [err.validationContext, ...v.instancePath.split('/').filter(Boolean), missing]
      .filter(Boolean)
      .join('.');
    return { path, message: v.message ?? 'invalid' };
  });
}

/** Builds the ingestion app (routes, auth, rate limit, OpenAPI, health, metrics); does not listen. */
export async function buildIngestServer(options: IngestServerOptions): Promise<IngestServer> {
  const { config, publisher } = options;
  const settings = config.ingest;
  const logger = options.logger.child({ component: 'ingest-http' });
  const authenticator = options.authenticator ?? createAuthenticator(options.auth ?? config.auth);
  const registry = options.registry ?? createMetricsRegistry({ service: 'ingest' });
  const metrics = createIngestMetrics(registry);
  const readiness = new Readiness(
    options.probes ?? [brokerProbe(config, logger), registryProbe(config.registry.url.value)],
    logger,
  );

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Our own onResponse log below replaces Fastify's two info lines per request.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: settings.bodyLimitBytes,
    trustProxy: settings.trustProxy,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Draining is ours (below), so that its 503 has the same body as every other refusal.
    return503OnClosing: false,
    // User ids up to 256 characters, as the route schemas say (the router's default is 100).
    routerOptions: { maxParamLength: 256 },
    // URLs the router refuses before any route runs: same error body as everything else.
    frameworkErrors: (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const status = err.statusCode ?? 400;
      const message =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'a path segment is longer than 256 characters'
          : 'the URL is malformed';
      reply.code(status).send({ error: HttpErrorCodes.INVALID_REQUEST, message });
    },
  });

  // Graceful shutdown: once `close()` starts, new requests get 503, and every response (including
  // those of requests in flight) closes its connection, so the server is not kept open by idle
  // keep-alive sockets until their timeout.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onRequest', async () => {
    if (draining) {
      throw new HttpError(503, HttpErrorCodes.UNAVAILABLE, 'the service is shutting down; retry', [], {
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
        new HttpError(
          429,
          HttpErrorCodes.RATE_LIMITED,
          `rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`,
        ),
    });
  }
  await app.register(swagger, swaggerOptions());

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let status: number;
    let body: ErrorBody;
    if (isHttpError(err)) {
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
      body = { error: HttpErrorCodes.INVALID_REQUEST, message: err.message, fields: validationFields(err) };
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      const code = fastifyErrorCode(err, status);
      const message =
        code === HttpErrorCodes.PAYLOAD_TOO_LARGE
          ? `the body exceeds ${settings.bodyLimitBytes} bytes`
          : code === HttpErrorCodes.UNSUPPORTED_MEDIA_TYPE
            ? 'Content-Type must be application/json (or application/x-ndjson on /events/batch)'
            : code === HttpErrorCodes.INVALID_JSON
              ? 'the body is not valid JSON'
              : err.message;
      body = { error: code, message };
    } else if (err.statusCode === 503) {
      status = 503;
      body = { error: HttpErrorCodes.UNAVAILABLE, message: err.message };
    } else {
      logger.error({ err, reqId: request.id }, 'unexpected error');
      status = 500;
      body = { error: HttpErrorCodes.INTERNAL, message: 'internal error' };
    }
    if (request.routeOptions.config.scope === 'ingest') metrics.rejected.inc({ reason: body.error });
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler({}, (request, reply) => {
    reply
      .code(404)
      .send({ error: HttpErrorCodes.NOT_FOUND, message: `no route ${request.method} ${request.url}` });
  });

  const publicRoute = { config: { rateLimit: false as const } };
  app.get(
    '/healthz',
    { ...publicRoute, schema: { summary: 'The process is up', tags: ['health'] } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    { ...publicRoute, schema: { summary: 'Kafka and the schema registry are reachable', tags: ['health'] } },
    async (_request, reply) => {
      const report = await readiness.check();
      return reply
        .code(report.ready ? 200 : 503)
        .send({ status: report.ready ? 'ready' : 'not_ready', checks: report.checks });
    },
  );
  app.get('/openapi.json', { ...publicRoute, schema: { hide: true } }, async () => app.swagger());

  registerIngestRoutes(app, { publisher, metrics, batchMaxEvents: settings.batchMaxEvents, logger });
  app.addHook('onClose', async () => {
    await readiness.close();
  });
  await app.ready();
  return { app, metrics, registry, authenticator };
}
