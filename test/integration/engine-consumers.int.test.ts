/**
 * Both consumer engines against the real broker, through the one `EngineConsumer` interface:
 * every record once and in order per partition with keys and headers intact (lz4 batches),
 * `onAssigned` awaited before the first batch, `seek` from `onAssigned`, `{ seekTo }`, the
 * commit left by `disconnect()`, and two members of one group handing partitions over.
 * Expectations come from what was produced (the topic's watermarks and the records' own
 * payloads), not from the consumer under test.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createTopicsAndWait } from '../../infra/topics.js';
import type { TributaryConfig } from '../../lib/config.js';
import type {
  ConsumerHandlers,
  EngineConsumer,
  EngineName,
  IncomingBatch,
  IncomingRecord,
  OutgoingRecord,
  TopicPartition,
} from '../../lib/engine.js';
import { createConsumer, createProducer, engineNames } from '../../lib/engines/index.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, uid } from '../helpers/stack.js';

const KEYS = 24;

/** Record `i`: key `key-(i % KEYS)`, its index in the payload and in a header, a binary header. */
function record(i: number): OutgoingRecord {
  return {
    key: `key-${i % KEYS}`,
    value: Buffer.from(JSON.stringify({ i })),
    headers: { 'event-type': 'ConsumerTest', i: String(i), bin: Buffer.from([0, 255, i % 256]) },
  };
}

function indexOf(r: IncomingRecord): number {
  return (JSON.parse(r.value!.toString()) as { i: number }).i;
}

async function setup(engine: EngineName, partitions: number) {
  const config = testConfig({ TRIBUTARY_CLIENT_ENGINE: engine });
  const admin = await testAdmin(config);
  cleanupTopics(config, admin);
  const topic = `${config.topics.prefix}consumers-${engine}`;
  await createTopicsAndWait(admin, [{ topic, numPartitions: partitions }]);
  return { config, admin, topic, groupId: `${config.topics.prefix}group-${uid()}` };
}

/** Produces records `from`…`to - 1` with the configured engine's producer (lz4 batches). */
async function produce(config: TributaryConfig, topic: string, from: number, to: number): Promise<void> {
  const producer = createProducer(config, testLogger(), { lingerMs: 5, batchBytes: 16 * 1024 });
  await producer.connect();
  try {
    await producer.send(
      topic,
      Array.from({ length: to - from }, (_, j) => record(from + j)),
    );
  } finally {
    await producer.disconnect();
  }
}

/** End offset (high watermark) per partition. */
async function highWatermarks(admin: Admin, topic: string): Promise<Map<number, string>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, o.high]));
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A consumer and what it saw: every batch, every hook call. */
interface Member {
  readonly consumer: EngineConsumer;
  readonly batches: IncomingBatch[];
  readonly assigned: TopicPartition[][];
  readonly revoked: TopicPartition[][];
  records(): IncomingRecord[];
}

async function startMember(
  config: TributaryConfig,
  topic: string,
  groupId: string,
  handlers: (consumer: EngineConsumer) => Partial<ConsumerHandlers> = () => ({}),
): Promise<Member> {
  const consumer = createConsumer(config, testLogger(), { groupId, sessionTimeoutMs: 10_000 });
  onTestFinished(() => consumer.disconnect());
  const overrides = handlers(consumer);
  const member: Member = {
    consumer,
    batches: [],
    assigned: [],
    revoked: [],
    records: () => member.batches.flatMap((b) => b.records),
  };
  await consumer.connect();
  await consumer.subscribe([topic]);
  await consumer.run(
    {
      eachBatch: async (batch, ctx) => {
        const outcome = await overrides.eachBatch?.(batch, ctx);
        member.batches.push(batch);
        return outcome;
      },
      onAssigned: async (partitions) => {
        member.assigned.push([...partitions]);
        await overrides.onAssigned?.(partitions);
      },
      onRevoked: async (partitions) => {
        member.revoked.push([...partitions]);
        await overrides.onRevoked?.(partitions);
      },
    },
    { partitionsConsumedConcurrently: 3 },
  );
  return member;
}

