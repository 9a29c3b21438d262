/**
 * The ingestion routes. Each turns its body into events (request-body.ts), publishes them through
 * the one {@link Publisher} of the process and answers `202 { eventIds }` once the broker has
 * acknowledged every one; nothing is sent for a request with any invalid event.
 *
 * - `POST /events`: one `{ type, data }` envelope.
 * - `POST /events/batch`: a JSON array of envelopes, or NDJSON (`application/x-ndjson`).
 * - `POST /users`, `PATCH /users/:id`, `DELETE /users/:id`: UserCreated, UserUpdated, UserDeleted.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { ErrorCodes, hasCode } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { eventCatalog } from '../../schemas/catalog.js';
import type { EventType, TributaryEvent } from '../../schemas/catalog.js';
import type { EventClock } from '../../schemas/validate.js';
import type { Publisher } from '../publisher.js';
import { completeEvent, onlyUnknownType, parseEnvelope, parseNdjson } from './request-body.js';
import type { FieldError } from './http-error.js';
import { HttpError, HttpErrorCodes, invalidEvents } from './http-error.js';
import type { IngestMetrics } from './ingest-metrics.js';
import {
  SECURED,
  acceptedSchema,
  anyEnvelopeSchema,
  ingestErrorResponses,
  payloadSchema,
} from './openapi.js';
import type { JsonSchema } from './openapi.js';

/** What the routes need of a publisher: the {@link Publisher}'s batch call. */
export type IngestPublisher = Pick<Publisher, 'publishBatch'>;

export interface IngestRoutesOptions {
  readonly publisher: IngestPublisher;
  readonly metrics: IngestMetrics;
  readonly batchMaxEvents: number;
  /** `config.events.maxClockSkewMs`: an `occurredAt` further ahead of now is a 400. */
  readonly maxClockSkewMs: number;
  readonly logger: Logger;
}

/** Seconds a client should wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 5;

const USER_FIELDS = ['email', 'name', 'plan', 'country'] as const;
const DELETION_REASONS = eventCatalog.UserDeleted.schema.fields.find((f) => f.name === 'reason')!.type as {
  readonly symbols: readonly string[];
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Route options for an ingestion route: the `ingest` scope, OpenAPI docs and response schemas, and
 * the request body as documentation only (see openapi.ts).
 */
function ingestRoute(
  summary: string,
  body: JsonSchema | undefined,
  extra: { params?: JsonSchema; querystring?: JsonSchema; consumes?: string[]; accepted?: JsonSchema } = {},
): RouteShorthandOptions {
  const schema = {
    summary,
    tags: ['ingest'],
    security: SECURED as Record<string, string[]>[],
    ...(extra.params ? { params: extra.params } : {}),
    ...(extra.querystring ? { querystring: extra.querystring } : {}),
    response: { 202: extra.accepted ?? acceptedSchema(), ...ingestErrorResponses() },
  };
  return {
    schema,
    config: {
      scope: 'ingest',
      swaggerTransform: ({ schema: s, url }) => ({
        schema: { ...s, ...(body ? { body } : {}), ...(extra.consumes ? { consumes: extra.consumes } : {}) },
        url,
      }),
    },
  };
}

const USER_ID_PARAMS: JsonSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'The user id' } },
};

