/**
 * The orders projection on the real stack: a generated stream plus hand-made repeats, orphans and
 * business-rule violations, consumed with a stop and restart midway. The read model equals an
 * oracle computed from the events (its sums would drift if anything were applied twice), every
 * record is handled exactly once, and the violations are in the dead-letter topic with the code
 * and the field.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ordersProjection } from '../../examples/shop/projections/orders.js';
import { ConsumerRuntime } from '../../consumers/runtime/consumer-runtime.js';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import { DeadLetterHeaders } from '../../lib/dead-letter.js';
import { ErrorCodes } from '../../lib/errors.js';
import { createKafka } from '../../lib/kafka.js';
import { generateEvents } from '../../examples/shop/generator.js';
import { EVENT_ID_HEADER, Publisher } from '../../producers/publisher.js';
import type { TributaryConfig } from '../../lib/config.js';
import { orderEdgeCases, ordersOracle, readOrders, readOrdersProgress } from '../helpers/orders-oracle.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, testRedis, uid } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { shopCatalog } from '../helpers/shop.js';

const PARTITIONS = 3;

/** Every record of `topic` (a dead-letter topic is small), as its headers. */
async function readAll(
  config: TributaryConfig,
  topic: string,
  expected: number,
): Promise<Record<string, string>[]> {
  const consumer = createKafka(config, testLogger()).consumer({
    groupId: `${config.topics.prefix}dlq-${uid()}`,
  });
  onTestFinished(() => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const seen: Record<string, string>[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
      seen.push(headers);
    },
  });
  await until(async () => seen.length >= expected, `${expected} records on ${topic}`);
  return seen;
}

describe('orders projection', () => {
  it('equals the oracle after a restart midway, and dead-letters invalid business data', async () => {
    const base = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: String(PARTITIONS) });
    const { redis, prefix } = testRedis(base);
    const config = { ...base, redis: { ...base.redis, keyPrefix: prefix } };
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
    const topic = `${config.topics.prefix}orders`;

    const generated = [...generateEvents({ seed: 42, users: 250 }, 16_000)]
      .map((g) => g.event)
      .filter((e) => e.type.startsWith('Order'));
    const tag = uid();
    const edge = orderEdgeCases(tag);
    const half = Math.floor(edge.events.length / 2);
    const all = [...edge.events.slice(0, half), ...generated, ...edge.events.slice(half)];
    const progress = () => readOrdersProgress(redis, prefix, topic, PARTITIONS);

    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    onTestFinished(() => publisher.close());
    const start = () =>
      ConsumerRuntime.start({
        catalog: shopCatalog,
        config,
        logger: testLogger(),
        projection: ordersProjection,
      });
    let runtime = await start();
    onTestFinished(() => runtime.stop());
    // Publish two thirds in paced chunks and stop the consumer a third of the way, mid-stream:
    // the batch in hand is finished and fenced. The last third is published while it is down.
    const cut = Math.floor((all.length * 2) / 3);
    const publishing = (async () => {
      for (let i = 0; i < cut; i += 100) {
        await publisher.publishBatch(all.slice(i, Math.min(i + 100, cut)));
        await sleep(40);
      }
    })();
    await until(async () => (await progress()) >= all.length / 3, 'a third of the stream');
    await runtime.stop();
    await publishing;
    expect(await progress()).toBeLessThanOrEqual(cut);
    await publisher.publishBatch(all.slice(cut));
    runtime = await start();
    await until(async () => (await progress()) >= all.length, `${all.length} order records`);
    expect(await progress()).toBe(all.length);

    const expected = ordersOracle(all.filter((e) => !edge.poison.has(e.data.eventId)));
    const { model, misplaced, scratchLeft } = await readOrders(redis, prefix, topic, PARTITIONS, {
      pageSize: 2,
    });
    expect(misplaced).toEqual([]);
    expect(scratchLeft).toBe(0);
    expect(model.stats).toEqual(expected.stats);
    expect(model.users.size).toBe(expected.users.size);
    for (const [userId, want] of expected.users) expect(model.users.get(userId), userId).toEqual(want);
    // The hand-made rules show as themselves, not only as agreement with the oracle.
    expect(model.stats).toMatchObject({
      duplicatePlacements: 1,
      duplicatePayments: 2,
      duplicateCancels: 1,
      paymentsAfterCancel: 1,
      orphanPayments: 2,
      orphanCancels: 1,
    });
    const edgeUser = (n: number) => model.users.get(`edge-${tag}-${n}`);
    expect(edgeUser(1)?.orders.map((o) => o.status)).toEqual(['PAID', 'CANCELLED']);
    expect(edgeUser(1)?.totals.refundedAmount).toEqual({ EUR: 2999 });
    expect(edgeUser(2)?.orders[0]).toMatchObject({ status: 'CANCELLED', paidAmount: 5000 });
    expect(edgeUser(4)).toBeUndefined(); // its only placement was rejected
    expect(edgeUser(6)?.orders.map((o) => o.orderId.split('-').pop())).toEqual(['d0', 'd3', 'd2', 'd1']);
    expect(generated.length).toBeGreaterThan(2_000);

    const dead = await readAll(config, `${topic}.dlq`, edge.poison.size);
    const offsets = await admin.fetchTopicOffsets(`${topic}.dlq`);
    expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(edge.poison.size);
    expect(dead.map((h) => h[EVENT_ID_HEADER]).sort()).toEqual([...edge.poison.keys()].sort());
    for (const h of dead) {
      expect(h[DeadLetterHeaders.errorCode]).toBe(ErrorCodes.EVENT_INVALID);
      expect(h[DeadLetterHeaders.sourceTopic]).toBe(topic);
      expect(h[DeadLetterHeaders.reason]).toContain(`${edge.poison.get(h[EVENT_ID_HEADER]!)}:`);
    }
  });
});
