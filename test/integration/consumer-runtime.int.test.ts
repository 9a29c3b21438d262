/**
 * The consumer runtime with the users projection on the real stack: the read model equals an
 * oracle computed from the produced events, every record is handled exactly once, a restart
 * resumes from the offset stored in Redis, and a flushed Redis is rebuilt from the log.
 */
import { engineNames } from '../../lib/engines/index.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ProjectionKeys } from '../../consumers/keys.js';
import { userCountKeys } from '../../examples/shop/keys.js';
import { userCountProjection } from '../../examples/shop/projections/user-count.js';
import { usersProjection } from '../../examples/shop/projections/users.js';
import { ConsumerRuntime } from '../../consumers/runtime/consumer-runtime.js';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import { generateEvents } from '../../examples/shop/generator.js';
import { Publisher } from '../../producers/publisher.js';
import { until } from '../helpers/until.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, testRedis } from '../helpers/stack.js';
import { readUsers, usersOracle } from '../helpers/users-oracle.js';
import { projectionRecords } from '../helpers/progress.js';
import { shopCatalog } from '../helpers/shop.js';

describe.each(engineNames)('consumer runtime: users projection (%s engine)', (engine) => {
  it('builds the read model exactly once, resumes after a restart, and refills a flushed Redis', async () => {
    const base = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '3', TRIBUTARY_CLIENT_ENGINE: engine });
    const { redis, prefix } = testRedis(base);
    const config = { ...base, redis: { ...base.redis, keyPrefix: prefix } };
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
    const topic = `${config.topics.prefix}users`;

    const all = [...generateEvents({ seed: 21, users: 300 }, 20_000)].map((g) => g.event);
    const userEvents = all.filter((e) => e.type.startsWith('User'));
    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    onTestFinished(() => publisher.close());
    const half = Math.floor(userEvents.length / 2);
    await publisher.publishBatch(userEvents.slice(0, half));

    let runtime = await ConsumerRuntime.start({
      catalog: shopCatalog,
      config,
      logger: testLogger(),
      projection: usersProjection,
    });
    onTestFinished(() => runtime.stop());
    await until(async () => (await readUsers(redis, prefix, topic, 3)).records >= half, 'first half');
    await runtime.stop();

    await publisher.publishBatch(userEvents.slice(half));
    runtime = await ConsumerRuntime.start({
      catalog: shopCatalog,
      config,
      logger: testLogger(),
      projection: usersProjection,
    });
    await until(
      async () => (await readUsers(redis, prefix, topic, 3)).records >= userEvents.length,
      'all events',
    );
    const read = await readUsers(redis, prefix, topic, 3);
    expect(read.records).toBe(userEvents.length);
    expect(read.users).toEqual(usersOracle(userEvents));
    await runtime.stop();

    // Redis loses everything; Kafka still has the group's commits. The runtime must not trust
    // Kafka's offsets: it seeks back to what Redis has (nothing) and rebuilds from the log.
    const mine = await redis.keys(`${prefix}*`);
    await redis.del(...mine);
    runtime = await ConsumerRuntime.start({
      catalog: shopCatalog,
      config,
      logger: testLogger(),
      projection: usersProjection,
    });
    await until(
      async () => (await readUsers(redis, prefix, topic, 3)).records >= userEvents.length,
      'rebuild',
    );
    const rebuilt = await readUsers(redis, prefix, topic, 3);
    expect(rebuilt.records).toBe(userEvents.length);
    expect(rebuilt.users).toEqual(usersOracle(userEvents));
  });

  it('counts users in its own group: the sum of per-partition sets equals the oracle', async () => {
    const base = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '3', TRIBUTARY_CLIENT_ENGINE: engine });
    const { redis, prefix } = testRedis(base);
    const config = { ...base, redis: { ...base.redis, keyPrefix: prefix } };
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
    const topic = `${config.topics.prefix}users`;
    const events = [...generateEvents({ seed: 8, users: 400 }, 40_000)]
      .map((g) => g.event)
      .filter((e) => e.type.startsWith('User'));
    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    onTestFinished(() => publisher.close());
    await publisher.publishBatch(events);

    const runtime = await ConsumerRuntime.start({
      catalog: shopCatalog,
      config,
      logger: testLogger(),
      projection: userCountProjection,
    });
    onTestFinished(() => runtime.stop());
    expect(runtime.groupId).toBe(`${config.topics.prefix}tributary-user-count.v1`);
    const keys = new ProjectionKeys(prefix, 'user-count');
    const progress = () => projectionRecords(redis, prefix, 'user-count', [topic], 3);
    await until(async () => (await progress()) >= events.length, 'user count applied');
    let count = 0;
    let created = 0;
    for (let p = 0; p < 3; p++) {
      const k = keys.partition('v1', topic, p);
      count += await redis.scard(userCountKeys.ids(k));
      created += Number((await redis.hget(userCountKeys.totals(k), 'created')) ?? 0);
    }
    expect(count).toBe(usersOracle(events).size);
    expect(created).toBe(events.filter((e) => e.type === 'UserCreated').length);
  });
});
