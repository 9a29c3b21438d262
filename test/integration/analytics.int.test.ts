/**
 * The analytics group on the real stack: a generated stream with out-of-order and late page views
 * goes through Kafka into windowed aggregates in Redis, late events onto their topic, and final
 * windows onto `analytics.windows`; every value is checked against an oracle computed from the
 * events (test/helpers/analytics-oracle.ts), not from Redis.
 */
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { analyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import { ConsumerRuntime } from '../../consumers/runtime/consumer-runtime.js';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import {
  readAnalyticsTotals,
  readAnalyticsView,
  readAnalyticsWindows,
  readLateCounts,
  type AnalyticsWindowView,
} from '../../lib/read-models/analytics.js';
import {
  AnalyticsGroupKeys,
  ProjectionKeys,
  analyticsKeys,
  analyticsUpdatesChannel,
} from '../../lib/redis-keys.js';
import { shopCatalog, createEvent, type TributaryEvent } from '../helpers/shop.js';
import { Publisher } from '../../producers/publisher.js';
import { WindowResultCodec } from '../../schemas/analytics-window.js';
import { EventCodec } from '../../schemas/codec.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import {
  ANALYTICS_ENV,
  T0,
  TOP_N,
  analyticsStream,
  analyticsTestOracle,
} from '../helpers/analytics-fixture.js';
import {
  addAmounts,
  closeToExact,
  partitionFor,
  topPages,
  type AnalyticsOracle,
  type OracleWindow,
} from '../helpers/analytics-oracle.js';
import { readTopic } from '../helpers/read-topic.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, testRedis } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { projectionRecords } from '../helpers/progress.js';

/** Compares one window read from Redis with the oracle's (or with nothing, for an empty window). */
function expectWindow(
  got: AnalyticsWindowView,
  want: OracleWindow | undefined,
  oracle: AnalyticsOracle,
): void {
  const what = got.id;
  expect(got.events, what).toEqual(want?.events ?? {});
  expect(got.totalEvents, what).toBe(Object.values(want?.events ?? {}).reduce((a, b) => a + b, 0));
  expect(got.revenue, what).toEqual(want?.revenue ?? {});
  expect(got.orders, what).toEqual({
    placed: want?.events.OrderPlaced ?? 0,
    paid: want?.events.OrderPaid ?? 0,
  });
  expect(got.topPages, what).toEqual(topPages(want?.pages ?? new Map(), TOP_N));
  const exact = want?.visitors.size ?? 0;
  expect(closeToExact(got.uniqueUsers, exact), `${what}: ${got.uniqueUsers} unique vs ${exact}`).toBe(true);
  expect(got.final, what).toBe(got.end + 500 <= oracle.finalFrontier);
  if (want) expect(got.final, what).toBe(oracle.finalWindows.includes(got.id));
}

