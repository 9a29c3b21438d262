/**
 * Offsets with gaps, which the consumers must never mistake for lost or missing records:
 *
 * - a compacted source topic: the log cleaner removed records, their offsets are gone;
 * - an outside transactional producer (Confluent's Python client, librdkafka): committed and
 *   aborted transactions between plain records. Every commit or abort marker takes an offset no
 *   record carries, aborted records are skipped by a read-committed consumer, and when a
 *   transaction is the last thing written, the log ends with a marker.
 *
 * `tributary consume users` (a child process, each engine) applies every surviving committed
 * record exactly once and none of the aborted ones, keeps moving after a trailing marker, and its
 * read model equals the oracle: the users model of the records an outside read-committed client
 * reads back, which must also be exactly the records produced minus the aborted ones.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigResourceTypes } from 'kafkajs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { engineNames } from '../../lib/engines/index.js';
import { partitionOf } from '../../lib/partitioner.js';
import { ProjectionKeys } from '../../lib/redis-keys.js';
import { Publisher, EVENT_ID_HEADER } from '../../producers/publisher.js';
import { EventCodec } from '../../schemas/codec.js';
import {
  shopCatalog,
  EVENT_TYPE_HEADER,
  createEvent,
  eventKey,
  type TributaryEvent,
} from '../helpers/shop.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { spawnConsumer } from '../helpers/consumer-process.js';
import { python, runPython } from '../helpers/python.js';
import { testLogger, uid } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { usersFixture } from '../helpers/users-fixture.js';
import { publishAll, userEventStream } from '../helpers/user-stream.js';
import { diffUsers, readUsers, usersOracle } from '../helpers/users-oracle.js';

interface OutsideRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly value: string;
}

/** Every committed record of `topic`, as the outside client reads it. */
async function readCommitted(brokers: readonly string[], topic: string) {
  return JSON.parse(await runPython('kafka_client.py', ['read', brokers.join(','), topic])) as {
    records: OutsideRecord[];
    ends: Record<string, number>;
  };
}

type Step =
  | { op: 'begin'; transactionalId: string }
  | { op: 'commit' | 'abort' }
  | { op: 'send'; events: readonly TributaryEvent[]; txn: boolean };

