/**
 * `tributary/testing` on the shop: a projection run over a list of events against the real Redis
 * of the test stack, through the offset fence, then read back through its own readers; compared
 * with the users oracle computed from the same events.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { commandsOf, testProjection } from '../../app/testing.js';
import { usersProjection } from '../../examples/shop/projections/users.js';
import { createEvent, shopApp, type TributaryEvent } from '../helpers/shop.js';
import { testConfig } from '../helpers/stack.js';
import { userEventStream } from '../helpers/user-stream.js';
import { usersOracle } from '../helpers/users-oracle.js';

describe('tributary/testing', () => {
  it('lists the commands apply writes for one event, with no server', () => {
    const event = createEvent('UserCreated', {
      userId: 'u-1',
      email: 'ada@example.com',
      name: 'Ada',
      plan: 'PRO',
      country: 'GB',
    });
    const commands = commandsOf(usersProjection, event, { offset: '7' });
    expect(commands.map((c) => c[0])).toEqual(['HSETNX', 'HSET', 'SADD']);
    expect(commands[1]).toEqual(expect.arrayContaining(['email', 'ada@example.com', 'offset', '7']));
  });

  it('runs a projection through the fence into Redis and reads it back through its readers', async () => {
    const config = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '3' });
    const t = await testProjection({ app: shopApp, projection: 'users', config });
    try {
      const events = userEventStream({ seed: 5, users: 60 }, 600);
      const badEmail = createEvent('UserCreated', {
        userId: 'u-bad',
        email: 'no-at-sign',
        name: 'X',
        plan: 'FREE',
        country: 'DE',
      });
      // A repeat of an applied event id (a producer's retry) is dropped, not applied twice.
      const repeat = events.find((e) => e.type === 'UserCreated')!;
      const outcome = await t.apply([...events, badEmail, repeat]);
      expect(outcome.applied).toBe(events.length);
      expect(outcome.duplicates).toBe(1);
      expect(outcome.deadLettered.map((d) => d.event)).toEqual([badEmail]);
      expect(outcome.deadLettered[0]!.error.message).toMatch(/data\.email has no '@'/);

      const oracle = usersOracle(events as TributaryEvent[]);
      for (const [userId, want] of oracle) {
        const got = await t.read<Record<string, unknown>>('get', { id: userId });
        expect(got, userId).toMatchObject({ ...want, createdAt: Number(want.createdAt) });
      }
      const deleted = events.filter((e) => e.type === 'UserDeleted').map((e) => e.data.userId);
      for (const id of deleted.filter((d) => !oracle.has(d))) expect(await t.read('get', { id })).toBeNull();
      const listed = await t.read<{ users: { userId: string }[] }>('list', { limit: 1000 });
      expect(listed!.users.map((u) => u.userId).sort()).toEqual([...oracle.keys()].sort());
    } finally {
      await t.close();
    }
    // close() removed every key it wrote.
    const probe = new Redis(config.redis.url.value);
    try {
      expect(await probe.keys(`${t.keyPrefix}*`)).toEqual([]);
    } finally {
      probe.disconnect();
    }
  });

  it('refuses a projection the app lacks, naming the ones it has', async () => {
    await expect(testProjection({ app: shopApp, projection: 'nope', config: testConfig() })).rejects.toThrow(
      /no projection "nope" \(users, user-count, orders, analytics\)/,
    );
    await expect(
      testProjection({ app: shopApp, projection: 'analytics', config: testConfig() }),
    ).rejects.toThrow(/keeps state across batches/);
  });
});
