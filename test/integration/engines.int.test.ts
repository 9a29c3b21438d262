/**
 * Both client engines against the real broker: every record arrives once, per-key order and
 * headers survive, lz4 batches are accepted, and each engine reads what the other wrote.
 * Records are read back with clients independent of the producer under test.
 */
import { createRequire } from 'node:module';
import kafkajs, { type Admin } from 'kafkajs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createTopicsAndWait } from '../../infra/topics.js';
import type { TributaryConfig } from '../../lib/config.js';
import type { EngineName, EngineProducer, EngineProducerOptions, OutgoingRecord } from '../../lib/engine.js';
import { createProducer, registerKafkajsCodecs } from '../../lib/engines/index.js';
import { createKafka } from '../../lib/kafka.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, uid } from '../helpers/stack.js';

interface Received {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly value: string;
  readonly headers: Record<string, Buffer>;
}

async function setup(engine: EngineName, partitions: number) {
  const config = testConfig({ TRIBUTARY_CLIENT_ENGINE: engine });
  const admin = await testAdmin(config);
  cleanupTopics(config, admin);
  const topic = `${config.topics.prefix}engines-${engine}`;
  await createTopicsAndWait(admin, [{ topic, numPartitions: partitions }]);
  return { config, admin, topic };
}

async function connected(
  config: TributaryConfig,
  options: EngineProducerOptions = {},
): Promise<EngineProducer> {
  const producer = createProducer(config, testLogger(), options);
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  return producer;
}

/** Counts lz4 batches the kafkajs consumer decompresses, for the duration of the test. */
function countLz4Batches(): { readonly count: number } {
  registerKafkajsCodecs();
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  const original = CompressionCodecs[CompressionTypes.LZ4];
  const counter = { count: 0 };
  CompressionCodecs[CompressionTypes.LZ4] = () => {
    const codec = original();
    return {
      compress: codec.compress,
      decompress: (buffer: Buffer) => {
        counter.count++;
        return codec.decompress(buffer);
      },
    };
  };
  onTestFinished(() => {
    CompressionCodecs[CompressionTypes.LZ4] = original;
  });
  return counter;
}

/** Reads `expected` records from the start of `topic` with a plain kafkajs consumer. */
async function readWithKafkajs(
  config: TributaryConfig,
  topic: string,
  expected: number,
): Promise<Received[]> {
  registerKafkajsCodecs();
  const consumer = createKafka(config, testLogger()).consumer({ groupId: `engines-${uid()}` });
  await consumer.connect();
  onTestFinished(() => consumer.disconnect());
  await consumer.subscribe({ topic, fromBeginning: true });
  const received: Received[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${received.length}/${expected} records in 60 s`)),
      60_000,
    );
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const headers: Record<string, Buffer> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = v as Buffer;
          received.push({
            partition: batch.partition,
            offset: Number(m.offset),
            key: m.key!.toString(),
            value: m.value!.toString(),
            headers,
          });
        }
        if (received.length >= expected) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  return received;
}

/** The slice of librdkafka's KafkaJS-style consumer used here (the package is optional). */
interface RdConsumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(s: { topics: string[] }): Promise<void>;
  run(r: {
    eachMessage: (p: {
      partition: number;
      message: {
        offset: string;
        key: Buffer | null;
        value: Buffer | null;
        headers?: Record<string, unknown>;
      };
    }) => Promise<void>;
  }): Promise<void>;
}

/** Reads `expected` records from the start of `topic` with librdkafka (the confluent package). */
async function readWithLibrdkafka(
  config: TributaryConfig,
  topic: string,
  expected: number,
): Promise<Received[]> {
  const { KafkaJS } = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as {
    KafkaJS: { Kafka: new (c: object) => { consumer(c: object): RdConsumer } };
  };
  const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: config.kafka.brokers.value, logLevel: 1 } });
  const consumer = kafka.consumer({ kafkaJS: { groupId: `engines-rd-${uid()}`, fromBeginning: true } });
  await consumer.connect();
  onTestFinished(() => consumer.disconnect());
  await consumer.subscribe({ topics: [topic] });
  const received: Received[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${received.length}/${expected} records in 60 s`)),
      60_000,
    );
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, Buffer> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = v as Buffer;
        received.push({
          partition,
          offset: Number(message.offset),
          key: message.key!.toString(),
          value: message.value!.toString(),
          headers,
        });
        if (received.length >= expected) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  return received;
}

async function storedRecords(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
}

const KEYS = 40;

