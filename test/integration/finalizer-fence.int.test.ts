/**
 * The analytics finalizer against the real stack: its lease's fencing token refuses a stale
 * leader's writes, stored frontiers only move forward, a partition whose log ends with
 * transaction markers counts as idle, and a batch built on a stale frontier is built again, so a
 * late event never lands in a final window.
 */
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { analyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import { AnalyticsState } from '../../consumers/analytics/analytics-state.js';
import { Finalizer } from '../../consumers/analytics/finalizer.js';
import { luaScript } from '../../consumers/offset-fence.js';
import { ConsumerRuntime } from '../../consumers/runtime/consumer-runtime.js';
import type { PeriodicContext } from '../../consumers/runtime/types.js';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import type { EngineProducer, OutgoingRecord } from '../../lib/engine.js';
import { createKafka } from '../../lib/kafka.js';
import {
  AnalyticsGroupKeys,
  ProjectionKeys,
  analyticsKeys,
  analyticsWindowId,
} from '../../lib/redis-keys.js';
import { shopCatalog, createEvent, topicName, type TributaryEvent } from '../helpers/shop.js';
import { Publisher } from '../../producers/publisher.js';
import { ANALYTICS_ENV, T0 } from '../helpers/analytics-fixture.js';
import { partitionFor } from '../helpers/analytics-oracle.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, testRedis } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

const TOPICS = ['users', 'orders', 'page-views'] as const;

async function setup() {
  const base = testConfig({
    TRIBUTARY_TOPIC_PARTITIONS: '3',
    ...ANALYTICS_ENV,
    TRIBUTARY_ANALYTICS_FINALIZE_INTERVAL_MS: '50',
  });
  const { redis, prefix } = testRedis(base);
  const config = { ...base, redis: { ...base.redis, keyPrefix: prefix } };
  const admin = await testAdmin(config);
  cleanupTopics(config, admin);
  await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
  const keys = new ProjectionKeys(prefix, 'analytics');
  const group = new AnalyticsGroupKeys(prefix, keys.namespace('v1'));
  const views = topicName('page-views', config.topics.prefix);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  const finalizer = () =>
    new Finalizer({
      settings: config.analytics,
      topics: TOPICS.map((t) => topicName(t, config.topics.prefix)),
      windowsTopic: `${config.topics.prefix}${'analytics.windows'}`,
      state: new AnalyticsState(),
      logger,
    });
  const ctx = (producer: Pick<EngineProducer, 'send'>): PeriodicContext => ({
    config,
    redis,
    admin,
    producer: producer as EngineProducer,
    keys,
    version: 'v1',
    groupId: 'finalizer-test',
    logger,
    signal: new AbortController().signal,
    drain: async () => undefined,
  });
  return { config, redis, admin, keys, group, views, lines, finalizer, ctx };
}

/** A producer that records what it is sent. */
function recorder(): Pick<EngineProducer, 'send'> & { sent: OutgoingRecord[] } {
  const sent: OutgoingRecord[] = [];
  return { sent, send: async (_topic, records) => void sent.push(...records) };
}

describe('analytics finalizer fencing', () => {
  it('refuses the writes of a leader that paused past its lease; its successor emits', async () => {
    const { redis, keys, group, views, lines, finalizer, ctx } = await setup();
    const p0 = keys.partition('v1', views, 0);
    const id = analyticsWindowId('tumbling', 1000, 1000, T0);
    await redis.hset(analyticsKeys.state(p0), 'maxEventTime', T0 + 10_000);
    await redis.zadd(analyticsKeys.windows(p0), T0 + 1000, id);
    await redis.hset(analyticsKeys.sums(p0, id), 'event:PageViewed', 5);

    // A takes the lease and stalls in the produce (a GC pause, a network hang)...
    let resume!: () => void;
    let stalled!: () => void;
    const inProduce = new Promise<void>((r) => (stalled = r));
    const a = finalizer();
    const runA = a.run(
      ctx({
        send: async () => {
          stalled();
          await new Promise<void>((r) => (resume = r));
        },
      }),
    );
    await inProduce;
    const tokenA = Number(await redis.get(group.leaderToken()));
    // ...past its lease: B takes over with a newer token and emits the window.
    await redis.del(group.leader());
    const b = finalizer();
    const out = recorder();
    const bStarted = Date.now();
    await b.run(ctx(out));
    expect(Number(await redis.get(group.leaderToken()))).toBeGreaterThan(tokenA);
    expect(out.sent.map((r) => r.key)).toEqual([id]);
    expect(Number(await redis.get(group.emitted(id)))).toBeGreaterThanOrEqual(bStarted);

    // A wakes up: its mark is refused (B's stays), it says it lost the lease.
    resume();
    await runA;
    expect(Number(await redis.get(group.emitted(id)))).toBeGreaterThanOrEqual(bStarted);
    expect(lines.some((l) => l.includes('finalizer lease lost'))).toBe(true);
    expect(await redis.zcard(analyticsKeys.windows(p0))).toBe(0);
    // While B holds the lease, A's runs write nothing.
    await redis.set(group.frontier(), '1');
    await redis.set(analyticsKeys.frontier(p0), '1');
    await b.run(ctx(out)).then(() => a.run(ctx(out)));
    expect(Number(await redis.get(group.frontier()))).toBeGreaterThanOrEqual(1);
  });

  it('never lowers a stored frontier, and raises every partition’s before the group’s', async () => {
    const { redis, keys, group, views, finalizer, ctx } = await setup();
    const [p0, p1] = [keys.partition('v1', views, 0), keys.partition('v1', views, 1)];
    await redis.hset(analyticsKeys.state(p0), 'maxEventTime', T0 + 10_000);
    // Higher than what this run computes (T0 + 9.5 s): another leader's, or Redis's own.
    await redis.set(group.frontier(), String(T0 + 50_000));
    await redis.set(analyticsKeys.frontier(p0), String(T0 + 60_000));
    await finalizer().run(ctx(recorder()));
    expect(await redis.get(group.frontier())).toBe(String(T0 + 50_000));
    expect(await redis.get(analyticsKeys.frontier(p0))).toBe(String(T0 + 60_000));
    expect(await redis.get(analyticsKeys.frontier(p1))).toBe(String(T0 + 50_000));
  });

  it('treats a partition whose log ends with transaction markers as idle', async () => {
    const { config, redis, keys, group, views, finalizer, ctx } = await setup();
    const kafka = createKafka(config, testLogger());
    const send = async (partition: number, n: number, outcome: 'commit' | 'abort') => {
      const producer = kafka.producer({
        transactionalId: `fin-${partition}-${Date.now()}`,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await producer.connect();
      const tx = await producer.transaction();
      await tx.send({
        topic: views,
        messages: Array.from({ length: n }, (_, i) => ({ partition, value: `r${i}` })),
      });
      await (outcome === 'commit' ? tx.commit() : tx.abort());
      await producer.disconnect();
    };
    await send(1, 3, 'commit'); // offsets 0-2, commit marker at 3
    await send(2, 2, 'abort'); // aborted records 0-1, abort marker at 2
    // The coordinator writes the markers after it answered the commit or abort: wait for them.
    const high = async (partition: number) =>
      (await ctx(recorder()).admin.fetchTopicOffsets(views)).find((o) => o.partition === partition)?.high;
    await until(async () => (await high(1)) === '4' && (await high(2)) === '3', 'both markers written', {
      timeoutMs: 10_000,
      intervalMs: 50,
    });

    const [p0, p1] = [keys.partition('v1', views, 0), keys.partition('v1', views, 1)];
    await redis.hset(analyticsKeys.state(p0), 'maxEventTime', T0 + 10_000);
    // Partition 1 applied its three records long ago (stored 2, log end 4: only the marker left).
    await redis.set(p1.offset(), '2');
    await redis.hset(analyticsKeys.state(p1), { maxEventTime: T0 + 2_000, activeAt: Date.now() - 60_000 });
    await finalizer().run(ctx(recorder()));
    // Every partition idle: the frontier is the largest watermark (T0 + 10 s − 0.5 s lateness),
    // not partition 1's (T0 + 1.5 s), which it would be if the marker held it back.
    expect(await redis.get(group.frontier())).toBe(String(T0 + 9_500));
  });

  it('refuses a batch built on a stale frontier: its event is late, never in the final window', async () => {
    const { config, redis, keys } = await setup();
    const cfg = { ...config, analytics: { ...config.analytics, finalizeIntervalMs: 600_000 } };
    const publisher = await Publisher.create(shopCatalog, cfg, testLogger());
    onTestFinished(() => publisher.close());
    const user = (() => {
      for (let i = 0; ; i++) if (partitionFor(`u-${i}`, 3) === 0) return `u-${i}`;
    })();
    const view = (at: number) =>
      createEvent(
        'PageViewed',
        {
          userId: user,
          sessionId: 's',
          url: 'https://shop.example.com/a',
          path: '/a',
          referrer: null,
          userAgent: null,
        },
        T0 + at,
      ) as TributaryEvent;
    await publisher.publishBatch([view(0), view(1_000)]);
    const runtime = await ConsumerRuntime.start({
      catalog: shopCatalog,
      config: cfg,
      logger: testLogger(),
      projection: analyticsProjection,
    });
    onTestFinished(() => runtime.stop());
    const views = topicName('page-views', cfg.topics.prefix);
    const p0 = keys.partition('v1', views, 0);
    await until(async () => (await redis.get(p0.offset())) === '1', 'first batch applied');

    // Another process's finalizer made windows up to T0 + 100 s final; this one does not know.
    await redis.set(analyticsKeys.frontier(p0), String(T0 + 100_000));
    await publisher.publishBatch([view(2_000)]);
    await until(async () => (await redis.get(p0.offset())) === '2', 'second batch applied');
    const late = analyticsWindowId('tumbling', 1000, 1000, T0 + 2_000);
    expect(await redis.exists(analyticsKeys.sums(p0, late))).toBe(0);
    expect(await redis.zscore(analyticsKeys.windows(p0), late)).toBeNull();
    expect(await redis.hget(analyticsKeys.late(p0), 'tumbling')).toBe('1');
  });
});

describe('finalizer-fenced.lua', () => {
  it('writes nothing when an offset it states is more than Redis holds (Redis lost writes since)', async () => {
    const { redis, prefix } = testRedis(testConfig());
    const run = (keys: string[], token: string, words: string[]) =>
      redis.eval(
        luaScript('finalizer-fenced.lua'),
        keys.length,
        ...keys,
        token,
        JSON.stringify(words),
      ) as Promise<(number | string)[]>;
    const tag = `${prefix}{p}`;
    const [fence, offset, frontier] = [`${tag}:token`, `${tag}:offset`, `${tag}:frontier`];
    await redis.set(offset, '41');
    const raise = ['3', 'RAISE', frontier, '5000'];
    // The run read offset 42; Redis holds 41 now: refused, not even the token is remembered.
    expect(await run([fence, offset, frontier], '7', ['3', 'AT_LEAST', offset, '42', ...raise])).toEqual([
      2,
      offset,
    ]);
    expect(await redis.mget(fence, frontier)).toEqual([null, null]);
    // What it read is still there (or more): applied.
    expect(await run([fence, offset, frontier], '7', ['3', 'AT_LEAST', offset, '41', ...raise])).toEqual([1]);
    expect(await redis.mget(fence, frontier)).toEqual(['7', '5000']);
    // A missing key counts as -1.
    await redis.del(offset);
    expect(await run([fence, offset, frontier], '7', ['3', 'AT_LEAST', offset, '0', ...raise])).toEqual([
      2,
      offset,
    ]);
    expect(await run([fence, offset, frontier], '7', ['3', 'AT_LEAST', offset, '-1', ...raise])).toEqual([1]);
  });
});