describe.each(engineNames)('a source topic with offset gaps (%s engine)', (engine) => {
  it(
    'applies every committed record of a compacted, transactional topic once, and no aborted one',
    { timeout: 240_000 },
    async () => {
      expect(existsSync(python), `${python} missing: run bash infra/bootstrap.sh deps`).toBe(true);
      const f = await usersFixture({ TRIBUTARY_CLIENT_ENGINE: engine });
      const brokers = f.config.kafka.brokers.value;
      const codec = new EventCodec({
        catalog: shopCatalog,
        registry: createSchemaRegistryClient(f.config),
        topicPrefix: f.config.topics.prefix,
      });
      const decode = (records: readonly OutsideRecord[]) =>
        Promise.all(
          records.map(async (r) => (await codec.decode(Buffer.from(r.value, 'hex'))) as TributaryEvent),
        );
      const alterTopic = (entries: Record<string, string>) =>
        f.admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: f.topic,
              configEntries: Object.entries(entries).map(([name, value]) => ({ name, value })),
            },
          ],
        });

      // 1. Compaction: many updates of few users, in segments the cleaner may clean at once.
      await alterTopic({
        'cleanup.policy': 'compact',
        'segment.ms': '100',
        'min.cleanable.dirty.ratio': '0.01',
        'min.compaction.lag.ms': '0',
        'max.compaction.lag.ms': '100',
      });
      const seed = Math.floor(Math.random() * 2 ** 31);
      const history = userEventStream({ seed, users: 60 }, 3_000);
      const publisher = await Publisher.create(shopCatalog, f.config, testLogger());
      onTestFinished(() => publisher.close());
      for (let i = 0; i < history.length; i += 500) {
        await publishAll(publisher, history.slice(i, i + 500));
        await sleep(150); // the next batch rolls a new segment
      }
      let survivors: OutsideRecord[] = [];
      const compactedAt = Date.now();
      await until(
        async () => (survivors = (await readCommitted(brokers, f.topic)).records).length < history.length,
        'the log cleaner to compact the topic',
        { timeoutMs: 120_000, intervalMs: 2_000 },
      );
      // No more cleaning from here: the records read now are the ones the consumer will read.
      await alterTopic({ 'cleanup.policy': 'delete', 'segment.ms': String(7 * 86_400_000) });
      survivors = (await readCommitted(brokers, f.topic)).records;
      const compacted = await decode(survivors);
      console.log(
        `[offset-gaps ${engine}] compaction after ${Date.now() - compactedAt} ms kept ` +
          `${survivors.length} of ${history.length} records`,
      );
      expect(survivors.length).toBeLessThan(history.length);
      // Compaction keeps the last record of each key.
      const lastOfKey = new Map(history.map((e) => [eventKey(e), e.data.eventId]));
      const kept = new Set(compacted.map((e) => e.data.eventId));
      for (const id of lastOfKey.values()) expect(kept.has(id)).toBe(true);

      const consumer = spawnConsumer(f.config);
      await consumer.ready;
      await until(async () => (await f.progress()) >= survivors.length, 'the compacted history applied', {
        timeoutMs: 60_000,
        describe: () => consumer.log(),
      });

      // 2. Transactions from an outside producer while the consumer runs: commit, abort, plain
      //    records between them, and a commit last, so every partition it wrote to ends with a marker.
      const users = [...lastOfKey.keys()];
      const update = (userId: string, name: string) =>
        createEvent('UserUpdated', { userId, name, email: null, plan: null, country: null });
      const signUp = (userId: string) =>
        createEvent('UserCreated', {
          userId,
          email: `${userId}@example.com`,
          name: userId,
          plan: 'PRO',
          country: 'DE',
        });
      const tag = uid();
      const committed1 = users.slice(0, 20).map((u) => update(u, `committed-1 ${tag}`));
      const plain = [...Array(15).keys()].map((i) => signUp(`plain-${tag}-${i}`));
      const aborted = [
        ...users.slice(10, 40).map((u) => update(u, `aborted ${tag}`)),
        ...[...Array(10).keys()].map((i) => signUp(`aborted-${tag}-${i}`)),
      ];
      const committed2 = [
        ...users.slice(30, 60).map((u) => update(u, `committed-2 ${tag}`)),
        ...[...Array(10).keys()].map((i) => signUp(`txn-${tag}-${i}`)),
      ];
      const steps: Step[] = [
        { op: 'begin', transactionalId: `tributary-test-${tag}` },
        { op: 'send', events: committed1, txn: true },
        { op: 'commit' },
        { op: 'send', events: plain, txn: false },
        { op: 'begin', transactionalId: '' },
        { op: 'send', events: aborted, txn: true },
        { op: 'abort' },
        { op: 'begin', transactionalId: '' },
        { op: 'send', events: committed2, txn: true },
        { op: 'commit' },
      ];
      await produceSteps(steps);
      const applied = [...committed1, ...plain, ...committed2];
      await until(
        async () => (await f.progress()) >= survivors.length + applied.length,
        'the committed transactions applied',
        { timeoutMs: 60_000, describe: () => consumer.log() },
      );
      // Each partition the last transaction wrote to ends with its commit marker: what is stored
      // is the last record's offset, one below the log end, and that is a finished partition.
      const ends = await f.admin.fetchTopicOffsets(f.topic);
      const last = (await readCommitted(brokers, f.topic)).records;
      const lastOffset = new Map<number, number>();
      for (const r of last) lastOffset.set(r.partition, r.offset);
      for (const p of new Set(committed2.map((e) => partitionOf(eventKey(e), f.partitions)))) {
        const stored = await f.redis.get(
          new ProjectionKeys(f.prefix, 'users').partition('v1', f.topic, p).offset(),
        );
        expect(stored, `partition ${p}`).toBe(String(lastOffset.get(p)));
        expect(Number(ends.find((o) => o.partition === p)!.high), `partition ${p}`).toBeGreaterThan(
          Number(stored) + 1,
        );
      }

      // 3. Plain records after the trailing markers are applied too: nothing stalls at a gap.
      const tail = users.map((u) => update(u, `tail ${tag}`));
      await publishAll(publisher, tail);
      await until(
        async () => (await f.progress()) >= survivors.length + applied.length + tail.length,
        'the records after the markers applied',
        { timeoutMs: 60_000, describe: () => consumer.log() },
      );
      await sleep(500);
      const exit = await consumer.stop();
      expect(exit.code, consumer.log()).toBe(0);

      // The outside reader sees exactly the compacted history, the committed records and the tail.
      const outside = await decode((await readCommitted(brokers, f.topic)).records);
      const expected = [...compacted, ...applied, ...tail];
      expect(outside.map((e) => e.data.eventId).sort()).toEqual(expected.map((e) => e.data.eventId).sort());
      const read = await readUsers(f.redis, f.prefix, f.topic, f.partitions);
      expect(read.records).toBe(expected.length);
      const oracle = usersOracle(expected);
      expect(diffUsers(read.users, oracle)).toEqual([]);
      expect(read.users.size).toBe(oracle.size);
      for (const e of aborted) {
        const u = read.users.get(e.data.userId);
        expect(u?.name ?? null, e.data.userId).not.toBe(`aborted ${tag}`);
      }

      async function produceSteps(list: readonly Step[]): Promise<void> {
        let transactionalId = '';
        const lines: string[] = [];
        for (const step of list) {
          if (step.op === 'begin') {
            transactionalId ||= step.transactionalId;
            lines.push(JSON.stringify({ op: 'begin', transactionalId }));
          } else if (step.op === 'send') {
            for (const e of step.events) {
              const key = eventKey(e);
              lines.push(
                JSON.stringify({
                  op: 'send',
                  txn: step.txn,
                  topic: f.topic,
                  partition: partitionOf(key, f.partitions),
                  key,
                  value: (await codec.encode(e)).toString('hex'),
                  headers: { [EVENT_TYPE_HEADER]: e.type, [EVENT_ID_HEADER]: e.data.eventId },
                }),
              );
            }
          } else lines.push(JSON.stringify(step));
        }
        const out = JSON.parse(
          await runPython('kafka_client.py', ['produce', brokers.join(',')], lines.join('\n')),
        ) as {
          sent: number;
        };
        expect(out.sent).toBe(list.reduce((n, s) => n + (s.op === 'send' ? s.events.length : 0), 0));
      }
    },
  );
});
