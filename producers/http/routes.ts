/**
 * The ingestion routes. Each turns its body into events (request-body.ts), publishes them through
 * the one {@link Publisher} of the process and answers `202 { eventIds }` once the broker has
 * acknowledged every one; nothing is sent for a request with any invalid event.
 *
 * - `POST /events`: one `{ type, data }` envelope.
 * - `POST /events/batch`: a JSON array of envelopes, or NDJSON (`application/x-ndjson`).
 * - the app's own routes (`defineApp({ ingestRoutes })`, written with route-kit.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCodes, hasCode } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { AppEvent, EventCatalog } from '../../schemas/catalog.js';
import type { EventClock } from '../../schemas/validate.js';
import type { Publisher } from '../publisher.js';
import { onlyUnknownType, parseEnvelope, parseNdjson } from './request-body.js';
import type { FieldError } from './http-error.js';
import { HttpError, HttpErrorCodes, invalidEvents } from './http-error.js';
import type { IngestMetrics } from './ingest-metrics.js';
import { anyEnvelopeSchema } from './openapi.js';
import { ingestRoute } from './route-options.js';
import { ingestRouteKit, type IngestRoutes } from './route-kit.js';

/** What the routes need of a publisher: the {@link Publisher}'s batch call. */
export type IngestPublisher = Pick<Publisher, 'publishBatch'>;

export interface IngestRoutesOptions {
  /** The app's events: what `POST /events` takes and its OpenAPI documents. */
  readonly catalog: EventCatalog;
  readonly publisher: IngestPublisher;
  readonly metrics: IngestMetrics;
  readonly batchMaxEvents: number;
  /** `config.events.maxClockSkewMs`: an `occurredAt` further ahead of now is a 400. */
  readonly maxClockSkewMs: number;
  readonly logger: Logger;
  /** The app's own routes. */
  readonly appRoutes?: IngestRoutes | undefined;
}

/** Seconds a client should wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 5;

/** Registers the ingestion routes on `app`; returns the app's own (`METHOD /path`). */
export function registerIngestRoutes(app: FastifyInstance, options: IngestRoutesOptions): string[] {
  const { catalog, publisher, metrics, batchMaxEvents, maxClockSkewMs, logger } = options;
  const clock = (): EventClock => ({ now: Date.now(), maxClockSkewMs });

  /** Publishes, times it, counts accepted events; maps a failure to 400 (invalid) or 503. */
  async function publish(request: FastifyRequest, events: readonly AppEvent[]): Promise<string[]> {
    const stop = metrics.publishDuration.startTimer();
    try {
      const results = await publisher.publishBatch(events);
      stop({ outcome: 'acked' });
      for (const r of results) metrics.accepted.inc({ type: r.type });
      return results.map((r) => r.eventId);
    } catch (err) {
      stop({ outcome: 'failed' });
      // The edge checks should have caught these; the publisher is the last word.
      if (hasCode(err, ErrorCodes.EVENT_INVALID) || hasCode(err, ErrorCodes.EVENT_TYPE_UNKNOWN)) {
        throw new HttpError(400, HttpErrorCodes.INVALID_EVENT, err.message, [], {}, { cause: err });
      }
      // Refused because this process is shutting down: expected, not an incident.
      const level = hasCode(err, ErrorCodes.PRODUCER_CLOSED) ? 'warn' : 'error';
      logger[level]({ err, reqId: request.id, events: events.length }, 'publish failed');
      throw new HttpError(
        503,
        HttpErrorCodes.UNAVAILABLE,
        'the events could not all be published (Kafka or the schema registry is unavailable); retry ' +
          'later with the same eventIds: consumers apply an event id once within their de-duplication ' +
          'horizon (TRIBUTARY_DEDUP_HORIZON_MS, 15 minutes by default)',
        [],
        { 'retry-after': String(RETRY_AFTER_SECONDS) },
        { cause: err },
      );
    }
  }

  function parseAll(items: readonly unknown[]): AppEvent[] {
    const now = clock();
    const events: AppEvent[] = [];
    const errors: FieldError[] = [];
    items.forEach((item, i) => {
      const parsed = parseEnvelope(catalog, item, `[${i}]`, now);
      if (parsed.ok) events.push(parsed.value);
      else errors.push(...parsed.errors);
    });
    if (errors.length > 0) {
      throw invalidEvents(errors, onlyUnknownType(errors) ? HttpErrorCodes.UNKNOWN_EVENT_TYPE : undefined);
    }
    return events;
  }

  // Bodies are strings here; request-body.ts splits NDJSON itself, so a bad line is a 400 naming it.
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_request, body, done) => {
    const parsed = parseNdjson(body as string, batchMaxEvents);
    if (parsed.ok) done(null, parsed.value);
    else done(invalidEvents(parsed.errors, HttpErrorCodes.INVALID_JSON), undefined);
  });

  app.post(
    '/events',
    ingestRoute('Publish one event', anyEnvelopeSchema(catalog)),
    async (request, reply) => {
      const parsed = parseEnvelope(catalog, request.body, '', clock());
      if (!parsed.ok) {
        throw invalidEvents(
          parsed.errors,
          onlyUnknownType(parsed.errors) ? HttpErrorCodes.UNKNOWN_EVENT_TYPE : undefined,
        );
      }
      return reply.code(202).send({ eventIds: await publish(request, [parsed.value]) });
    },
  );

  app.post(
    '/events/batch',
    ingestRoute(
      `Publish up to ${batchMaxEvents} events (JSON array, or NDJSON with Content-Type application/x-ndjson)`,
      { type: 'array', minItems: 1, maxItems: batchMaxEvents, items: anyEnvelopeSchema(catalog) },
      { consumes: ['application/json', 'application/x-ndjson'] },
    ),
    async (request, reply) => {
      const body = request.body;
      if (!Array.isArray(body)) {
        throw new HttpError(
          400,
          HttpErrorCodes.INVALID_EVENT,
          'the body must be a JSON array of events (or NDJSON)',
        );
      }
      if (body.length === 0) throw new HttpError(400, HttpErrorCodes.INVALID_EVENT, 'the batch is empty');
      if (body.length > batchMaxEvents) {
        throw new HttpError(
          413,
          HttpErrorCodes.BATCH_TOO_LARGE,
          `a batch holds at most ${batchMaxEvents} events; split it into smaller requests`,
        );
      }
      return reply.code(202).send({ eventIds: await publish(request, parseAll(body)) });
    },
  );

  const own: string[] = [];
  if (options.appRoutes) {
    app.addHook('onRoute', (route) => {
      const methods = [route.method].flat().filter((m) => m !== 'HEAD');
      if (methods.length > 0) own.push(`${methods.join(', ')} ${route.url}`);
    });
    options.appRoutes(ingestRouteKit(app, catalog, publish, clock));
  }
  return own;
}