/** Record `i`: key `key-(i % KEYS)`, its per-key sequence number, and three kinds of header. */
function record(i: number): OutgoingRecord {
  const key = `key-${i % KEYS}`;
  const seq = Math.floor(i / KEYS);
  return {
    key,
    value: Buffer.from(JSON.stringify({ i, key, seq, pad: 'x'.repeat(100) })),
    headers: { 'event-type': 'EngineTest', seq: String(seq), bin: Buffer.from([0, 255, i % 256]) },
  };
}

describe.each(['kafkajs', 'confluent'] as const)('the %s producer engine', (engine) => {
  it('writes every record once, keeps per-key order and headers, in lz4 batches the broker accepts', async () => {
    const { config, admin, topic } = await setup(engine, 3);
    // Small batches and a small buffer, so records split across batches and sends wait for room.
    const producer = await connected(config, { lingerMs: 10, batchBytes: 8 * 1024, bufferBytes: 32 * 1024 });
    expect(producer.engine).toBe(engine);
    const n = 3000;
    const sends: Promise<void>[] = [];
    for (let start = 0; start < n; start += 50) {
      sends.push(
        producer.send(
          topic,
          Array.from({ length: 50 }, (_, j) => record(start + j)),
        ),
      );
    }
    await Promise.all(sends);
    await producer.flush();

    expect(await storedRecords(admin, topic)).toBe(n);
    const lz4 = countLz4Batches();
    const received = await readWithKafkajs(config, topic, n);
    expect(lz4.count).toBeGreaterThan(0);

    const indexes = received.map((r) => (JSON.parse(r.value) as { i: number }).i).sort((a, b) => a - b);
    expect(indexes).toEqual(Array.from({ length: n }, (_, i) => i));
    const byKey = new Map<string, Received[]>();
    for (const r of received) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
    expect(byKey.size).toBe(KEYS);
    for (const [key, records] of byKey) {
      expect(new Set(records.map((r) => r.partition)).size, `${key} in one partition`).toBe(1);
      const seqs = records
        .sort((a, b) => a.offset - b.offset)
        .map((r) => (JSON.parse(r.value) as { seq: number }).seq);
      expect(seqs, `${key} in order`).toEqual(Array.from({ length: n / KEYS }, (_, s) => s));
    }
    for (const r of received) {
      const { i, seq } = JSON.parse(r.value) as { i: number; seq: number };
      expect(r.headers['event-type']?.toString()).toBe('EngineTest');
      expect(r.headers.seq?.toString()).toBe(String(seq));
      expect(r.headers.bin?.equals(Buffer.from([0, 255, i % 256]))).toBe(true);
    }
  });

  it('rejects a send to a missing topic within the delivery timeout, then sends on', async () => {
    const { config, admin, topic } = await setup(engine, 1);
    const producer = await connected(config, { deliveryTimeoutMs: 3_000 });
    const started = Date.now();
    await expect(producer.send(`${config.topics.prefix}missing`, [record(0)])).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(30_000);
    // The failure leaves the producer usable (kafkajs: under a new producer id).
    await producer.send(topic, [record(1), record(2)]);
    expect(await storedRecords(admin, topic)).toBe(2);
  });
});

describe('the two engines together', () => {
  it('put each key in the same partition, and each reads the lz4 batches the other wrote', async () => {
    const { config: jsConfig, topic } = await setup('kafkajs', 6);
    const rdConfig = { ...jsConfig, kafka: { ...jsConfig.kafka, engine: 'confluent' as const } };
    const keys = Array.from({ length: 60 }, (_, k) => `user-${k}`);
    const batch = (writer: EngineName) =>
      keys.map((key) => ({ key, value: Buffer.from(`${writer}:${key}`), headers: { writer } }));
    const js = await connected(jsConfig);
    const rd = await connected(rdConfig);
    await js.send(topic, batch('kafkajs'));
    await rd.send(topic, batch('confluent'));

    const expected = keys.length * 2;
    for (const received of [
      await readWithKafkajs(jsConfig, topic, expected),
      await readWithLibrdkafka(jsConfig, topic, expected),
    ]) {
      expect(received).toHaveLength(expected);
      const partitionOf = new Map<string, number>();
      for (const r of received) {
        const writer = r.headers.writer?.toString();
        expect(r.value).toBe(`${writer}:${r.key}`);
        const seen = partitionOf.get(r.key);
        if (seen === undefined) partitionOf.set(r.key, r.partition);
        else expect(r.partition, `${r.key} written by both engines`).toBe(seen);
      }
      expect(new Set(received.map((r) => r.headers.writer?.toString()))).toEqual(
        new Set(['kafkajs', 'confluent']),
      );
      // 60 keys over 6 partitions: a partitioner that ignored keys would not line up by chance.
      expect(new Set(partitionOf.values()).size).toBeGreaterThan(1);
    }
  });
});
