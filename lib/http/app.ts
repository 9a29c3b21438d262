/**
 * The Fastify app both HTTP services (ingestion, query) are built on; each adds its routes and
 * says how its own errors map to responses. What it sets up, in request order:
 *
 * 1. Request id: a well-formed `X-Request-Id` is kept, otherwise a UUID; echoed on every reply.
 * 2. `onRequest`: 503 while shutting down, then authentication (lib/http-auth.ts) and the rate
 *    limit, keyed by the caller (API key name, token subject) or, for a refused credential, the IP.
 * 3. One error handler: every refusal has the body `{ error, message, fields? }`; a route's
 *    {@link ServiceHttpError}, an auth error and a JSON-Schema validation error are handled here,
 *    the rest by the service's `mapError`, and whatever is left is a 500 (a bug), logged.
 * 4. `onResponse`: one debug line per request (a warning for a 5xx) instead of Fastify's two.
 *
 * Also `/healthz`, `/readyz` (the service's check), `/openapi.json` and Prometheus metrics.
 * Graceful shutdown: once `close()` starts, new requests get 503 and every response closes its
 * connection, so idle keep-alive sockets do not hold the server open until their timeout.
 */
import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { SwaggerOptions } from '@fastify/swagger';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TrustProxy } from '../config.js';
import { isAuthError, rateLimitKey, registerHttpAuth } from '../http-auth.js';
import type { Authenticator } from '../http-auth.js';
import type { Logger } from '../logger.js';
import { instrumentHttp } from '../metrics.js';
import type { Registry } from '../metrics.js';
import { ServiceHttpError, isServiceHttpError, validationFields } from './errors.js';
import type { ErrorBody } from './errors.js';

/** An error response chosen by a service's `mapError`. */
export interface MappedError<C extends string> {
  readonly status: number;
  readonly body: ErrorBody<C>;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The answer of `/readyz`: ready or not, and each dependency's state. */
export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, unknown>>;
}

export interface ServiceAppOptions<C extends string> {
  readonly logger: Logger;
  readonly authenticator: Authenticator;
  readonly registry: Registry;
  /** Whose `X-Forwarded-For` is believed for the client IP (lib/config.ts {@link TrustProxy}). */
  readonly trustProxy: TrustProxy;
  /** Largest body accepted (413 beyond); Fastify's default (1 MiB) when unset. */
  readonly bodyLimitBytes?: number;
  /** Longest path segment the router accepts. */
  readonly maxParamLength: number;
  /** Requests per minute per caller; 0 turns the limit off. */
  readonly rateLimitPerMinute: number;
  readonly swagger: SwaggerOptions;
  /** The service's codes for the refusals this module makes itself. */
  readonly codes: {
    readonly invalidRequest: C;
    readonly notFound: C;
    readonly rateLimited: C;
    readonly unavailable: C;
    readonly internal: C;
  };
  /** The message for a URL the router refuses before any route runs. */
  readonly frameworkMessage: (err: FastifyError) => string;
  /** Maps an error that is not a refusal, auth or validation error; `undefined` makes it a 500. */
  readonly mapError: (err: FastifyError, request: FastifyRequest) => MappedError<C> | undefined;
  /** Called with the code of every refused request on a route of the service's scope (metrics). */
  readonly onRefused: (request: FastifyRequest, code: C) => void;
  /** `/readyz`: what it checks (OpenAPI summary) and the check itself. */
  readonly readiness: { readonly summary: string; readonly check: () => Promise<ReadinessReport> };
  /** Runs when shutdown begins, before the requests in flight finish (e.g. ending live streams). */
  readonly onDrain?: () => Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Route options of the public routes (health, OpenAPI): no credential, no rate limit. */
export const PUBLIC_ROUTE = { config: { rateLimit: false as const } };

/** Builds the shared part of a service's app; the caller adds its routes, then calls `app.ready()`. */
export async function buildServiceApp<C extends string>(
  options: ServiceAppOptions<C>,
): Promise<FastifyInstance> {
  const { logger, codes } = options;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Our own onResponse log below replaces Fastify's two info lines per request.
    logController: new LogController({ disableRequestLogging: true }),
    ...(options.bodyLimitBytes === undefined ? {} : { bodyLimit: options.bodyLimitBytes }),
    // A copy: Fastify's type wants a mutable array.
    trustProxy: options.trustProxy === false ? false : [...options.trustProxy],
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Draining is ours (below), so that its 503 has the same body as every other refusal.
    return503OnClosing: false,
    routerOptions: { maxParamLength: options.maxParamLength },
    frameworkErrors: (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      reply
        .code(err.statusCode ?? 400)
        .send({ error: codes.invalidRequest, message: options.frameworkMessage(err) });
    },
  });

  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
    await options.onDrain?.();
  });
  app.addHook('onRequest', async () => {
    if (draining) {
      throw new ServiceHttpError(503, codes.unavailable, 'the service is shutting down; retry', [], {
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

  instrumentHttp(app, options.registry);
  registerHttpAuth(app, options.authenticator);
  if (options.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: options.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: rateLimitKey,
      errorResponseBuilder: (_request, context) =>
        new ServiceHttpError(
          429,
          codes.rateLimited,
          `rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`,
        ),
    });
  }
  await app.register(swagger, options.swagger);

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let status: number;
    let body: ErrorBody;
    if (isServiceHttpError(err)) {
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
      body = { error: codes.invalidRequest, message: err.message, fields: validationFields(err) };
    } else {
      const mapped = options.mapError(err, request);
      if (mapped) {
        status = mapped.status;
        body = mapped.body;
        if (mapped.headers) reply.headers(mapped.headers);
      } else {
        logger.error({ err, reqId: request.id }, 'unexpected error');
        status = 500;
        body = { error: codes.internal, message: 'internal error' };
      }
    }
    options.onRefused(request, body.error as C);
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler({}, (request, reply) => {
    reply.code(404).send({ error: codes.notFound, message: `no route ${request.method} ${request.url}` });
  });

  app.get(
    '/healthz',
    { ...PUBLIC_ROUTE, schema: { summary: 'The process is up', tags: ['health'] } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    { ...PUBLIC_ROUTE, schema: { summary: options.readiness.summary, tags: ['health'] } },
    async (_request, reply) => {
      const report = await options.readiness.check();
      return reply
        .code(report.ready ? 200 : 503)
        .send({ status: report.ready ? 'ready' : 'not_ready', checks: report.checks });
    },
  );
  app.get('/openapi.json', { ...PUBLIC_ROUTE, schema: { hide: true } }, async () => app.swagger());
  return app;
}
