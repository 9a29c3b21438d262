/**
 * The user count, as its own consumer group so it can be scaled, rebuilt and lag-monitored apart
 * from the full users model: per partition, the set of live user ids (a repeated create or an
 * unknown delete cannot skew it) and running totals of sign-ups and deletions. The count is the
 * sum over partitions of the set sizes (read with SCARD, merged by the reader).
 */
import {
  defineProjection,
  defineReader,
  type AppliedRecord,
  type PartitionKeys,
  type WriteBatch,
} from 'tributary';
import { countUsers } from '../read-models/users.js';
import type { AnyEvent } from '../generated/events.js';
import { userCountKeys } from '../keys.js';

export const userCountProjection = defineProjection<AnyEvent>({
  name: 'user-count',
  topics: ['users'],
  apply({ event }: AppliedRecord<AnyEvent>, w: WriteBatch, k: PartitionKeys): void {
    if (event.type === 'UserCreated') {
      w.command('SADD', userCountKeys.ids(k), event.data.userId);
      w.command('HINCRBY', userCountKeys.totals(k), 'created', 1);
    } else if (event.type === 'UserDeleted') {
      w.command('SREM', userCountKeys.ids(k), event.data.userId);
      w.command('HINCRBY', userCountKeys.totals(k), 'deleted', 1);
    }
  },
  readers: {
    total: defineReader<Record<string, never>, { total: number | null }>({
      description: 'The number of live users (null when the user-count projection has not run)',
      answer: {
        type: 'object',
        required: ['total'],
        properties: { total: { type: ['integer', 'null'] } },
      },
      read: async (_params, ctx) => ({ total: await countUsers(ctx) }),
    }),
  },
});
