/**
 * What an app's own ingestion routes are written with (`defineApp({ ingestRoutes })`): resource
 * routes such as the shop's `POST /users` that turn a request into events of the app and publish
 * them through the service's publisher, with the same auth, limits, OpenAPI docs, validation and
 * answers (`202 { eventIds }`, `400` naming each bad field, `503` with Retry-After) as `/events`.
 */
import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { AppEvent, EventCatalog } from '../../schemas/catalog.js';
import type { EventClock } from '../../schemas/validate.js';
import type { FieldError } from './http-error.js';
import { HttpError, HttpErrorCodes, invalidEvents } from './http-error.js';
import { acceptedSchema, payloadSchema, type JsonSchema } from './openapi.js';
import { completeEvent, isPlainObject } from './request-body.js';
import { ingestRoute } from './route-options.js';

export interface IngestRouteKit {
  /** The ingestion service's Fastify instance: register routes on it. */
  readonly app: FastifyInstance;
  readonly catalog: EventCatalog;
  /** Options for a route: the `ingest` scope, OpenAPI summary, body and responses. */
  route(
    summary: string,
    body?: JsonSchema,
    extra?: { params?: JsonSchema; querystring?: JsonSchema; accepted?: JsonSchema },
  ): RouteShorthandOptions;
  /** The JSON Schema of an event type's payload (`omit`: set by the path; `optional`: filled in). */
  payloadSchema(
    type: string,
    options?: { omit?: readonly string[]; optional?: readonly string[] },
  ): JsonSchema;
  /** The `202` answer's schema, with fields of the route's own beside `eventIds`. */
  acceptedSchema(extra?: Record<string, JsonSchema>): JsonSchema;
  /** The body as a JSON object (`{}` when there is none); anything else is a 400. */
  bodyObject(body: unknown): Record<string, unknown>;
  /**
   * An event of `type` from a payload: `eventId` and `occurredAt` filled in when absent, checked
   * against the schema, the clock and the key; a 400 naming each bad field (no `data.` prefix).
   */
  event(type: string, payload: Readonly<Record<string, unknown>>): AppEvent;
  /** Publishes; resolves with the event ids once the broker acknowledged all (else 400 / 503). */
  publish(request: FastifyRequest, events: readonly AppEvent[]): Promise<string[]>;
  /** A 400 naming each bad field. */
  invalid(fields: readonly FieldError[]): Error;
}

/** An app's hook that registers its own ingestion routes. */
export type IngestRoutes = (kit: IngestRouteKit) => void;

/** The kit for `app`, publishing through `publish`. */
export function ingestRouteKit(
  app: FastifyInstance,
  catalog: EventCatalog,
  publish: IngestRouteKit['publish'],
  clock: () => EventClock,
): IngestRouteKit {
  return {
    app,
    catalog,
    route: (summary, body, extra = {}) => ingestRoute(summary, body, extra),
    payloadSchema: (type, options) => payloadSchema(catalog, type, options),
    acceptedSchema: (extra) => acceptedSchema(extra),
    bodyObject(body) {
      if (body === undefined || body === null) return {};
      if (!isPlainObject(body)) {
        throw new HttpError(400, HttpErrorCodes.INVALID_EVENT, 'the body must be a JSON object');
      }
      return body;
    },
    event(type, payload) {
      const parsed = completeEvent(catalog, type, payload, '', clock());
      if (!parsed.ok) throw invalidEvents(parsed.errors);
      return parsed.value;
    },
    publish,
    invalid: (fields) => invalidEvents(fields),
  };
}
