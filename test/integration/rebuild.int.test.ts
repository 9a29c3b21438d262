/**
 * `rebuild`: a new key version is filled from the log while the live consumer keeps serving the
 * old one, the pointer swaps, the live consumer moves to the new version and keeps applying, the
 * old keys go; after Redis loses everything, a rebuild brings the read model back to the oracle.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { ProjectionKeys } from '../../consumers/keys.js';
import { usersProjection } from '../../consumers/projections/users.js';
import { nextVersion, rebuildProjection } from '../../consumers/rebuild.js';
import { LiveProjection } from '../../consumers/runtime/live-projection.js';
import { provisionTopics } from '../../infra/topics.js';
import { generateEvents } from '../../producers/generator.js';
import { Publisher } from '../../producers/publisher.js';
import { until } from '../helpers/until.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, testRedis } from '../helpers/stack.js';
import { readUsers, usersOracle } from '../helpers/users-oracle.js';

describe('rebuild', () => {
  it('fills a new version beside the live one, swaps atomically, and recovers a flushed Redis', async () => {
    expect(nextVersion(undefined)).toBe('v1');
    expect(nextVersion('v9')).toBe('v10');
    const base = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '3' });
    const { redis, prefix } = testRedis(base);
    const config = { ...base, redis: { ...base.redis, keyPrefix: prefix } };
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, config, testLogger());
    const topic = `${config.topics.prefix}users`;
    const keys = new ProjectionKeys(prefix, 'users');

    const events = [...generateEvents({ seed: 5, users: 200 }, 30_000)]
      .map((g) => g.event)
      .filter((e) => e.type.startsWith('User'));
    const third = Math.floor(events.length / 3);
    const publisher = await Publisher.create(config, testLogger());
    onTestFinished(() => publisher.close());
    await publisher.publishBatch(events.slice(0, third));

    const live = await LiveProjection.start({
      config,
      logger: testLogger(),
      projection: usersProjection,
      pollMs: 200,
    });
    onTestFinished(() => live.stop());
    await until(
      async () => (await readUsers(redis, prefix, topic, 3, 'v1')).records >= third,
      'v1 caught up',
    );

    await publisher.publishBatch(events.slice(third, 2 * third));
    const progress: number[] = [];
    const result = await rebuildProjection({
      config,
      logger: testLogger(),
      projection: usersProjection,
      graceMs: 500,
      onProgress: (p) => progress.push(p.done),
    });
    expect(result.from).toBe('v1');
    expect(result.to).toBe('v2');
    expect(result.records).toBe(2 * third);
    expect(progress.at(-1)).toBe(2 * third);
    expect(await redis.get(keys.current())).toBe('v2');

    // The live consumer follows the swap and applies what arrives next to v2.
    await until(async () => live.current.version === 'v2', 'live consumer on v2');
    await publisher.publishBatch(events.slice(2 * third));
    await until(
      async () => (await readUsers(redis, prefix, topic, 3, 'v2')).records >= events.length,
      'v2 complete',
    );
    const v2 = await readUsers(redis, prefix, topic, 3, 'v2');
    expect(v2.records).toBe(events.length);
    expect(v2.users).toEqual(usersOracle(events));
    expect(await redis.keys(`${prefix}{users.v1:*`)).toEqual([]);

    // Redis loses everything: a rebuild brings the read model back.
    await live.stop();
    await redis.del(...(await redis.keys(`${prefix}*`)));
    const again = await rebuildProjection({ config, logger: testLogger(), projection: usersProjection });
    expect(again.to).toBe('v1');
    const back = await readUsers(redis, prefix, topic, 3, 'v1');
    expect(back.records).toBe(events.length);
    expect(back.users).toEqual(usersOracle(events));
  });
});
