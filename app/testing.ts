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

/**
 * The event as a consumer decodes it: through its Avro schema, so fields left out take their
 * schema defaults (and a value the schema refuses throws, as the producer would refuse it).
 */
function asDecoded(app: App | undefined, event: AppEvent<string, object>): AppEvent {
  const def = app?.catalog.find(event.type);
  if (!def) return event as AppEvent;
  return {
    type: event.type,
    data: def.avroType.fromBuffer(def.avroType.toBuffer(event.data)) as EventEnvelope,
  };
}

/**
 * The commands `projection.apply` adds for `event`, as words (`['HSET', key, field, value]`);
 * bounded sums (`w.sum`) as `['HINCRBY', key, field, increment]`, and guarded commands as the
 * fence encodes them (`['IF_EXISTS', guard, command…]`). Pass `app` to see the event as a consumer
 * decodes it (schema defaults filled in).
 */
export function commandsOf(
  projection: Projection<never>,
  event: AppEvent<string, object>,
  options: {
    readonly app?: App;
    readonly topic?: string;
    readonly partition?: number;
    readonly offset?: string;
  } = {},
): string[][] {
  const p = projection as unknown as Projection;
  const topic = options.topic ?? p.topics[0] ?? 'topic';
  const partition = options.partition ?? 0;
  const keys = new PartitionKeys('', `${p.name}.v1`, topic, partition);
  const batch = new WriteBatch();
  const offset = options.offset ?? '0';
  batch.current = offset;
  p.apply(
    { event: asDecoded(options.app, event), topic, partition, offset, timestamp: Date.now() },
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
  // Sums travel apart: key, field, increment and whether to add it ('1') or only check it ('0').
  for (let i = 0; i < batch.sums.length; i += 4) {
    if (batch.sums[i + 3] === '1')
      ops.push(['HINCRBY', batch.sums[i]!, batch.sums[i + 1]!, batch.sums[i + 2]!]);
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
  if (projection.configure || projection.begin || projection.finish || projection.restore) {
    throw new Error(
      `${projection.name} keeps state across batches (configure, begin, finish or restore): test it through the consumer runtime`,
    );
  }
  const config = options.config ?? loadConfig();
  const keyPrefix = options.keyPrefix ?? `test:${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(options.redisUrl ?? config.redis.url.value, { maxRetriesPerRequest: 2 });
  const fence = new OffsetFence(redis);
  const projectionKeys = new ProjectionKeys(keyPrefix, projection.name);
  let version: string;
  try {
    await redis.set(projectionKeys.current(), 'v1', 'NX');
    version = (await redis.get(projectionKeys.current())) ?? 'v1';
  } catch (err) {
    redis.disconnect();
    const url = options.redisUrl ?? config.redis.url.value;
    throw new Error(`testProjection: Redis at ${url} does not answer: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const partitionsOf = (topic: string) => app.catalog.topic(topic)?.partitions ?? config.topics.partitions;
  // Every topic of the app: a reader may read another projection's keys (`ctx.of`).
  const counts = Object.fromEntries(app.catalog.topics.map((t) => [t.name, partitionsOf(t.name)]));
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
    const expected = offset === 0n ? undefined : String(offset - 1n);
    const batch = new WriteBatch();
    let refused: Error | undefined;
    try {
      // Checked and decoded as a producer and a consumer would: schema defaults filled in.
      validateEvent(app.catalog, event);
      const decoded = asDecoded(app, event);
      batch.current = String(offset);
      projection!.apply(
        { event: decoded, topic, partition, offset: String(offset), timestamp: Date.now() },
        batch,
        keys,
      );
    } catch (err) {
      // Anything else, the consumers would retry: the test fails with it, and nothing moved.
      if (!isUnrecoverable(err)) throw err;
      refused = err;
    }
    const eventId = (event.data as Partial<EventEnvelope>).eventId;
    const horizon = config.consumer.dedupHorizonMs;
    // Ids are kept by record time, here the time the event is applied (as the consumers keep them).
    const now = Date.now();
    const slice = (writes: WriteBatch, dedup: boolean) => ({
      expected,
      last: String(offset),
      batch: writes,
      ids: dedup && horizon > 0 && eventId !== undefined ? [eventId] : [],
      idsTime: now,
      forgetBefore: now - horizon,
    });
    next.set(where, offset + 1n);
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
      return reader.read(withDefaults(reader, params), readerContext(source, projection.name));
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

/**
 * `params` with the defaults of the reader's parameter schema, its required ones checked, as the
 * query service's validation hands them to the reader.
 */
function withDefaults(reader: Reader<never>, params: Record<string, unknown>): Record<string, unknown> {
  const schema = (reader.params ?? {}) as {
    properties?: Record<string, { default?: unknown }>;
    required?: string[];
  };
  const out: Record<string, unknown> = { ...params };
  for (const [name, p] of Object.entries(schema.properties ?? {})) {
    if (out[name] === undefined && p.default !== undefined) out[name] = p.default;
  }
  const missing = (schema.required ?? []).filter((name) => out[name] === undefined);
  if (missing.length > 0) throw new Error(`read: missing parameter(s) ${missing.join(', ')}`);
  return out;
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
