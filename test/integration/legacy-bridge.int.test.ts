/**
 * The old JSON snippet against the real stack, and the bridge that turns what it writes into
 * typed `UserCreated` events on `users`; bad records land in `user-created.dlq` with the reason.
 */
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import { DeadLetterHeaders } from '../../lib/dead-letter.js';
import { createProducer } from '../../lib/engines/index.js';
import { createKafka } from '../../lib/kafka.js';
import { legacyUserBridge, legacyUserId } from '../../examples/shop/legacy-bridge.js';
import { startBridge } from '../../producers/bridge.js';
import { createLegacyProducer } from '../../producers/legacy-producer.js';
import { Publisher } from '../../producers/publisher.js';
import { EventCodec } from '../../schemas/codec.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, uid } from '../helpers/stack.js';
import { shopCatalog, type TributaryEvent } from '../helpers/shop.js';

async function consume(
  config: ReturnType<typeof testConfig>,
  topic: string,
  n: number,
): Promise<KafkaMessage[]> {
  const consumer = createKafka(config, testLogger()).consumer({ groupId: `check-${uid()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: KafkaMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${topic}: ${out.length}/${n} records in 60 s`)), 60_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        out.push(message);
        if (out.length >= n) {
          clearTimeout(t);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return out;
}

describe('legacy JSON bridge', () => {
  it('upcasts the old snippet’s records to typed UserCreated, dead-letters bad ones, replays without duplicates', async () => {
    const config = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '2' });
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
    const p = config.topics.prefix;

    // 1. The old snippet, exactly as upstream teams wrote it. Plain KafkaJS never accepted it…
    const kafka = new Kafka({ brokers: config.kafka.brokers.value, logLevel: logLevel.NOTHING });
    const plain = kafka.producer();
    await plain.connect();
    const name = 'Ada Lovelace';
    const email = 'ada@example.com';
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    type AnySender = { send(record: any): Promise<unknown> };
    const snippet = (producer: AnySender) =>
      producer.send({ topic: 'user-created', messages: [JSON.stringify({ name, email })] });
    await expect(snippet(plain)).rejects.toThrow(/Invalid message without value/);
    await plain.disconnect();

    // …so the drop-in legacy producer takes that very call unchanged.
    const legacy = createLegacyProducer(config, testLogger());
    await legacy.connect();
    await snippet(legacy);
    // The nearest valid plain-KafkaJS form, and bad records mid-migration code also sends.
    await legacy.send({
      topic: 'user-created',
      messages: [
        { value: JSON.stringify({ name: 'Grace Hopper', email: 'grace@example.com', plan: 'PRO' }) },
        '{"name": "Broken", "email": ',
        JSON.stringify({ name: 'No Email' }),
        JSON.stringify({ name: 'Bad', email: 'not-an-address' }),
      ],
    });
    await legacy.disconnect();

    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    const deadLetters = createProducer(config, testLogger());
    await deadLetters.connect();
    onTestFinished(async () => {
      await publisher.close();
      await deadLetters.disconnect();
    });
    const bridge = await startBridge({
      bridge: legacyUserBridge,
      catalog: shopCatalog,
      config,
      logger: testLogger(),
      publisher,
      deadLetters,
    });

    const users = await consume(config, `${p}users`, 2);
    const dlq = await consume(config, `${p}user-created.dlq`, 3);
    await bridge.stop();
    expect(bridge.stats).toEqual({ upcast: 2, deadLettered: 3 });

    const codec = new EventCodec({
      catalog: shopCatalog,
      registry: createSchemaRegistryClient(config),
      topicPrefix: p,
      schemaIds: 'lookup',
    });
    const decoded = (await Promise.all(users.map((m) => codec.decode(m.value)))) as TributaryEvent[];
    expect(decoded.map((e) => e.type)).toEqual(['UserCreated', 'UserCreated']);
    const ada = decoded.find((e) => e.data.userId === legacyUserId(email))!;
    expect(ada.data).toMatchObject({ name, email, plan: 'UNKNOWN', country: 'ZZ' });
    expect(
      users.find((m) => m.key!.toString() === legacyUserId(email))!.headers!['event-type']!.toString(),
    ).toBe('UserCreated');

    const reasons = dlq.map((m) => m.headers![DeadLetterHeaders.errorCode]!.toString()).sort();
    expect(reasons).toEqual(['INVALID_FIELDS', 'INVALID_JSON', 'MISSING_FIELDS']);
    for (const m of dlq) {
      expect(m.headers![DeadLetterHeaders.sourceTopic]!.toString()).toBe(`${p}user-created`);
      expect(m.headers![DeadLetterHeaders.reason]!.toString().length).toBeGreaterThan(0);
      expect(Number(m.headers![DeadLetterHeaders.sourceOffset]!.toString())).toBeGreaterThanOrEqual(0);
    }
    expect(dlq.map((m) => m.value!.toString())).toContain('{"name": "Broken", "email": ');

    // A replay of the old topic (a new group from the earliest offset) yields the same event ids.
    const replay = await startBridge({
      bridge: legacyUserBridge,
      catalog: shopCatalog,
      config,
      logger: testLogger(),
      publisher,
      deadLetters,
      groupId: `${p}replay`,
    });
    const after = await consume(config, `${p}users`, 4);
    await replay.stop();
    const ids = await Promise.all(after.map(async (m) => (await codec.decode(m.value)).data.eventId));
    expect(new Set(ids).size).toBe(2);
  });
});
