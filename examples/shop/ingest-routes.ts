/**
 * The shop's resource routes on the ingestion service: `POST /users`, `PATCH /users/:id`,
 * `DELETE /users/:id` publish UserCreated, UserUpdated, UserDeleted. Declared in the shop's app
 * as `ingestRoutes`, written with the engine's route kit (auth, limits, OpenAPI, validation).
 */
import { randomUUID } from 'node:crypto';
import type { IngestRouteKit, JsonSchema } from 'tributary';

const USER_FIELDS = ['email', 'name', 'plan', 'country'] as const;

const USER_ID_PARAMS: JsonSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'The user id' } },
};

export function registerUserRoutes(kit: IngestRouteKit): void {
  const { app, catalog, publish } = kit;
  const deletionReasons = catalog.get('UserDeleted').schema.fields.find((f) => f.name === 'reason')?.type as
    { readonly symbols?: readonly string[] } | undefined;

  app.post(
    '/users',
    kit.route(
      'Create a user (publishes UserCreated)',
      kit.payloadSchema('UserCreated', { optional: ['userId'] }),
      {
        accepted: kit.acceptedSchema({ userId: { type: 'string' } }),
      },
    ),
    async (request, reply) => {
      const body = kit.bodyObject(request.body);
      const payload = { ...body, userId: body.userId === undefined ? randomUUID() : body.userId };
      const event = kit.event('UserCreated', payload);
      const eventIds = await publish(request, [event]);
      return reply.code(202).send({ eventIds, userId: payload.userId });
    },
  );

  app.patch<{ Params: { id: string } }>(
    '/users/:id',
    kit.route(
      'Update a user: only the given fields (publishes UserUpdated; fields left out are null, i.e. unchanged)',
      {
        ...kit.payloadSchema('UserUpdated', { omit: ['userId'] }),
        anyOf: USER_FIELDS.map((f) => ({ required: [f], properties: { [f]: { not: { type: 'null' } } } })),
      },
      { params: USER_ID_PARAMS },
    ),
    async (request, reply) => {
      const body = kit.bodyObject(request.body);
      const userId = request.params.id;
      if (body.userId !== undefined && body.userId !== userId) {
        throw kit.invalid([{ path: 'userId', message: 'is set by the URL path; leave it out of the body' }]);
      }
      if (!USER_FIELDS.some((f) => body[f] !== undefined && body[f] !== null)) {
        throw kit.invalid([
          { path: '', message: `nothing to update: give at least one of ${USER_FIELDS.join(', ')}` },
        ]);
      }
      const changes = Object.fromEntries(USER_FIELDS.map((f) => [f, null]));
      const event = kit.event('UserUpdated', { ...changes, ...body, userId });
      return reply.code(202).send({ eventIds: await publish(request, [event]) });
    },
  );

  app.delete<{ Params: { id: string }; Querystring: { reason?: string } }>(
    '/users/:id',
    kit.route('Delete a user (publishes UserDeleted)', undefined, {
      params: USER_ID_PARAMS,
      querystring: {
        type: 'object',
        properties: {
          reason: { type: 'string', enum: [...(deletionReasons?.symbols ?? ['OTHER'])], default: 'OTHER' },
        },
      },
    }),
    async (request, reply) => {
      const event = kit.event('UserDeleted', {
        userId: request.params.id,
        reason: request.query.reason ?? 'OTHER',
      });
      return reply.code(202).send({ eventIds: await publish(request, [event]) });
    },
  );
}
