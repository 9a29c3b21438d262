/**
 * The shop's resource routes on the ingestion service: `POST /users`, `PATCH /users/:id`,
 * `DELETE /users/:id` publish UserCreated, UserUpdated, UserDeleted. Registered for an app whose
 * catalog has those three events (the shop example); they leave the engine with the rest of the
 * shop in the next step of the app-definition work.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppEvent, EventCatalog } from '../../schemas/catalog.js';
import type { EventClock } from '../../schemas/validate.js';
import { HttpError, HttpErrorCodes, invalidEvents } from './http-error.js';
import { acceptedSchema, payloadSchema, type JsonSchema } from './openapi.js';
import { completeEvent } from './request-body.js';
import { ingestRoute } from './route-options.js';

const USER_EVENTS = ['UserCreated', 'UserUpdated', 'UserDeleted'] as const;
const USER_FIELDS = ['email', 'name', 'plan', 'country'] as const;

const USER_ID_PARAMS: JsonSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'The user id' } },
};

/** True when the catalog has the events these routes publish. */
export function hasUserEvents(catalog: EventCatalog): boolean {
  return USER_EVENTS.every((t) => catalog.isEventType(t));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface UserRoutesOptions {
  readonly catalog: EventCatalog;
  readonly publish: (request: FastifyRequest, events: readonly AppEvent[]) => Promise<string[]>;
  readonly clock: () => EventClock;
}

export function registerUserRoutes(app: FastifyInstance, options: UserRoutesOptions): void {
  const { catalog, publish, clock } = options;
  const deletionReasons = catalog.get('UserDeleted').schema.fields.find((f) => f.name === 'reason')?.type as
    { readonly symbols?: readonly string[] } | undefined;

  /** A resource route's payload: the body itself, paths without a `data.` prefix. */
  function resourceEvent(type: string, payload: Record<string, unknown>): AppEvent {
    const parsed = completeEvent(catalog, type, payload, '', clock());
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

  app.post(
    '/users',
    ingestRoute(
      'Create a user (publishes UserCreated)',
      payloadSchema(catalog, 'UserCreated', { optional: ['userId'] }),
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
        ...payloadSchema(catalog, 'UserUpdated', { omit: ['userId'] }),
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
        properties: {
          reason: { type: 'string', enum: [...(deletionReasons?.symbols ?? ['OTHER'])], default: 'OTHER' },
        },
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
