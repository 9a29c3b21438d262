/**
 * The users read model: one hash per user, a set of user ids per partition (the user count is
 * the sum of their sizes), and per-partition stats of events that had nothing to apply to.
 *
 * Defined behaviour:
 * - `UserCreated` for a user that exists (a repeated create) overwrites the profile and keeps the
 *   first `createdAt`.
 * - `UserUpdated` sets the fields it carries (null means unchanged); for an unknown user it is
 *   ignored and counted as `orphanUpdates`, never turned into a partial user.
 * - `UserDeleted` removes the user; for an unknown user it is counted as `orphanDeletes`.
 * - An email address without '@' (in `UserCreated`, or set by `UserUpdated`) breaks a business
 *   rule: the record can never be applied and goes to the dead-letter topic (`EVENT_INVALID`).
 */
import {
  defineProjection,
  defineReader,
  ErrorCodes,
  pageParams,
  UnrecoverableError,
  type AppliedRecord,
  type PartitionKeys,
  type WriteBatch,
} from 'tributary';
import { USERS_PAGE_SCHEMA, USER_SCHEMA } from '../read-models/schemas.js';
import { listUsers, readUser, type UserView, type UsersPage } from '../read-models/users.js';
import type { AnyEvent } from '../generated/events.js';
import { userKeys } from '../keys.js';

/** The one business rule of the model; the address itself stays out of the message (personal data). */
function checkEmail(email: string, type: string): void {
  if (!email.includes('@')) {
    throw new UnrecoverableError(ErrorCodes.EVENT_INVALID, `${type}: data.email has no '@'`);
  }
}

export const usersProjection = defineProjection<AnyEvent>({
  name: 'users',
  topics: ['users'],
  apply({ event, offset }: AppliedRecord<AnyEvent>, w: WriteBatch, k: PartitionKeys): void {
    switch (event.type) {
      case 'UserCreated': {
        const d = event.data;
        checkEmail(d.email, event.type);
        const user = userKeys.user(k, d.userId);
        w.command('HSETNX', user, 'createdAt', d.occurredAt);
        // prettier-ignore
        w.command('HSET', user, 'userId', d.userId, 'email', d.email, 'name', d.name, 'plan', d.plan,
          'country', d.country, 'updatedAt', d.occurredAt, 'offset', offset);
        w.command('SADD', userKeys.ids(k), d.userId);
        return;
      }
      case 'UserUpdated': {
        const d = event.data;
        if (d.email !== null) checkEmail(d.email, event.type);
        const user = userKeys.user(k, d.userId);
        const fields: (string | number)[] = ['updatedAt', d.occurredAt, 'offset', offset];
        for (const f of ['email', 'name', 'plan', 'country'] as const) {
          if (d[f] !== null) fields.push(f, d[f]);
        }
        w.ifNotExists(user, 'HINCRBY', userKeys.stats(k), 'orphanUpdates', 1);
        w.ifExists(user, 'HSET', user, ...fields);
        return;
      }
      case 'UserDeleted': {
        const d = event.data;
        const user = userKeys.user(k, d.userId);
        w.ifNotExists(user, 'HINCRBY', userKeys.stats(k), 'orphanDeletes', 1);
        w.ifExists(user, 'HINCRBY', userKeys.stats(k), 'deleted', 1);
        w.command('DEL', user);
        w.command('SREM', userKeys.ids(k), d.userId);
        return;
      }
      default:
        // Other event types on this topic (from newer producers) are not part of this model.
        return;
    }
  },
  readers: {
    get: defineReader<{ id: string }, UserView>({
      description: 'One user',
      params: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'The user id' } },
      },
      answer: USER_SCHEMA,
      notFound: 'No such user (never created, or deleted).',
      read: ({ id }, ctx) => readUser(ctx, id),
    }),
    list: defineReader<{ limit: number; cursor?: string }, UsersPage>({
      description: 'List users (a page, in no particular order) and the total count',
      params: { type: 'object', properties: pageParams() },
      answer: USERS_PAGE_SCHEMA,
      read: (page, ctx) => listUsers(ctx, page),
    }),
  },
});
