/**
 * The HTTP ingestion service as a Fastify app, built by {@link buildIngestServer} from its
 * dependencies so tests can inject them, on lib/http/app.ts (shared with the query service). Request
 * lifecycle:
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
import type { FastifyError, FastifyInstance } from 'fastify';
import type { AuthSettings, TributaryConfig } from '../../lib/config.js';
import { PUBLIC_ROUTE, buildServiceApp } from '../../lib/http/app.js';
import type { MappedError } from '../../lib/http/app.js';
import { createAuthenticator } from '../../lib/http-auth.js';
import type { Authenticator } from '../../lib/http-auth.js';
import type { Logger } from '../../lib/logger.js';
import { createMetricsRegistry } from '../../lib/metrics.js';
import type { Registry } from '../../lib/metrics.js';
import { HttpErrorCodes } from './http-error.js';
import type { HttpErrorCode } from './http-error.js';
import { createIngestMetrics } from './ingest-metrics.js';
import type { IngestMetrics } from './ingest-metrics.js';
import { swaggerOptions } from './openapi.js';
import { Readiness, brokerProbe, registryProbe } from './readiness.js';
import type { EventCatalog } from '../../schemas/catalog.js';
import { asyncApiDocument } from '../../schemas/asyncapi.js';
import { packageVersion } from '../../lib/package-info.js';
import type { ReadinessProbe } from './readiness.js';
import type { IngestRoutes } from './route-kit.js';
import { registerIngestRoutes } from './routes.js';
import type { IngestPublisher } from './routes.js';

export interface IngestServerOptions {
  /** The app's events: what the routes take and the OpenAPI document describes. */
  readonly catalog: EventCatalog;
  /** The app's own routes (`defineApp({ ingestRoutes })`). */
  readonly appRoutes?: IngestRoutes | undefined;
  /** The app's name: titles `GET /asyncapi.json`. Default `tributary`. */
  readonly appName?: string;
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
  /** The app's own routes (`METHOD /path`), beside `/events` and `/events/batch`. */
  readonly appRoutes: readonly string[];
}

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

/** Fastify's own 4xx errors (body parsing, limits) and 503s as the ingestion service answers them. */
function mapIngestError(err: FastifyError, bodyLimitBytes: number): MappedError<HttpErrorCode> | undefined {
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    const code = fastifyErrorCode(err, err.statusCode);
    const message =
      code === HttpErrorCodes.PAYLOAD_TOO_LARGE
        ? `the body exceeds ${bodyLimitBytes} bytes`
        : code === HttpErrorCodes.UNSUPPORTED_MEDIA_TYPE
          ? 'Content-Type must be application/json (or application/x-ndjson on /events/batch)'
          : code === HttpErrorCodes.INVALID_JSON
            ? 'the body is not valid JSON'
            : err.message;
    return { status: err.statusCode, body: { error: code, message } };
  }
  if (err.statusCode === 503)
    return { status: 503, body: { error: HttpErrorCodes.UNAVAILABLE, message: err.message } };
  return undefined;
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

  const app = await buildServiceApp<HttpErrorCode>({
    logger,
    authenticator,
    registry,
    trustProxy: settings.trustProxy,
    bodyLimitBytes: settings.bodyLimitBytes,
    // User ids up to 256 characters, as the route schemas say (the router's default is 100).
    maxParamLength: 256,
    rateLimitPerMinute: settings.rateLimitPerMinute,
    swagger: swaggerOptions(),
    codes: {
      invalidRequest: HttpErrorCodes.INVALID_REQUEST,
      notFound: HttpErrorCodes.NOT_FOUND,
      rateLimited: HttpErrorCodes.RATE_LIMITED,
      unavailable: HttpErrorCodes.UNAVAILABLE,
      internal: HttpErrorCodes.INTERNAL,
    },
    frameworkMessage: (err) =>
      err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? 'a path segment is longer than 256 characters'
        : 'the URL is malformed',
    mapError: (err) => mapIngestError(err, settings.bodyLimitBytes),
    onRefused: (request, code) => {
      if (request.routeOptions.config.scope === 'ingest') metrics.rejected.inc({ reason: code });
    },
    readiness: {
      summary: 'Kafka and the schema registry are reachable',
      check: () => readiness.check(),
    },
  });

  // The topics and events this service publishes, as AsyncAPI 3.0 (public, like /openapi.json).
  const asyncApi = asyncApiDocument(options.catalog, config, {
    title: options.appName ?? 'tributary',
    version: packageVersion(),
  });
  app.get('/asyncapi.json', { ...PUBLIC_ROUTE, schema: { hide: true } }, async () => asyncApi);
  const appRoutes = registerIngestRoutes(app, {
    catalog: options.catalog,
    appRoutes: options.appRoutes,
    publisher,
    metrics,
    batchMaxEvents: settings.batchMaxEvents,
    maxClockSkewMs: config.events.maxClockSkewMs,
    logger,
  });
  app.addHook('onClose', async () => {
    await readiness.close();
  });
  await app.ready();
  return { app, metrics, registry, authenticator, appRoutes };
}