/** Registers the ingestion routes on `app`. */
export function registerIngestRoutes(app: FastifyInstance, options: IngestRoutesOptions): void {
  const { publisher, metrics, batchMaxEvents, maxClockSkewMs, logger } = options;
  const clock = (): EventClock => ({ now: Date.now(), maxClockSkewMs });

  /** Publishes, times it, counts accepted events; maps a failure to 400 (invalid) or 503. */
  async function publish(request: FastifyRequest, events: readonly TributaryEvent[]): Promise<string[]> {
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

  function parseAll(items: readonly unknown[]): TributaryEvent[] {
    const now = clock();
    const events: TributaryEvent[] = [];
    const errors: FieldError[] = [];
    items.forEach((item, i) => {
      const parsed = parseEnvelope(item, `[${i}]`, now);
      if (parsed.ok) events.push(parsed.value);
      else errors.push(...parsed.errors);
    });
    if (errors.length > 0) {
      throw invalidEvents(errors, onlyUnknownType(errors) ? HttpErrorCodes.UNKNOWN_EVENT_TYPE : undefined);
    }
    return events;
  }

  /** A resource route's payload: the body itself, paths without a `data.` prefix. */
  function resourceEvent(type: EventType, payload: Record<string, unknown>): TributaryEvent {
    const parsed = completeEvent(type, payload, '', clock());
    if (!parsed.ok) throw invalidEvents(parsed.errors);
    return parsed.value;
  }

  function bodyObject(body: unknown): Record<string, unknown> {
    if (body === undefined || body === null) return {};
    if (!isPlainObject(body)) {
      throw new HttpError(400, HttpErrorCodes.INVALID_EVENT, 'the body must be a JSON object');
    }
    return body;
  }

  // Bodies are strings here; request-body.ts splits NDJSON itself, so a bad line is a 400 naming it.
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_request, body, done) => {
    const parsed = parseNdjson(body as string, batchMaxEvents);
    if (parsed.ok) done(null, parsed.value);
    else done(invalidEvents(parsed.errors, HttpErrorCodes.INVALID_JSON), undefined);
  });

  app.post('/events', ingestRoute('Publish one event', anyEnvelopeSchema()), async (request, reply) => {
    const parsed = parseEnvelope(request.body, '', clock());
    if (!parsed.ok) {
      throw invalidEvents(
        parsed.errors,
        onlyUnknownType(parsed.errors) ? HttpErrorCodes.UNKNOWN_EVENT_TYPE : undefined,
      );
    }
    return reply.code(202).send({ eventIds: await publish(request, [parsed.value]) });
  });

  app.post(
    '/events/batch',
    ingestRoute(
      `Publish up to ${batchMaxEvents} events (JSON array, or NDJSON with Content-Type application/x-ndjson)`,
      { type: 'array', minItems: 1, maxItems: batchMaxEvents, items: anyEnvelopeSchema() },
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

  app.post(
    '/users',
    ingestRoute(
      'Create a user (publishes UserCreated)',
      payloadSchema('UserCreated', { optional: ['userId'] }),
      {
        accepted: acceptedSchema({ userId: { type: 'string' } }),
      },
    ),
    async (request, reply) => {
      const body = bodyObject(request.body);
      const payload = { ...body, userId: body.userId === undefined ? randomUUID() : body.userId };
      const event = resourceEvent('UserCreated', payload);
      const eventIds = await publish(request, [event]);
      return reply.code(202).send({ eventIds, userId: payload.userId });
    },
  );

  app.patch<{ Params: { id: string } }>(
    '/users/:id',
    ingestRoute(
      'Update a user: only the given fields (publishes UserUpdated; fields left out are null, i.e. unchanged)',
      {
        ...payloadSchema('UserUpdated', { omit: ['userId'] }),
        anyOf: USER_FIELDS.map((f) => ({ required: [f], properties: { [f]: { not: { type: 'null' } } } })),
      },
      { params: USER_ID_PARAMS },
    ),
    async (request, reply) => {
      const body = bodyObject(request.body);
      const userId = request.params.id;
      if (body.userId !== undefined && body.userId !== userId) {
        throw invalidEvents([
          { path: 'userId', message: 'is set by the URL path; leave it out of the body' },
        ]);
      }
      if (!USER_FIELDS.some((f) => body[f] !== undefined && body[f] !== null)) {
        throw invalidEvents([
          { path: '', message: `nothing to update: give at least one of ${USER_FIELDS.join(', ')}` },
        ]);
      }
      const changes = Object.fromEntries(USER_FIELDS.map((f) => [f, null]));
      const event = resourceEvent('UserUpdated', { ...changes, ...body, userId });
      return reply.code(202).send({ eventIds: await publish(request, [event]) });
    },
  );

  app.delete<{ Params: { id: string }; Querystring: { reason?: string } }>(
    '/users/:id',
    ingestRoute('Delete a user (publishes UserDeleted)', undefined, {
      params: USER_ID_PARAMS,
      querystring: {
        type: 'object',
        properties: { reason: { type: 'string', enum: [...DELETION_REASONS.symbols], default: 'OTHER' } },
      },
    }),
    async (request, reply) => {
      const event = resourceEvent('UserDeleted', {
        userId: request.params.id,
        reason: request.query.reason ?? 'OTHER',
      });
      return reply.code(202).send({ eventIds: await publish(request, [event]) });
    },
  );
}
