/**
 * The user count, as its own consumer group so it can be scaled, rebuilt and lag-monitored apart
 * from the full users model: per partition, the set of live user ids (a repeated create or an
 * unknown delete cannot skew it) and running totals of sign-ups and deletions. The count is the
 * sum over partitions of the set sizes (read with SCARD, merged by the reader).
 */
import { userCountKeys, type PartitionKeys } from '../../lib/redis-keys.js';
import type { WriteBatch } from '../offset-fence.js';
import type { AppliedRecord, Projection } from '../runtime/types.js';
import type { AnyEvent } from '../../examples/shop/generated/events.js';

export { userCountKeys };

export const userCountProjection: Projection<AnyEvent> = {
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
};
