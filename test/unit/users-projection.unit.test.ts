/**
 * The users projection's business rule, without servers: an email address without '@' is an
 * unrecoverable `EVENT_INVALID` error (the runtime dead-letters the record at once) and adds no
 * writes; valid events still produce theirs.
 */
import { describe, expect, it } from 'vitest';
import { WriteBatch } from '../../consumers/offset-fence.js';
import { usersProjection } from '../../examples/shop/projections/users.js';
import type { AppliedRecord } from '../../consumers/runtime/types.js';
import { ErrorCodes, isUnrecoverable } from '../../lib/errors.js';
import { PartitionKeys } from '../../lib/redis-keys.js';
import { createEvent, type TributaryEvent } from '../helpers/shop.js';

const keys = new PartitionKeys('t:', 'users.v1', 'users', 0);
const T0 = Date.UTC(2026, 0, 1);

function record(event: TributaryEvent): AppliedRecord<TributaryEvent> {
  return { event, topic: 'users', partition: 0, offset: '7', timestamp: T0 };
}

const created = (email: string): TributaryEvent =>
  createEvent('UserCreated', { userId: 'u1', email, name: 'Ada', plan: 'PRO', country: 'DE' }, T0);
const updated = (email: string | null): TributaryEvent =>
  createEvent('UserUpdated', { userId: 'u1', email, name: null, plan: null, country: 'FR' }, T0 + 1);

/** Applies one event to a fresh batch; returns the error it threw, if any, and the batch. */
function apply(event: TributaryEvent): { error: unknown; batch: WriteBatch } {
  const batch = new WriteBatch();
  try {
    usersProjection.apply(record(event), batch, keys);
    return { error: undefined, batch };
  } catch (error) {
    return { error, batch };
  }
}

describe('users projection: email rule', () => {
  it.each([
    ['UserCreated', created('ada.example.com')],
    ['UserCreated with an empty email', created('')],
    ['UserUpdated', updated('ada(at)example.com')],
  ])('rejects %s whose email has no @ as unrecoverable, with no writes', (_, event) => {
    const { error, batch } = apply(event);
    expect(isUnrecoverable(error)).toBe(true);
    expect(error).toMatchObject({ code: ErrorCodes.EVENT_INVALID });
    expect((error as Error).message).toContain('data.email');
    // The address is personal data: it stays out of the message (which lands in DLQ headers).
    expect((error as Error).message).not.toContain('ada');
    expect(batch.ops).toBe(0);
  });

  it('applies events with a valid email, and updates that leave the email unchanged', () => {
    for (const event of [created('ada@example.com'), updated('ada@example.org'), updated(null)]) {
      const { error, batch } = apply(event);
      expect(error).toBeUndefined();
      expect(batch.ops).toBeGreaterThan(0);
      expect(batch.words).toContain(keys.key('user', 'u1'));
    }
  });
});
