/**
 * Read models for the query tests, built the real way: events published to the test's own topics
 * and applied by the real projections (ConsumerRuntime) into the test's own Redis key prefix.
 */
import type { Admin } from 'kafkajs';
import type { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';
import { analyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import { ConsumerRuntime } from '../../consumers/runtime/consumer-runtime.js';
import type { Projection } from '../../consumers/runtime/types.js';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import type { TributaryConfig } from '../../lib/config.js';
import { readAnalyticsView } from '../../lib/read-models/analytics.js';
import { generateEvents } from '../../examples/shop/generator.js';
import { Publisher } from '../../producers/publisher.js';
import { startQueryService, type QueryService } from '../../query/service.js';
import {
  projections,
  shopModels,
  shopCatalog,
  eventCatalog,
  topicName,
  type TributaryEvent,
} from './shop.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, testRedis } from './stack.js';
import { until } from './until.js';
import { projectionRecords } from './progress.js';

export interface QueryFixture {
  /** Topics, Redis key prefix and credentials of this test. */
  readonly config: TributaryConfig;
  readonly redis: Redis;
  readonly prefix: string;
  readonly admin: Admin;
  readonly publisher: Publisher;
  readonly partitions: number;
}

/** An API key with the `query` scope, one with `ingest` only. */
export const QUERY_KEY = 'query-key-0123456789abcdef';
export const INGEST_KEY = 'ingest-key-0123456789abcdef';

/** A config, topics, a Redis prefix and a publisher for one test; all cleaned up after it. */
export async function queryFixture(env: Record<string, string> = {}, partitions = 3): Promise<QueryFixture> {
  const base = testConfig({
    TRIBUTARY_TOPIC_PARTITIONS: String(partitions),
    TRIBUTARY_AUTH_API_KEYS: `analyst:${QUERY_KEY}=query; writer:${INGEST_KEY}=ingest`,
    TRIBUTARY_QUERY_RATE_LIMIT_PER_MINUTE: '0',
    ...env,
  });
  const { redis, prefix } = testRedis(base);
  const config: TributaryConfig = { ...base, redis: { ...base.redis, keyPrefix: prefix } };
  const admin = await testAdmin(config);
  cleanupTopics(config, admin);
  await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
  const publisher = await Publisher.create(shopCatalog, config, testLogger());
  onTestFinished(() => publisher.close());
  return { config, redis, prefix, admin, publisher, partitions };
}

/** Generated user and order events (no page views), in order. */
export function userAndOrderEvents(seed: number, users: number, count: number): TributaryEvent[] {
  return [...generateEvents({ seed, users }, count)]
    .map((g) => g.event)
    .filter((e) => e.type.startsWith('User') || e.type.startsWith('Order'));
}

/** Records a projection handled, summed over its topics' partitions (its `progress` counters). */
export async function projectionProgress(
  f: QueryFixture,
  projection: Projection,
  version = 'v1',
): Promise<number> {
  const topics = projection.topics.map((base) => topicName(base, f.config.topics.prefix));
  return projectionRecords(f.redis, f.prefix, projection.name, topics, f.partitions, version);
}

/**
 * Publishes `events` and runs projections (by name from consumers/projections, or given; default
 * users, user-count, orders) until each has handled every record of its topics (and, for
 * analytics, stored its layout); the runtimes are stopped when the test finishes.
 */
export async function buildReadModels(
  f: QueryFixture,
  events: readonly TributaryEvent[],
  list: readonly (string | Projection)[] = ['users', 'user-count', 'orders'],
): Promise<ConsumerRuntime[]> {
  const chosen = list.map((p) => (typeof p === 'string' ? projections[p]! : p));
  for (let i = 0; i < events.length; i += 2_000) await f.publisher.publishBatch(events.slice(i, i + 2_000));
  const runtimes: ConsumerRuntime[] = [];
  onTestFinished(async () => {
    await Promise.all(runtimes.map((r) => r.stop()));
  });
  for (const projection of chosen) {
    runtimes.push(
      await ConsumerRuntime.start({
        catalog: shopCatalog,
        config: f.config,
        logger: testLogger(),
        projection,
      }),
    );
  }
  for (const projection of chosen) {
    const topics = new Set<string>(projection.topics);
    const expected = events.filter((e) => topics.has(eventCatalog[e.type].topic)).length;
    await until(
      async () => (await projectionProgress(f, projection)) >= expected,
      `${projection.name}: ${expected} records`,
      { timeoutMs: 90_000 },
    );
    if (projection.name === analyticsProjection.name) {
      // Readers find the windows through the layout the group's finalizer stores on its first
      // periodic run, which may come after the last record was applied.
      await until(
        async () => (await readAnalyticsView({ redis: f.redis, keyPrefix: f.prefix })) !== null,
        'the analytics layout',
        { timeoutMs: 30_000 },
      );
    }
  }
  return runtimes;
}

/** Starts the query service on `f`'s config on a free loopback port; closed when the test finishes. */
export async function serveQuery(f: QueryFixture): Promise<QueryService> {
  const service = await startQueryService({
    catalog: shopCatalog,
    models: shopModels,
    config: f.config,
    logger: testLogger(),
    host: '127.0.0.1',
    port: 0,
  });
  onTestFinished(async () => {
    await service.close();
  });
  return service;
}