describe('analytics consumer group', () => {
  it('aggregates windows in event time, routes late events, and emits each final window once', async () => {
    const base = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '3', ...ANALYTICS_ENV });
    const { redis, prefix } = testRedis(base);
    const config = { ...base, redis: { ...base.redis, keyPrefix: prefix } };
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));

    const events = analyticsStream(7, 200, 40, 20_000);
    const oracle = analyticsTestOracle(events, config.topics.prefix, 3);
    // The stream must exercise every rule: late for every window, late for some windows only.
    expect(oracle.late.size).toBeGreaterThan(100);
    expect([...oracle.late.values()].some((ids) => ids.length < 6)).toBe(true);
    // (With the hopping advance equal to the tumbling size, the oldest hopping window of an event
    // ends with its tumbling one: both kinds refuse the same events, each kind counts them.)
    expect(oracle.lateByKind).toEqual({ tumbling: oracle.late.size, hopping: oracle.late.size });

    // One sequence of publishes: each partition holds its events in generated order.
    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    onTestFinished(() => publisher.close());
    for (let i = 0; i < events.length; i += 2_000) await publisher.publishBatch(events.slice(i, i + 2_000));

    const sub = new Redis(config.redis.url.value);
    onTestFinished(() => void sub.disconnect());
    const messages: { type: string; [k: string]: unknown }[] = [];
    await sub.subscribe(analyticsUpdatesChannel(prefix));
    sub.on('message', (_channel, message: string) => messages.push(JSON.parse(message)));

    const started = Date.now();
    const runtime = await ConsumerRuntime.start({
      catalog: shopCatalog,
      config,
      logger: testLogger(),
      projection: analyticsProjection,
    });
    onTestFinished(() => runtime.stop());
    expect(runtime.groupId).toBe(`${config.topics.prefix}tributary-analytics.v1`);

    const keys = new ProjectionKeys(prefix, 'analytics');
    const topics = ['users', 'orders', 'page-views'].map((t) => `${config.topics.prefix}${t}`);
    const applied = () => projectionRecords(redis, prefix, 'analytics', topics, 3);
    await until(async () => (await applied()) >= events.length, 'every event applied', { timeoutMs: 60_000 });
    const appliedMs = Date.now() - started;
    expect(await applied()).toBe(events.length);
    const finals = () => messages.filter((m) => m.type === 'final').length;
    await until(async () => finals() >= oracle.finalWindows.length, 'every final window emitted', {
      timeoutMs: 30_000,
      describe: () => `${finals()} of ${oracle.finalWindows.length}`,
    });
    testLogger().info({ appliedMs, finalMs: Date.now() - started }, 'analytics timings');

    // Once every partition is idle, the frontier is the largest partition watermark.
    const frontier = async () => (await readAnalyticsView({ redis, keyPrefix: prefix }))?.frontier;
    await until(async () => (await frontier()) === oracle.finalFrontier, 'the final frontier', {
      timeoutMs: 10_000,
    });

    // Windows, as the query side reads them: every window of the span, empty ones included.
    const span = { from: T0 - 30_000, to: T0 + 205_000 };
    let maxError = 0;
    for (const kind of ['tumbling', 'hopping'] as const) {
      const got = await readAnalyticsWindows({ redis, keyPrefix: prefix }, { kind, ...span });
      expect(got.filter((w) => w.totalEvents > 0).length).toBe(
        [...oracle.windows.values()].filter((w) => w.kind === kind).length,
      );
      for (const w of got) {
        const want = oracle.windows.get(w.id);
        expectWindow(w, want, oracle);
        if (want)
          maxError = Math.max(maxError, Math.abs(w.uniqueUsers - want.visitors.size) / want.visitors.size);
      }
    }
    testLogger().info({ maxError }, 'largest HyperLogLog error of a window');

    // Totals over the whole stream, merged from the tumbling windows.
    const totals = await readAnalyticsTotals({ redis, keyPrefix: prefix }, { ...span, topN: 5 });
    const tumblingWindows = [...oracle.windows.values()].filter((w) => w.kind === 'tumbling');
    const sum = (f: (w: OracleWindow) => Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const w of tumblingWindows) for (const [k, v] of Object.entries(f(w))) out[k] = (out[k] ?? 0) + v;
      return out;
    };
    expect(totals?.events).toEqual(sum((w) => w.events));
    expect(totals?.revenue).toEqual(addAmounts(tumblingWindows.map((w) => w.revenue)));
    const allPages = new Map<string, number>();
    const allVisitors = new Set<string>();
    for (const w of tumblingWindows) {
      for (const [p, n] of w.pages) allPages.set(p, (allPages.get(p) ?? 0) + n);
      for (const v of w.visitors) allVisitors.add(v);
    }
    expect(totals?.topPages).toEqual(topPages(allPages, 5));
    expect(closeToExact(totals!.uniqueUsers, allVisitors.size)).toBe(true);

    // Late events: counted per window kind, and each one on the late-events topic exactly once.
    expect(await readLateCounts({ redis, keyPrefix: prefix })).toEqual(oracle.lateByKind);
    const codec = new EventCodec({
      catalog: shopCatalog,
      registry: createSchemaRegistryClient(config),
      topicPrefix: config.topics.prefix,
    });
    const lateRecords = await readTopic(config, `${config.topics.prefix}${'analytics.late-events'}`);
    const lateSeen = new Map<string, string>();
    for (const r of lateRecords) {
      const event = await codec.decode(r.value);
      expect(lateSeen.has(event.data.eventId), `late event ${event.data.eventId} twice`).toBe(false);
      lateSeen.set(event.data.eventId, r.headers['late-windows']!);
      expect(r.headers['event-type']).toBe(event.type);
    }
    expect(lateSeen.size).toBe(oracle.late.size);
    for (const [eventId, windows] of oracle.late)
      expect(lateSeen.get(eventId), eventId).toBe(windows.join(','));

    // Final windows: each emitted once, keyed by window id, with the oracle's values.
    await new Promise((r) => setTimeout(r, 1_000)); // a duplicate would show up by now
    const windowsTopic = `${config.topics.prefix}${'analytics.windows'}`;
    const emitted = await readTopic(config, windowsTopic);
    expect(emitted.map((r) => r.key).sort()).toEqual([...oracle.finalWindows].sort());
    const results = new WindowResultCodec(
      createSchemaRegistryClient(config),
      `${config.topics.prefix}${'analytics.windows'}`,
    );
    for (const r of emitted) {
      const result = await results.decode(r.value);
      const want = oracle.windows.get(r.key)!;
      expect(result.windowId).toBe(r.key);
      expect(result.kind).toBe(want.kind.toUpperCase());
      expect([result.start, result.end]).toEqual([want.start, want.end]);
      expect(result.events).toEqual(want.events);
      expect(result.revenue).toEqual(want.revenue);
      expect([result.ordersPlaced, result.ordersPaid]).toEqual([
        want.events.OrderPlaced ?? 0,
        want.events.OrderPaid ?? 0,
      ]);
      expect(result.topPages).toEqual(topPages(want.pages, TOP_N));
      expect(closeToExact(result.uniqueUsers, want.visitors.size)).toBe(true);
      expect(result.frontier).toBeGreaterThanOrEqual(want.end + 500);
    }

    // Live updates: one message per applied batch, one per final window.
    const batches = messages.filter((m) => m.type === 'batch');
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.reduce((n, m) => n + (m.events as number), 0)).toBe(events.length);
    expect(batches.reduce((n, m) => n + (m.late as number), 0)).toBe(oracle.late.size);
    expect(batches[0]).toMatchObject({
      topic: expect.any(String),
      partition: expect.any(Number),
      windows: expect.any(Array),
    });
    const finalIds = messages.filter((m) => m.type === 'final').map((m) => (m.window as { id: string }).id);
    expect(finalIds.sort()).toEqual([...oracle.finalWindows].sort());

    // A crash after a window's result was produced and before it was marked leaves the window in
    // its partitions' indexes and unmarked: the finalizer emits it again, with the same values.
    const again = oracle.finalWindows[Math.floor(oracle.finalWindows.length / 2)]!;
    const group = new AnalyticsGroupKeys(prefix, keys.namespace('v1'));
    const holder = keys.partition('v1', topics[2]!, 0);
    await redis.multi().del(group.emitted(again)).zadd(analyticsKeys.windows(holder), 0, again).exec();
    await until(async () => (await redis.exists(group.emitted(again))) === 1, 'the window emitted again');
    const repeated = (await readTopic(config, windowsTopic)).filter((r) => r.key === again);
    expect(repeated).toHaveLength(2);
    const [first, second] = await Promise.all(repeated.map((r) => results.decode(r.value)));
    const same = { emittedAt: 0, frontier: 0 };
    expect({ ...second!, ...same }).toEqual({ ...first!, ...same });
    expect(await redis.zscore(analyticsKeys.windows(holder), again)).toBeNull();
  });

  it('lets idle partitions stop holding back finality, and keeps final windows final when they wake up', async () => {
    const base = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '3', ...ANALYTICS_ENV });
    const { redis, prefix } = testRedis(base);
    const config = { ...base, redis: { ...base.redis, keyPrefix: prefix } };
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    onTestFinished(() => publisher.close());

    // Page views only (users and orders stay empty: idle from the start). Partition `busy` sees
    // event time up to 10 s, partition `quiet` only up to 2 s, the third none at all.
    const userIn = (p: number) => {
      for (let i = 0; ; i++) if (partitionFor(`u-${i}`, 3) === p) return `u-${i}`;
    };
    const [busy, quiet] = [userIn(0), userIn(1)];
    let n = 0;
    const view = (userId: string, at: number) =>
      createEvent(
        'PageViewed',
        {
          userId,
          sessionId: `s-${userId}`,
          url: `https://shop.example.com/p${n % 3}`,
          path: `/p${n++ % 3}`,
          referrer: null,
          userAgent: null,
        },
        T0 + at,
      ) as TributaryEvent;
    const first: TributaryEvent[] = [];
    for (let at = 0; at <= 10_000; at += 100) first.push(view(busy, at));
    for (let at = 0; at <= 2_000; at += 100) first.push(view(quiet, at));
    await publisher.publishBatch(first);

    const runtime = await ConsumerRuntime.start({
      catalog: shopCatalog,
      config,
      logger: testLogger(),
      projection: analyticsProjection,
    });
    onTestFinished(() => runtime.stop());
    const source = { redis, keyPrefix: prefix };
    // Every partition idle: the frontier is the largest watermark, 10 s − 0.5 s of lateness.
    await until(async () => (await readAnalyticsView(source))?.frontier === T0 + 9_500, 'the frontier', {
      timeoutMs: 20_000,
    });
    const windowsTopic = `${config.topics.prefix}${'analytics.windows'}`;
    await until(async () => (await readTopic(config, windowsTopic)).length > 0, 'final windows');
    const tumbling5 = `tumbling:1000:1000:${T0 + 5_000}`;
    const [before] = await readAnalyticsWindows(source, {
      kind: 'tumbling',
      from: T0 + 5_000,
      to: T0 + 6_000,
    });
    expect(before).toMatchObject({ id: tumbling5, totalEvents: 10, final: true });

    // The quiet partition wakes up with an event at 5.5 s: on time for its own watermark (1.5 s),
    // but the windows it would change are final (the frontier floors every watermark): late for
    // those, added only to the hopping window [5 s, 10 s), still open.
    const wake = view(quiet, 5_500);
    await publisher.publish(wake);
    const late = `${config.topics.prefix}${'analytics.late-events'}`;
    await until(async () => (await readTopic(config, late)).length === 1, 'the late event');
    const [record] = await readTopic(config, late);
    const hoppingIds = [1, 2, 3, 4].map((s) => `hopping:5000:1000:${T0 + s * 1000}`);
    expect(record!.headers['late-windows']).toBe([tumbling5, ...hoppingIds].join(','));
    expect(record!.headers['late-watermark']).toBe(String(T0 + 9_500));
    const [after] = await readAnalyticsWindows(source, {
      kind: 'tumbling',
      from: T0 + 5_000,
      to: T0 + 6_000,
    });
    expect(after).toEqual(before);
    const [open] = await readAnalyticsWindows(source, { kind: 'hopping', from: T0 + 5_000, to: T0 + 6_000 });
    expect(open).toMatchObject({ totalEvents: 51, final: false });
    expect(await readLateCounts(source)).toEqual({ tumbling: 1, hopping: 1 });
    const emitted = (await readTopic(config, windowsTopic)).map((r) => r.key);
    expect(emitted.filter((k) => k === tumbling5)).toHaveLength(1);
    expect(new Set(emitted).size).toBe(emitted.length);
  });
});