/** The group's committed offset per partition. */
async function committed(admin: Admin, groupId: string, topic: string): Promise<Map<number, string>> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(offsets!.partitions.map((p) => [p.partition, p.offset]));
}

const sorted = (ps: readonly TopicPartition[]) => ps.map((p) => p.partition).sort((a, b) => a - b);

describe.each(engineNames)('the %s consumer engine', (engine) => {
  it('delivers every record once, in order per partition, after an awaited onAssigned, and commits last + 1', async () => {
    const { config, admin, topic, groupId } = await setup(engine, 4);
    const n = 800;
    await produce(config, topic, 0, n);
    const high = await highWatermarks(admin, topic);

    let ready = false;
    let early = 0;
    const member = await startMember(config, topic, groupId, () => ({
      onAssigned: async () => {
        // Slow on purpose (a Redis read in the runtime): no batch may come before this ends.
        await sleep(1_500);
        ready = true;
      },
      eachBatch: async () => {
        if (!ready) early++;
      },
    }));
    expect(member.consumer.engine).toBe(engine);
    await waitFor(() => member.records().length >= n, `${n} records`);
    await sleep(500); // anything delivered twice would arrive now
    expect(early).toBe(0);
    expect(sorted(member.assigned.flat())).toEqual([0, 1, 2, 3]);

    const records = member.records();
    expect(records.map(indexOf).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    const partitionOfKey = new Map<string, number>();
    const now = Date.now();
    for (const r of records) {
      const i = indexOf(r);
      expect(r.topic).toBe(topic);
      expect(r.key?.toString()).toBe(`key-${i % KEYS}`);
      expect(r.headers['event-type']?.toString()).toBe('ConsumerTest');
      expect(r.headers.i?.toString()).toBe(String(i));
      expect(r.headers.bin?.equals(Buffer.from([0, 255, i % 256]))).toBe(true);
      expect(Math.abs(now - r.timestamp)).toBeLessThan(120_000);
      const seen = partitionOfKey.get(r.key!.toString()) ?? r.partition;
      expect(r.partition, 'one partition per key').toBe(seen);
      partitionOfKey.set(r.key!.toString(), r.partition);
    }
    for (const [partition, end] of high) {
      const offsets = records.filter((r) => r.partition === partition).map((r) => Number(r.offset));
      expect(offsets, `partition ${partition} in order, each offset once`).toEqual(
        Array.from({ length: Number(end) }, (_, o) => o),
      );
      // Per key, the producer's order: indexes of one key grow with the offset.
      const byKey = new Map<string, number[]>();
      for (const r of records.filter((x) => x.partition === partition)) {
        byKey.set(r.key!.toString(), [...(byKey.get(r.key!.toString()) ?? []), indexOf(r)]);
      }
      for (const [key, is] of byKey) expect(is, key).toEqual([...is].sort((a, b) => a - b));
    }
    for (const b of member.batches) {
      expect(BigInt(b.highWatermark)).toBeGreaterThan(BigInt(b.records.at(-1)!.offset));
      expect(b.records.every((r) => r.partition === b.partition)).toBe(true);
    }

    await member.consumer.disconnect();
    await member.consumer.disconnect(); // idempotent
    expect(sorted(member.revoked.flat())).toEqual([0, 1, 2, 3]);
    expect(await committed(admin, groupId, topic)).toEqual(high);
  });

  it('starts where onAssigned seeks, and delivers again from a returned seekTo', async () => {
    const { config, admin, topic, groupId } = await setup(engine, 2);
    await produce(config, topic, 0, 400);
    const high = await highWatermarks(admin, topic);
    const START = 10n;
    const TRIGGER = 60n;
    const BACK = '30';
    const sought = new Set<number>();
    const firstAfterSeekTo = new Map<number, string>();
    const lastAfterSeekTo = new Map<number, bigint>();
    const member = await startMember(config, topic, groupId, (consumer) => ({
      onAssigned: async (partitions) => {
        // The runtime reads Redis here; a delay makes a fetch before the seek likely (kafkajs).
        await sleep(300);
        for (const { topic: t, partition } of partitions) consumer.seek(t, partition, String(START));
      },
      eachBatch: async (batch) => {
        const { partition } = batch;
        if (sought.has(partition)) {
          if (!firstAfterSeekTo.has(partition)) firstAfterSeekTo.set(partition, batch.records[0]!.offset);
          lastAfterSeekTo.set(partition, BigInt(batch.records.at(-1)!.offset));
        }
        if (!sought.has(partition) && BigInt(batch.records.at(-1)!.offset) >= TRIGGER) {
          sought.add(partition);
          return { seekTo: BACK };
        }
        return undefined;
      },
    }));
    const done = () => [...high].every(([p, end]) => lastAfterSeekTo.get(p) === BigInt(end) - 1n);
    await waitFor(done, 'the last record of every partition, after its seekTo');

    for (const [partition, end] of high) {
      expect(BigInt(end)).toBeGreaterThan(TRIGGER);
      const offsets = member
        .records()
        .filter((r) => r.partition === partition)
        .map((r) => BigInt(r.offset));
      expect(
        offsets.every((o) => o >= START),
        `partition ${partition}: nothing before the seek`,
      ).toBe(true);
      expect(offsets[0], `partition ${partition} starts at the sought offset`).toBe(START);
      expect(firstAfterSeekTo.get(partition), `partition ${partition} resumes at seekTo`).toBe(BACK);
      // Every offset from START to the end arrived; those from BACK up to the trigger batch twice.
      expect(new Set(offsets).size).toBe(Number(BigInt(end) - START));
    }
    await member.consumer.disconnect();
    expect(await committed(admin, groupId, topic)).toEqual(high);
  });

  it('splits partitions between two members and hands a leaving member’s over without loss', async () => {
    const { config, admin, topic, groupId } = await setup(engine, 4);
    await produce(config, topic, 0, 300);
    const a = await startMember(config, topic, groupId);
    await waitFor(() => a.records().length >= 300, 'member A to read the first 300');

    const b = await startMember(config, topic, groupId);
    await waitFor(
      () => a.consumer.assignment().length === 2 && b.consumer.assignment().length === 2,
      'two partitions each',
    );
    expect(a.revoked.length, 'A gave its partitions up when B joined (eager)').toBeGreaterThan(0);
    const bOwned = sorted(b.consumer.assignment());
    expect([...sorted(a.consumer.assignment()), ...bOwned].sort()).toEqual([0, 1, 2, 3]);

    await produce(config, topic, 300, 600);
    await waitFor(
      () => new Set([...a.records(), ...b.records()].map(indexOf)).size >= 600,
      'A and B to read 600',
    );
    expect(b.records().length).toBeGreaterThan(0);

    await b.consumer.disconnect();
    expect(sorted(b.revoked.at(-1)!)).toEqual(bOwned);
    await waitFor(() => a.consumer.assignment().length === 4, 'A to take over all partitions', 60_000);
    expect(sorted(a.assigned.at(-1)!)).toEqual([0, 1, 2, 3]);

    await produce(config, topic, 600, 900);
    await waitFor(
      () => new Set([...a.records(), ...b.records()].map(indexOf)).size >= 900,
      'all 900 records',
    );
    const fromA = a.records().filter((r) => bOwned.includes(r.partition) && indexOf(r) >= 600);
    expect(fromA.length, 'A reads the partitions B left').toBeGreaterThan(0);

    // Commits on revoke and on disconnect: the member taking a partition over starts after the
    // last record its former owner finished, so nothing was read twice either.
    const all = [...a.records(), ...b.records()];
    expect(all).toHaveLength(900);
    await a.consumer.disconnect();
    expect(await committed(admin, groupId, topic)).toEqual(await highWatermarks(admin, topic));
  });
});
