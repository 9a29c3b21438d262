/**
 * The foundation's smoke test: a schema registered in the real registry, an Avro record through
 * the real broker in the Confluent wire format, and a Redis round trip.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { createTopicsAndWait } from '../../infra/topics.js';
import { createKafka } from '../../lib/kafka.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, testRedis, uid } from '../helpers/stack.js';

const schema = {
  type: 'record',
  name: 'SmokeEvent',
  namespace: 'dev.tributary.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amount', type: 'long' },
  ],
};

describe('the real stack', () => {
  it('registers a schema, produces and consumes an Avro record in the Confluent wire format', async () => {
    const config = testConfig();
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    const topic = `${config.topics.prefix}smoke`;
    await createTopicsAndWait(admin, [{ topic, numPartitions: 1 }]);

    const registry = new SchemaRegistry({ host: config.registry.url.value });
    const subject = `${topic}-dev.tributary.test.SmokeEvent`;
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    expect(id).toBeGreaterThan(0);

    const sent = { id: uid(), amount: 12_345 };
    const value = await registry.encode(id, sent);
    // Confluent wire format: magic byte 0, then the 4-byte big-endian schema id.
    expect(value[0]).toBe(0);
    expect(value.readUInt32BE(1)).toBe(id);

    const kafka = createKafka(config, testLogger());
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: sent.id, value, headers: { 'event-type': 'Smoke' } }],
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `smoke-${uid()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<{ key: string; value: unknown; header: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no record within 30 s')), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve({
            key: message.key!.toString(),
            value: await registry.decode(message.value!),
            header: message.headers!['event-type']!.toString(),
          });
        },
      });
    });
    await consumer.disconnect();
    expect(received).toEqual({ key: sent.id, value: sent, header: 'Smoke' });
  });

  it('round-trips Redis', async () => {
    const { redis, prefix } = testRedis(testConfig());
    await redis.hset(`${prefix}user:1`, { name: 'Ada', plan: 'pro' });
    expect(await redis.hgetall(`${prefix}user:1`)).toEqual({ name: 'Ada', plan: 'pro' });
    // AOF is on for the local stack (durability of read models across a restart).
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
    if (!testConfig().redis.url.external) expect(appendonly).toBe('yes');
  });
});
