/**
 * `tributary/testing`: what an app's own tests are written with. Two levels, as a projection has:
 *
 * - **`commandsOf(projection, event)`**: the Redis commands `apply` writes for one event, without
 *   any server (a pure unit test of the handler).
 * - **`testProjection({ app, projection })`**: the projection run over a list of events against a
 *   real Redis, through the same offset fence (the `apply-batch.lua` script) the consumers use,
 *   then read back through its own readers: what Kafka Streams' TopologyTestDriver is for a
 *   topology, without the broker. Events are put in the partition a producer would choose (the
 *   topic's key, murmur2), each partition's records get consecutive offsets, a repeated event id
 *   is dropped as the consumers drop it, and an event `apply` refuses is reported as a dead letter.
 * - **`startStack()`**: the local stack (Redis only by default) for a test run's global setup.
 *
 * ```ts
 * const t = await testProjection({ app: await loadApp(), projection: 'invoices-per-customer' });
 * await t.apply([issued('c-1', 100), issued('c-1', 50)]);
 * expect(await t.read('customer', { id: 'c-1' })).toEqual({ customerId: 'c-1', issued: 2, amount: 150 });
 * await t.close(); // deletes its keys
 * ```
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { OffsetFence, WriteBatch } from '../consumers/offset-fence.js';
import type { Projection } from '../consumers/runtime/types.js';
import { stackDown, stackUp, type ComponentName } from '../infra/stack/stack.js';
import { loadConfig, type TributaryConfig } from '../lib/config.js';
import { isUnrecoverable } from '../lib/errors.js';
import { partitionOf } from '../lib/partitioner.js';
import { readerContext, type Reader } from '../lib/read-models/reader.js';
import { fixedPartitionCounts } from '../lib/read-models/source.js';
import { PartitionKeys, ProjectionKeys } from '../lib/redis-keys.js';
import type { AppEvent, EventEnvelope } from '../schemas/catalog.js';
import { validateEvent } from '../schemas/validate.js';
import type { App } from './app.js';

/** The commands `projection.apply` adds for `event`, as words (`['HSET', key, field, value]`). */
export function commandsOf(
  projection: Projection<never>,
  event: AppEvent<string, object>,
  options: { readonly topic?: string; readonly partition?: number; readonly offset?: string } = {},
): string[][] {
  const p = projection as unknown as Projection;
  const topic = options.topic ?? p.topics[0] ?? 'topic';
  const keys = new PartitionKeys('', `${p.name}.v1`, topic, options.partition ?? 0);
  const batch = new WriteBatch();
  p.apply(
    {
      event: event as AppEvent,
      topic,
      partition: options.partition ?? 0,
      offset: options.offset ?? '0',
      timestamp: Date.now(),
    },
    batch,
    keys,
  );
  // WriteBatch.words is flat: each op's word count, then its words.
  const ops: string[][] = [];
  for (let i = 0; i < batch.words.length;) {
    const n = Number(batch.words[i]);
    ops.push(batch.words.slice(i + 1, i + 1 + n));
    i += 1 + n;
  }
  return ops;
}

/** What {@link ProjectionTest.apply} did with the events it was given. */
export interface ApplyOutcome {
  /** Events applied (their writes are in Redis). */
  readonly applied: number;
  /** Events dropped because their event id was applied before. */
  readonly duplicates: number;
  /** Events that `apply` (or the schema) refused: the consumers would dead-letter them. */
  readonly deadLettered: readonly { readonly event: AppEvent<string, object>; readonly error: Error }[];
}

/** A projection under test, over a Redis key prefix of its own. */
export interface ProjectionTest {
  /** The Redis it writes to (the test's own connection). */
  readonly redis: Redis;
  /** The key prefix its keys live under (unique per test). */
  readonly keyPrefix: string;
  /** Applies `events` in order, through the offset fence; resolves once all are in Redis. */
  apply(events: readonly AppEvent<string, object>[]): Promise<ApplyOutcome>;
  /** Runs one of the projection's readers, as `GET /models/<projection>/<reader>` would. */
  read<A = unknown>(reader: string, params?: Record<string, unknown>): Promise<A | null>;
  /** Deletes every key it wrote and closes its connection. */
  close(): Promise<void>;
}

export interface TestProjectionOptions {
  readonly app: App;
  /** The projection's name. */
  readonly projection: string;
  /** Default `TRIBUTARY_REDIS_URL`, else the local stack's Redis. */
  readonly redisUrl?: string;
  /** Default `test:<random>:`, unique per call. */
  readonly keyPrefix?: string;
  /** The config whose topic partitions and de-duplication horizon apply; default from the environment. */
  readonly config?: TributaryConfig;
}

/**
 * Runs `options.projection` of `options.app` against a real Redis (see the module comment).
 *
 * @throws for a projection the app lacks, or one with in-memory state across batches
 *   (`configure`): that runs only through the consumer runtime.
 */
