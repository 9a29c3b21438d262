/**
 * Poison records never stall a partition (DESIGN.md §4): records that cannot be decoded or that
 * break a business rule are mixed into the users topic with a raw producer, between good events.
 * Every poison record must land in `<topic>.dlq`, once, with its original key and value and
 * headers that say why and where it came from; every good record must be applied (oracle), and
 * the fenced progress counter must reach the topic's record count.
 */
import { engineNames } from '../../lib/engines/index.js';
import { Buffer } from 'node:buffer';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { usersProjection } from '../../examples/shop/projections/users.js';
import { ConsumerRuntime } from '../../consumers/runtime/consumer-runtime.js';
import { DeadLetterHeaders } from '../../lib/dead-letter.js';
import { ErrorCodes, type ErrorCode } from '../../lib/errors.js';
import { createKafka } from '../../lib/kafka.js';
import { prng } from '../../examples/shop/generator.js';
import { Publisher } from '../../producers/publisher.js';
import { parseSchema, type AvroRecordSchema } from '../../schemas/avro-schema.js';
import { shopCatalog, createEvent, EVENT_TYPE_HEADER, type TributaryEvent } from '../helpers/shop.js';
import { EventCodec } from '../../schemas/codec.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { frame } from '../../schemas/wire-format.js';
import { topicRecordCount } from '../helpers/consumer-group.js';
import { faultSeed } from '../helpers/fault-seed.js';
import { testLogger, uid } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { diffUsers, readUsers, usersOracle } from '../helpers/users-oracle.js';
import { usersFixture } from '../helpers/users-fixture.js';
import { publishAll, userEventStream } from '../helpers/user-stream.js';

const GOOD_EVENTS = 6_000;
const ROUNDS = 3;

interface Poison {
  readonly kind: string;
  readonly key: string;
  readonly value: Buffer | null;
  /** The dead letter's code; `skipped`: a record of an event type the app does not know. */
  readonly code: ErrorCode | 'skipped';
  /** Where it landed on the users topic. */
  partition?: number;
  offset?: string;
}

/** A record of a type that has nothing to do with users, registered under a subject of its own. */
const INVOICE: AvroRecordSchema = {
  type: 'record',
  name: 'Invoice',
  namespace: 'dev.tributary.test',
  fields: [
    { name: 'invoiceId', type: 'string' },
    { name: 'amount', type: 'long' },
  ],
} as AvroRecordSchema;

