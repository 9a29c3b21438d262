/**
 * `rebuild`: a new key version is filled from the log while the live consumer keeps serving the
 * old one, the pointer swaps, the live consumer moves to the new version and keeps applying, the
 * old keys go; after Redis loses everything, a rebuild brings the read model back to the oracle.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { ProjectionKeys } from '../../consumers/keys.js';
import { hasCode, ErrorCodes } from '../../lib/errors.js';
import { createKafka } from '../../lib/kafka.js';
import { EventCodec } from '../../schemas/codec.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { sendInTransaction } from '../helpers/transactional.js';
import { usersProjection } from '../../examples/shop/projections/users.js';
import { nextVersion, rebuildProjection } from '../../consumers/rebuild.js';
import { LiveProjection } from '../../consumers/runtime/live-projection.js';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import { generateEvents } from '../../examples/shop/generator.js';
import { Publisher } from '../../producers/publisher.js';
import { until } from '../helpers/until.js';
import { usersFixture } from '../helpers/users-fixture.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, testRedis } from '../helpers/stack.js';
import { readUsers, usersOracle } from '../helpers/users-oracle.js';
import { shopCatalog } from '../helpers/shop.js';

describe('rebuild', () => {
  it('fills a new version beside the live one, swaps atomically, and recovers a flushed Redis', async () => {
    expect(nextVersion(undefined)).toBe('v1');
    expect(nextVersion('v9')).toBe('v10');
    const base = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '3' });
    const { redis, prefix } = testRedis(base);
    const config = { ...base, redis: { ...base.redis, keyPrefix: prefix } };
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
    const topic = `${config.topics.prefix}users`;
    const keys = new ProjectionKeys(prefix, 'users');

    const events = [...generateEvents({ seed: 5, users: 200 }, 30_000)]
      .map((g) => g.event)
      .filter((e) => e.type.startsWith('User'));
    const third = Math.floor(events.length / 3);
    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    onTestFinished(() => publisher.close());
    await publisher.publishBatch(events.slice(0, third));

    const live = await LiveProjection.start({
      catalog: shopCatalog,
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
      catalog: shopCatalog,
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
    const again = await rebuildProjection({
      catalog: shopCatalog,
      config,
      logger: testLogger(),
      projection: usersProjection,
    });
    expect(again.to).toBe('v1');
    const back = await readUsers(redis, prefix, topic, 3, 'v1');
    expect(back.records).toBe(events.length);
    expect(back.users).toEqual(usersOracle(events));
  });

  it('finishes when a partition ends with transaction markers, applying committed records only', async () => {
    const { config, redis, prefix, admin, topic } = await usersFixture({ TRIBUTARY_TOPIC_PARTITIONS: '1' });
    const events = [...generateEvents({ seed: 9, users: 50 }, 2_000)]
      .map((g) => g.event)
      .filter((e) => e.type.startsWith('User'));
    const codec = new EventCodec({
      catalog: shopCatalog,
      registry: createSchemaRegistryClient(config),
      topicPrefix: config.topics.prefix,
    });
    const kafka = createKafka(config, testLogger());
    const half = Math.floor(events.length / 2);
    const committed = events.slice(0, half);
    const aborted = [...generateEvents({ seed: 10, users: 20 }, 200)]
      .map((g) => g.event)
      .filter((e) => e.type.startsWith('User'));
    await sendInTransaction(kafka, codec, topic, committed, 'commit');
    await sendInTransaction(kafka, codec, topic, aborted, 'abort');
    await sendInTransaction(kafka, codec, topic, events.slice(half), 'commit');
    // The log ends with a commit marker: one offset more than the records before it.
    // The coordinator writes each marker after it answered the commit or abort: wait for the last.
    const want = events.length + aborted.length + 3;
    await until(
      async () => Number((await admin.fetchTopicOffsets(topic))[0]!.high) === want,
      'the last marker',
      {
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    );

    const result = await rebuildProjection({
      catalog: shopCatalog,
      config,
      logger: testLogger(),
      projection: usersProjection,
    });
    expect(result.to).toBe('v1');
    const built = await readUsers(redis, prefix, topic, 1, 'v1');
    expect(built.users).toEqual(usersOracle(events));
  });

  it('runs one rebuild of a projection at a time; a crashed holder’s lock expires', async () => {
    const { config, redis, prefix } = await usersFixture({ TRIBUTARY_TOPIC_PARTITIONS: '3' });
    const events = [...generateEvents({ seed: 6, users: 100 }, 5_000)]
      .map((g) => g.event)
      .filter((e) => e.type.startsWith('User'));
    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    onTestFinished(() => publisher.close());
    await publisher.publishBatch(events);
    const keys = new ProjectionKeys(prefix, 'users');

    const rebuild = () =>
      rebuildProjection({ catalog: shopCatalog, config, logger: testLogger(), projection: usersProjection });
    const results = await Promise.allSettled([rebuild(), rebuild()]);
    const done = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    expect(done).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(hasCode(refused[0], ErrorCodes.REBUILD_LOCKED)).toBe(true);
    expect(refused[0]!.message).toMatch(/already running: held by .+:\d+ since \d{4}-\d\d-\d\dT/);
    // The holder released its lock on exit: the next rebuild runs.
    expect(await redis.exists(keys.rebuildLock())).toBe(0);
    expect((await rebuild()).to).toBe('v2');

    // A holder that crashed (never renews, never releases): its lock expires.
    const crashed = { holder: 'gone-host:4242', startedAt: new Date().toISOString(), token: 'dead' };
    await redis.set(keys.rebuildLock(), JSON.stringify(crashed), 'PX', 600);
    await expect(rebuild()).rejects.toThrow(/held by gone-host:4242 since/);
    await new Promise((r) => setTimeout(r, 700));
    expect((await rebuild()).to).toBe('v3');
  });
});
