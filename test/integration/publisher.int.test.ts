/**
 * The producer library on the real stack, on both client engines: typed events land on their
 * aggregate's topic, keyed by aggregate id, with `event-type` and `event-id` headers, in the
 * Confluent wire format, in order per key; invalid events are refused before anything is sent.
 */
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import { ErrorCodes, hasCode } from '../../lib/errors.js';
import { engineNames } from '../../lib/engines/index.js';
import { createKafka } from '../../lib/kafka.js';
import { generateEvents } from '../../examples/shop/generator.js';
import { Publisher } from '../../producers/publisher.js';
import { shopCatalog, createEvent, type TributaryEvent } from '../helpers/shop.js';
import { EventCodec } from '../../schemas/codec.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, uid } from '../helpers/stack.js';

async function readAll(
  config: ReturnType<typeof testConfig>,
  topics: string[],
  expected: number,
): Promise<{ topic: string; message: KafkaMessage }[]> {
  const consumer = createKafka(config, testLogger()).consumer({ groupId: `read-${uid()}` });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const out: { topic: string; message: KafkaMessage }[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${out.length}/${expected} records within 60 s`)),
      60_000,
    );
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) out.push({ topic: batch.topic, message });
        if (out.length >= expected) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return out;
}

describe.each(engineNames)('Publisher on the %s engine', (engine) => {
  it('publishes a generated stream: right topic, key, headers, order per key, decodable', async () => {
    const config = testConfig({ TRIBUTARY_CLIENT_ENGINE: engine });
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));

    const events = [...generateEvents({ seed: 11, users: 50 }, 3000)].map((g) => g.event);
    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    expect(publisher.engine).toBe(engine);
    const first = await publisher.publish(events[0]!);
    expect(first).toEqual({
      eventId: events[0]!.data.eventId,
      type: events[0]!.type,
      topic: `${config.topics.prefix}users`,
    });
    const results = await Promise.all([
      publisher.publishBatch(events.slice(1, 1500)),
      publisher.publishBatch(events.slice(1500)),
    ]);
    expect(results.flat()).toHaveLength(2999);
    await publisher.close();

    const p = config.topics.prefix;
    const records = await readAll(config, [`${p}users`, `${p}orders`, `${p}page-views`], events.length);
    expect(records).toHaveLength(events.length);

    const codec = new EventCodec({
      catalog: shopCatalog,
      registry: createSchemaRegistryClient(config),
      topicPrefix: p,
      schemaIds: 'lookup',
    });
    await codec.loadWriters(records.map((r) => r.message.value));
    const byId = new Map(events.map((e) => [e.data.eventId, e]));
    const seenPerKey = new Map<string, string[]>();
    for (const { topic, message } of records) {
      const decoded = codec.decodeSync(message.value);
      const original = byId.get(decoded.data.eventId)!;
      expect(decoded).toEqual(original);
      expect(message.headers!['event-type']!.toString()).toBe(original.type);
      expect(message.headers!['event-id']!.toString()).toBe(original.data.eventId);
      const key = message.key!.toString();
      const d = original.data as { userId: string | null; sessionId?: string };
      expect(key).toBe(d.userId ?? d.sessionId);
      const expectedTopic = original.type.startsWith('User')
        ? 'users'
        : original.type.startsWith('Order')
          ? 'orders'
          : 'page-views';
      expect(topic).toBe(`${p}${expectedTopic}`);
      const list = seenPerKey.get(`${topic}/${key}`) ?? [];
      list.push(original.data.eventId);
      seenPerKey.set(`${topic}/${key}`, list);
    }
    // Order per aggregate: each key's records arrive in publish order.
    for (const [topicKey, ids] of seenPerKey) {
      const [topic, key] = topicKey.split(/\/(.*)/s) as [string, string];
      const expected = events
        .filter((e) => {
          const d = e.data as { userId: string | null; sessionId?: string };
          return (d.userId ?? d.sessionId) === key && `${p}${topicOfType(e)}` === topic;
        })
        .map((e) => e.data.eventId);
      expect(ids).toEqual(expected);
    }
  });

  it('refuses an invalid event with the field named, and sends nothing of its batch', async () => {
    const config = testConfig({ TRIBUTARY_CLIENT_ENGINE: engine });
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    const good = createEvent('UserCreated', {
      userId: 'u1',
      email: 'a@example.com',
      name: 'A',
      plan: 'FREE',
      country: 'DE',
    });
    const bad = {
      type: 'UserCreated',
      data: { ...good.data, plan: 'PLATINUM' },
    } as unknown as TributaryEvent;
    const err = await publisher.publishBatch([good, bad]).catch((e: unknown) => e);
    expect(hasCode(err, ErrorCodes.EVENT_INVALID)).toBe(true);
    expect((err as Error).message).toContain('data.plan');
    await publisher.close();
    const offsets = await admin.fetchTopicOffsets(`${config.topics.prefix}users`);
    expect(offsets.every((o) => o.high === '0')).toBe(true);
  });
});

function topicOfType(e: TributaryEvent): string {
  return e.type.startsWith('User') ? 'users' : e.type.startsWith('Order') ? 'orders' : 'page-views';
}