describe.each(engineNames)('consumer runtime: poison records (%s engine)', (engine) => {
  it('dead-letters every poison record with its reason and applies every good one', async () => {
    const seed = faultSeed('consumer-poison');
    const random = prng(seed);
    const t0 = Date.now();
    const f = await usersFixture({ TRIBUTARY_TOPIC_PARTITIONS: '3', TRIBUTARY_CLIENT_ENGINE: engine });
    const good = userEventStream({ seed, users: 600 }, GOOD_EVENTS);

    const registry = createSchemaRegistryClient(f.config);
    const codec = new EventCodec({ catalog: shopCatalog, registry, topicPrefix: f.config.topics.prefix });
    await codec.prepare(['UserCreated', 'UserUpdated']);
    const invoiceId = await registry.register(`${f.config.topics.prefix}invoices-value`, INVOICE);
    const invoice = parseSchema(INVOICE);

    // Poison keys are ids of real users, so poison sits between their good events.
    const someUser = () => `u${seed}-${Math.floor(random() * 600)}`;
    const userCreated = (email: string): TributaryEvent =>
      createEvent('UserCreated', { userId: someUser(), email, name: 'Mallory', plan: 'PRO', country: 'DE' });
    const poisonRound = (round: number): Poison[] => {
      const valid = codec.encodeSync(userCreated(`m${round}@example.com`));
      return [
        {
          kind: 'bad magic byte',
          key: someUser(),
          value: Buffer.concat([Buffer.from([1]), valid.subarray(1)]),
          code: ErrorCodes.WIRE_BAD_MAGIC_BYTE,
        },
        {
          kind: 'shorter than the header',
          key: someUser(),
          value: Buffer.from([0, 0, 1]),
          code: ErrorCodes.WIRE_TOO_SHORT,
        },
        { kind: 'null value', key: someUser(), value: null, code: ErrorCodes.WIRE_TOO_SHORT },
        {
          kind: 'unknown schema id',
          key: someUser(),
          value: frame(999_999, valid.subarray(5)),
          code: ErrorCodes.SCHEMA_NOT_FOUND,
        },
        {
          kind: 'truncated Avro body',
          key: someUser(),
          value: valid.subarray(0, Math.floor(valid.length / 2)),
          code: ErrorCodes.DECODE_FAILED,
        },
        {
          // Well formed, of a registered record the app has no event for (a newer producer's):
          // skipped and counted, not dead-lettered (DESIGN.md §10).
          kind: 'record of a registered schema the app does not know',
          key: someUser(),
          value: frame(invoiceId, invoice.toBuffer({ invoiceId: `inv-${round}`, amount: 4200 })),
          code: 'skipped',
        },
        {
          kind: 'UserCreated with an email without @',
          key: someUser(),
          value: codec.encodeSync(userCreated(`mallory-${round}.example.com`)),
          code: ErrorCodes.EVENT_INVALID,
        },
        {
          kind: 'UserUpdated with an email without @',
          key: someUser(),
          value: codec.encodeSync(
            createEvent('UserUpdated', {
              userId: someUser(),
              email: `mallory-${round}`,
              name: null,
              plan: null,
              country: null,
            }),
          ),
          code: ErrorCodes.EVENT_INVALID,
        },
      ];
    };

    // Good events through the publisher, poison through a raw producer, in alternating slices.
    const publisher = await Publisher.create(shopCatalog, f.config, testLogger());
    onTestFinished(() => publisher.close());
    const raw = createKafka(f.config, testLogger()).producer();
    await raw.connect();
    onTestFinished(() => raw.disconnect());
    const poisons: Poison[] = [];
    const slice = Math.ceil(GOOD_EVENTS / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      await publishAll(publisher, good.slice(round * slice, (round + 1) * slice));
      for (const p of poisonRound(round)) {
        const [meta] = await raw.send({
          topic: f.topic,
          acks: -1,
          messages: [{ key: p.key, value: p.value, headers: { [EVENT_TYPE_HEADER]: 'Poison' } }],
        });
        poisons.push({ ...p, partition: meta!.partition, offset: meta!.baseOffset! });
      }
    }
    const total = await topicRecordCount(f.config, f.topic);
    expect(total).toBe(GOOD_EVENTS + poisons.length);

    const runtime = await ConsumerRuntime.start({
      catalog: shopCatalog,
      config: f.config,
      logger: testLogger(),
      projection: usersProjection,
    });
    onTestFinished(() => runtime.stop());
    let seen = 0;
    await until(async () => (seen = await f.progress()) >= total, 'every record handled', {
      timeoutMs: 60_000,
      describe: () => `progress ${seen}/${total}, stats ${JSON.stringify(runtime.stats)}`,
    });
    await runtime.stop();
    const consumed = Date.now();

    const read = await readUsers(f.redis, f.prefix, f.topic, f.partitions);
    expect(read.records).toBe(total);
    expect(diffUsers(read.users, usersOracle(good))).toEqual([]);
    const dead = poisons.filter((p) => p.code !== 'skipped');
    const skipped = poisons.filter((p) => p.code === 'skipped');
    expect(skipped.length).toBe(ROUNDS);
    expect(runtime.stats.deadLettered).toBe(dead.length);
    expect(runtime.stats.unknownTypes).toBe(skipped.length);

    // Exactly one dead letter per poison record, matched by where it came from; none for the skipped.
    const dlq = `${f.topic}.dlq`;
    expect(await topicRecordCount(f.config, dlq)).toBe(dead.length);
    const letters = await readAll(f.config, dlq, dead.length);
    const header = (m: KafkaMessage, name: string) => m.headers?.[name]?.toString();
    for (const p of skipped) {
      const from = letters.filter(
        (m) =>
          header(m, DeadLetterHeaders.sourcePartition) === String(p.partition) &&
          header(m, DeadLetterHeaders.sourceOffset) === p.offset,
      );
      expect(from, `${p.kind} at ${p.partition}/${p.offset}`).toEqual([]);
    }
    for (const p of dead) {
      const where = `${p.kind} at ${p.partition}/${p.offset}`;
      const matches = letters.filter(
        (m) =>
          header(m, DeadLetterHeaders.sourcePartition) === String(p.partition) &&
          header(m, DeadLetterHeaders.sourceOffset) === p.offset,
      );
      expect(matches, where).toHaveLength(1);
      const m = matches[0]!;
      expect(header(m, DeadLetterHeaders.sourceTopic), where).toBe(f.topic);
      expect(header(m, DeadLetterHeaders.errorCode), where).toBe(p.code);
      expect(header(m, DeadLetterHeaders.reason), where).toMatch(/\S/);
      expect(header(m, DeadLetterHeaders.consumer), where).toBe(runtime.groupId);
      expect(header(m, EVENT_TYPE_HEADER), `${where}: original headers kept`).toBe('Poison');
      expect(m.key?.toString(), where).toBe(p.key);
      expect(Buffer.compare(m.value ?? Buffer.alloc(0), p.value ?? Buffer.alloc(0)), where).toBe(0);
    }
    console.log(
      `[consumer-poison] ${GOOD_EVENTS} good events, ${poisons.length} poison records: consumed in ` +
        `${consumed - t0} ms (with production), total ${Date.now() - t0} ms`,
    );
  });
});

/** Reads `count` records of `topic` from the beginning with a throwaway consumer group. */
async function readAll(
  config: Parameters<typeof createKafka>[0],
  topic: string,
  count: number,
): Promise<KafkaMessage[]> {
  const consumer = createKafka(config, testLogger()).consumer({ groupId: `${topic}-reader-${uid()}` });
  await consumer.connect();
  const out: KafkaMessage[] = [];
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push(message);
      },
    });
    await until(async () => out.length >= count, `${count} records on ${topic}`, { timeoutMs: 30_000 });
    return out;
  } finally {
    await consumer.disconnect();
  }
}
