/**
 * Values a schema accepts but a sum cannot take, and event times from a clock a year ahead, sent
 * through Kafka to the orders model and the analytics group (each engine):
 *
 * - 1,100 `OrderPaid` of 9,000,000,000,000,000 minor units within a minute: each window's revenue
 *   in a partition takes one of them (two pass 2^53 − 1); the others are dead-lettered with the
 *   sum they would break, and each partition keeps moving;
 * - a big spender whose order totals would pass the bound: the placement and the payment that do
 *   not fit are dead-lettered by the orders model, the rest is applied;
 * - page views dated a year ahead (written past the producers' own check): late, with the reason
 *   `clock-skew`, never moving a watermark or the frontier, so the events after them are on time.
 *
 * The oracle works it all out from the events in publish order, per partition, with BigInt sums:
 * which payments are refused, each partition's revenue per window (compared exactly with what
 * Redis holds), every window's counts, the late counts and the final frontier.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { analyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import { ordersProjection } from '../../examples/shop/projections/orders.js';
import { ConsumerRuntime } from '../../consumers/runtime/consumer-runtime.js';
import { DeadLetterHeaders } from '../../lib/dead-letter.js';
import { engineNames } from '../../lib/engines/index.js';
import { createKafka } from '../../lib/kafka.js';
import { partitionOf } from '../../lib/partitioner.js';
import { readAnalyticsView } from '../../lib/read-models/analytics.js';
import { ProjectionKeys, analyticsKeys } from '../../lib/redis-keys.js';
import { EVENT_ID_HEADER, Publisher } from '../../producers/publisher.js';
import {
  shopCatalog,
  EVENT_TYPE_HEADER,
  createEvent,
  eventKey,
  topicOf,
  type TributaryEvent,
} from '../helpers/shop.js';
import { EventCodec } from '../../schemas/codec.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import {
  ANALYTICS_ENV,
  T0,
  expectWindowsAsOracle,
  analyticsStream,
  analyticsTestOracle,
} from '../helpers/analytics-fixture.js';
import { ordersOracle, readOrders } from '../helpers/orders-oracle.js';
import { projectionRecords } from '../helpers/progress.js';
import { readTopic } from '../helpers/read-topic.js';
import { testLogger, uid } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { usersFixture } from '../helpers/users-fixture.js';

const HUGE = 9_000_000_000_000_000;
const YEAR = 365 * 86_400_000;

describe.each(engineNames)('hostile values and clocks (%s engine)', (engine) => {
  it('dead-letters what a sum cannot take, treats far-future times as late, keeps moving', async () => {
    const f = await usersFixture({ TRIBUTARY_CLIENT_ENGINE: engine, ...ANALYTICS_ENV });
    const { config, redis, prefix } = f;
    const tag = uid();
    const base = analyticsStream(7, 100, 10, 3_000); // T0 … T0 + 30 s
    const t1 = T0 + 31_000;
    const payments = [...Array(1_100).keys()].map((i) =>
      createEvent('OrderPaid', {
        orderId: `hostile-${tag}-${i}`,
        userId: `hostile-${tag}-${i}`,
        amount: HUGE,
        currency: 'EUR',
        paymentMethod: 'CARD',
        paymentId: `p-${i}`,
        occurredAt: t1 + i * 50,
      }),
    );
    const whale = `whale-${tag}`;
    const t2 = t1 + 56_000;
    const placements = [0, 1, 2].map((i) =>
      createEvent('OrderPlaced', {
        orderId: `${whale}-${i}`,
        userId: whale,
        items: [{ sku: 'yacht', quantity: 1, unitPrice: 4e15 }],
        totalAmount: 4e15,
        currency: 'USD',
        occurredAt: t2 + i,
      }),
    );
    const whalePayments = [0, 1, 2].map((i) =>
      createEvent('OrderPaid', {
        orderId: `${whale}-${i}`,
        userId: whale,
        amount: 4e15,
        currency: 'USD',
        paymentMethod: 'BANK_TRANSFER',
        paymentId: `w-${i}`,
        occurredAt: t2 + 10 + i,
      }),
    );
    const skewed = [...Array(20).keys()].map((i) =>
      createEvent('PageViewed', {
        userId: null,
        sessionId: `skewed-${tag}-${i}`,
        url: `https://shop.example/clock/${i}`,
        path: `/clock/${i}`,
        referrer: null,
        userAgent: null,
        occurredAt: Date.now() + YEAR + i,
      }),
    );
    const tail = [...Array(300).keys()].map((i) =>
      createEvent('PageViewed', {
        userId: null,
        sessionId: `tail-${tag}-${i % 30}`,
        url: `https://shop.example/after/${i % 7}`,
        path: `/after/${i % 7}`,
        referrer: null,
        userAgent: null,
        occurredAt: t2 + 1_000 + i * 20,
      }),
    );

    const codec = new EventCodec({
      catalog: shopCatalog,
      registry: createSchemaRegistryClient(config),
      topicPrefix: config.topics.prefix,
    });
    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    onTestFinished(() => publisher.close());
    await publisher.publishBatch(base);
    await publisher.publishBatch([...payments, ...placements, ...whalePayments]);
    await produceRaw(skewed); // the Publisher would refuse them: they come past it
    await publisher.publishBatch(tail);
    const events: TributaryEvent[] = [
      ...base,
      ...payments,
      ...placements,
      ...whalePayments,
      ...skewed,
      ...tail,
    ];
    const aheadOf = Date.now() + config.events.maxClockSkewMs;
    const oracle = analyticsTestOracle(events, config.topics.prefix, 3, { aheadOf });
    expect(oracle.refused.size, 'most huge payments cannot be summed').toBeGreaterThan(1_000);
    expect(oracle.finalFrontier).toBeLessThan(T0 + 10 * 60_000);

    const runtimes = await Promise.all(
      [ordersProjection, analyticsProjection].map((projection) =>
        ConsumerRuntime.start({ catalog: shopCatalog, config, logger: testLogger(), projection }),
      ),
    );
    onTestFinished(async () => {
      await Promise.all(runtimes.map((r) => r.stop()));
    });
    const topics = ['users', 'orders', 'page-views'].map((t) => `${config.topics.prefix}${t}`);
    const orderEvents = events.filter((e) => e.type.startsWith('Order'));
    await until(
      async () =>
        (await projectionRecords(redis, prefix, 'analytics', topics, 3)) >= events.length &&
        (await projectionRecords(redis, prefix, 'orders', [topics[1]!], 3)) >= orderEvents.length,
      'every record handled',
      { timeoutMs: 90_000 },
    );
    const source = { redis, keyPrefix: prefix };
    await until(
      async () => (await readAnalyticsView(source))?.frontier === oracle.finalFrontier,
      `the final frontier ${oracle.finalFrontier}`,
      { timeoutMs: 30_000 },
    );

    // Each partition's revenue per window, exactly as the oracle sums it.
    const keys = new ProjectionKeys(prefix, 'analytics');
    for (const [k, want] of oracle.partitionRevenue) {
      const [tp, windowId, currency] = k.split('|') as [string, string, string];
      const cut = tp.lastIndexOf(':');
      const partition = keys.partition(
        'v1',
        `${config.topics.prefix}${tp.slice(0, cut)}`,
        Number(tp.slice(cut + 1)),
      );
      const stored = await redis.hget(analyticsKeys.sums(partition, windowId), `revenue:${currency}`);
      expect(stored, k).toBe(want.toString());
    }
    // Every window's counts, pages and visitors.
    const span = { from: T0 - 30_000, to: t2 + 30_000 };
    await expectWindowsAsOracle(source, oracle, span);

    // Far-future events are late for the clock's sake, and on the late topic as such.
    const lateReason = new Map<string, string>();
    for (const r of await readTopic(config, `${config.topics.prefix}${'analytics.late-events'}`)) {
      lateReason.set((await codec.decode(r.value)).data.eventId, r.headers['late-reason'] ?? '');
    }
    for (const e of skewed) expect(lateReason.get(e.data.eventId), e.data.eventId).toBe('clock-skew');
    expect([...lateReason.keys()].sort()).toEqual([...oracle.late.keys()].sort());

    // Dead letters: each group's own, each naming the sum it would have broken.
    const ordersGroup = runtimes[0]!.groupId;
    const analyticsGroup = runtimes[1]!.groupId;
    const dead = new Map<string, Map<string, string>>([
      [ordersGroup, new Map()],
      [analyticsGroup, new Map()],
    ]);
    for (const r of await readTopic(config, `${topics[1]!}.dlq`)) {
      const group = r.headers[DeadLetterHeaders.consumer] ?? '';
      dead.get(group)?.set(r.headers[EVENT_ID_HEADER] ?? '', r.headers[DeadLetterHeaders.reason] ?? '');
    }
    expect([...dead.get(analyticsGroup)!.keys()].sort()).toEqual([...oracle.refused].sort());
    const currencyOf = new Map(
      orderEvents.map((e) => [e.data.eventId, e.type === 'OrderPaid' ? e.data.currency : '']),
    );
    for (const [id, reason] of dead.get(analyticsGroup)!)
      expect(reason, id).toContain(`revenue:${currencyOf.get(id)} of`);
    // The whale: the third placement and the third payment would pass 2^53 − 1 in its totals.
    const refusedOrders = [placements[2]!, whalePayments[2]!];
    expect([...dead.get(ordersGroup)!.keys()].sort()).toEqual(
      refusedOrders.map((e) => e.data.eventId).sort(),
    );
    expect(dead.get(ordersGroup)!.get(placements[2]!.data.eventId)).toContain('placedAmount:USD');
    expect(dead.get(ordersGroup)!.get(whalePayments[2]!.data.eventId)).toContain('paidAmount:USD');

    // The orders model: the oracle of every order event but the two refused.
    const refusedIds = new Set(refusedOrders.map((e) => e.data.eventId));
    const want = ordersOracle(orderEvents.filter((e) => !refusedIds.has(e.data.eventId)));
    const { model } = await readOrders(redis, prefix, topics[1]!, 3);
    expect(model.stats).toEqual(want.stats);
    expect(model.users.size).toBe(want.users.size);
    for (const [userId, o] of want.users) expect(model.users.get(userId), userId).toEqual(o);
    expect(model.users.get(whale)?.totals).toMatchObject({ placed: 2, paid: 2, paidAmount: { USD: 8e15 } });

    async function produceRaw(list: readonly TributaryEvent[]): Promise<void> {
      const producer = createKafka(config, testLogger()).producer();
      await producer.connect();
      try {
        for (const e of list) {
          const key = eventKey(e);
          await producer.send({
            topic: topicOf(e.type, config.topics.prefix),
            messages: [
              {
                key,
                partition: partitionOf(key, 3),
                value: await codec.encode(e),
                headers: { [EVENT_TYPE_HEADER]: e.type, [EVENT_ID_HEADER]: e.data.eventId },
              },
            ],
          });
        }
      } finally {
        await producer.disconnect();
      }
    }
  });
});