export async function testProjection(options: TestProjectionOptions): Promise<ProjectionTest> {
  const { app } = options;
  const projection = app.projections.get(options.projection);
  if (!projection) {
    throw new Error(
      `the app ${app.name} has no projection ${JSON.stringify(options.projection)} (${[...app.projections.keys()].join(', ') || 'none'})`,
    );
  }
  if (projection.configure) {
    throw new Error(
      `${projection.name} keeps state across batches (configure): test it through the consumer runtime`,
    );
  }
  const config = options.config ?? loadConfig();
  const keyPrefix = options.keyPrefix ?? `test:${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(options.redisUrl ?? config.redis.url.value, { maxRetriesPerRequest: 2 });
  const fence = new OffsetFence(redis);
  const projectionKeys = new ProjectionKeys(keyPrefix, projection.name);
  await redis.set(projectionKeys.current(), 'v1', 'NX');
  const version = (await redis.get(projectionKeys.current())) ?? 'v1';
  const partitionsOf = (topic: string) => app.catalog.topic(topic)?.partitions ?? config.topics.partitions;
  const counts = Object.fromEntries(projection.topics.map((t) => [t, partitionsOf(t)]));
  const source = { redis, keyPrefix, topicPrefix: '', partitions: fixedPartitionCounts(counts) };
  const next = new Map<string, bigint>();
  const topicOfType = new Map(app.catalog.types.map((t) => [t, app.catalog.get(t).topic]));

  async function applyOne(event: AppEvent<string, object>): Promise<'applied' | 'duplicate' | Error> {
    const topic = topicOfType.get(event.type);
    if (topic === undefined || !projection!.topics.includes(topic)) {
      return new Error(
        `${event.type} is not on a topic ${projection!.name} reads (${projection!.topics.join(', ')})`,
      );
    }
    const partition = partitionOf(app.catalog.eventKey(event), partitionsOf(topic));
    const keys = projectionKeys.partition(version, topic, partition);
    const where = `${topic}:${partition}`;
    const offset = next.get(where) ?? 0n;
    next.set(where, offset + 1n);
    const expected = offset === 0n ? undefined : String(offset - 1n);
    const batch = new WriteBatch();
    let refused: Error | undefined;
    try {
      validateEvent(app.catalog, event);
      batch.current = String(offset);
      projection!.apply(
        { event: event as AppEvent, topic, partition, offset: String(offset), timestamp: Date.now() },
        batch,
        keys,
      );
    } catch (err) {
      if (!isUnrecoverable(err)) throw err;
      refused = err;
    }
    const data = event.data as EventEnvelope;
    const horizon = config.consumer.dedupHorizonMs;
    const slice = (writes: WriteBatch, dedup: boolean) => ({
      expected,
      last: String(offset),
      batch: writes,
      ids: dedup && horizon > 0 ? [data.eventId] : [],
      idsTime: data.occurredAt,
      forgetBefore: data.occurredAt - horizon,
    });
    // A refused event still moves the offset, as a dead-lettered record does.
    const result = await fence.apply(keys, slice(refused ? new WriteBatch() : batch, !refused));
    if (result.kind === 'duplicates') {
      await fence.apply(keys, slice(new WriteBatch(), false));
      return 'duplicate';
    }
    if (result.kind === 'bound') {
      await fence.apply(keys, slice(new WriteBatch(), false));
      return new Error(`${event.type}: a sum would leave the safe-integer range`);
    }
    if (result.kind !== 'applied') throw new Error(`the fence answered ${JSON.stringify(result)}`);
    return refused ?? 'applied';
  }

  return {
    redis,
    keyPrefix,
    async apply(events) {
      let applied = 0;
      let duplicates = 0;
      const deadLettered: { event: AppEvent<string, object>; error: Error }[] = [];
      for (const event of events) {
        const outcome = await applyOne(event);
        if (outcome === 'applied') applied++;
        else if (outcome === 'duplicate') duplicates++;
        else deadLettered.push({ event, error: outcome });
      }
      return { applied, duplicates, deadLettered };
    },
    async read<A>(name: string, params: Record<string, unknown> = {}) {
      const reader = projection.readers?.[name] as Reader<Record<string, unknown>, A> | undefined;
      if (!reader) {
        throw new Error(
          `${projection.name} has no reader ${JSON.stringify(name)} (${Object.keys(projection.readers ?? {}).join(', ') || 'none'})`,
        );
      }
      return reader.read(params, readerContext(source, projection.name));
    },
    async close() {
      let cursor = '0';
      do {
        const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.unlink(...keys);
        cursor = nextCursor;
      } while (cursor !== '0');
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** A local stack started for a test run. */
export interface TestStack {
  readonly config: TributaryConfig;
  /** Stops what the stack started (a Redis of your own that answered on the port is left alone). */
  stop(): Promise<void>;
}

/**
 * Starts the local stack for a test run (a vitest `globalSetup`, say): Redis only by default,
 * which is all {@link testProjection} needs; pass `parts` for Kafka and the registry too. Ports and
 * the state folder come from the environment (`TRIBUTARY_REDIS_PORT`, `TRIBUTARY_STATE_DIR`, …).
 */
export async function startStack(
  options: { readonly parts?: readonly ComponentName[]; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<TestStack> {
  const config = loadConfig(options.env);
  const logger = pino({ level: 'warn' });
  const only = options.parts ?? ['redis'];
  await stackUp(config, logger, { only });
  return { config, stop: async () => void (await stackDown(config, logger, { only })) };
}
