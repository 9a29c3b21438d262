/**
 * The consumer runtime: runs one projection as a consumer group with an exactly-once effect in
 * Redis (DESIGN.md §4). Per partition batch: decode (cached writer schemas and resolvers), build
 * the writes, apply them with the partition's new offset behind the offset fence (one round
 * trip), then commit the offset to Kafka too so lag tools keep working. Where a partition starts
 * is decided by the offset stored in Redis, not by Kafka's commit: a batch that starts past it
 * makes the runtime seek back, one that starts before it is trimmed. Records that cannot be
 * decoded or applied go to `<topic>.dlq`; Redis or broker outages are retried with backoff and
 * never turn into dead letters.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Admin } from 'kafkajs';
import type { TributaryConfig } from '../../lib/config.js';
import { deadLetterRecord } from '../../lib/dead-letter.js';
import type {
  BatchContext,
  EngineConsumer,
  EngineProducer,
  IncomingBatch,
  IncomingRecord,
  OutgoingRecord,
  SeekTo,
  TopicPartition,
} from '../../lib/engine.js';
import { createConsumer, createProducer } from '../../lib/engines/index.js';
import { ErrorCodes, hasCode, isTributaryError, isUnrecoverable } from '../../lib/errors.js';
import { createKafka } from '../../lib/kafka.js';
import { dlqTopic, projectionGroupId } from '../../lib/names.js';
import type { Logger } from '../../lib/logger.js';
import { topicName, type EventCatalog } from '../../schemas/catalog.js';
import { EventCodec } from '../../schemas/codec.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { ProjectionKeys, progressKey, type PartitionKeys } from '../../lib/redis-keys.js';
import { OffsetFence, WriteBatch, refuseOutOfRange } from '../offset-fence.js';
import type { ConsumerMetrics } from './consumer-metrics.js';
import { OutputProducer } from './outputs.js';
import type { AppliedRecord, BatchOutcome, PeriodicContext, Projection } from './types.js';

export interface RuntimeOptions {
  /** The app's events: what the records are decoded into. */
  readonly catalog: EventCatalog;
  readonly config: TributaryConfig;
  readonly logger: Logger;
  readonly projection: Projection;
  /** Key version to write (default: the projection's current version, `v1` on first start). */
  readonly version?: string;
  /** Consumer group (default `<topic prefix>tributary-<projection>.<version>`). */
  readonly groupId?: string;
  /** Key prefix in Redis (default `config.redis.keyPrefix`). */
  readonly keyPrefix?: string;
  /** Attempts of a failing handler on one record before it is dead-lettered. Default 5. */
  readonly maxHandlerAttempts?: number;
  /** First backoff (ms), doubled per attempt up to `maxBackoffMs`. Default 100 / 5,000. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Prometheus metrics to record into (shared by the groups of a process). */
  readonly metrics?: ConsumerMetrics;
  /**
   * Partitions processed in parallel. Default: every partition of the subscribed topics (at most
   * {@link MAX_DEFAULT_CONCURRENCY}), so a group over several topics (analytics reads three) does
   * not work through them a few at a time while the others lag; each partition's slices still
   * apply one after another.
   */
  readonly partitionsConsumedConcurrently?: number;
}

/** The most partitions processed in parallel by default. */
const MAX_DEFAULT_CONCURRENCY = 32;

/** Most records applied by one fenced script (see `onBatch`). */
const MAX_RECORDS_PER_APPLY = 500;

export interface RuntimeStats {
  consumed: number;
  applied: number;
  /** Records skipped because the fence had them already (replays). */
  replayed: number;
  deadLettered: number;
  retried: number;
  batches: number;
  /** Records dropped because their event id was applied before (within the horizon). */
  duplicates: number;
  /** Times Redis was found behind this consumer (it lost writes) and the partition replayed. */
  redisBehind: number;
  /**
   * Records of an event type the app does not know (a registered record a newer producer added):
   * skipped, not dead-lettered (DESIGN.md §10), and counted.
   */
  unknownTypes: number;
}

/** What a slice's earlier attempts decided, by record offset. */
interface SliceSkips {
  /** Records whose event id the fence found applied before. */
  readonly duplicates: Set<string>;
  /** Records to dead-letter because a sum they add to would leave its bound (→ the sum). */
  readonly outOfRange: Map<string, string>;
  /** Dead letters already produced. */
  readonly sentDeadLetters: Set<string>;
}

/** One slice, built: its writes, dead letters and event ids. */
interface BuiltSlice {
  readonly writes: WriteBatch;
  readonly dead: { readonly offset: string; readonly record: OutgoingRecord }[];
  /** Event ids of the records applied, and their offsets. */
  readonly ids: string[];
  readonly idOffsets: string[];
  /** The latest record time among them (epoch ms), bounded by now. */
  idsTime: number;
  applied: number;
  duplicates: number;
  unknownTypes: number;
  outcome?: BatchOutcome | undefined;
  /** Set when a handler failed and the slice must be built again after a backoff (attempts). */
  readonly retry?: number;
}

/** A running consumer group. */
export class ConsumerRuntime {
  readonly stats: RuntimeStats = {
    consumed: 0,
    applied: 0,
    replayed: 0,
    deadLettered: 0,
    retried: 0,
    batches: 0,
    duplicates: 0,
    redisBehind: 0,
    unknownTypes: 0,
  };
  /** Record names of unknown event types already logged (once each). */
  private readonly unknownLogged = new Set<string>();
  /**
   * Per `topic:partition`, the offset this consumer believes Redis stores (undefined: none), known
   * once the partition was read in this assignment; the fence applies a slice only if it is so.
   */
  private readonly expected = new Map<string, string | undefined>();
  /**
   * Partitions sought back to Redis's offset outside a batch (Redis lost writes while they had
   * nothing new to fence): their next batch starts there and first re-reads what is stored.
   */
  private readonly reread = new Set<string>();
  private readonly handlerFailures = new Map<string, number>();
  private stopping = false;
  /** Partitions whose projection state was restored in this assignment (`Projection.restore`). */
  private readonly restored = new Set<string>();
  /** Partition batches in hand, for `PeriodicContext.drain`. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly stopped = new AbortController();
  private periodicLoop: Promise<void> | undefined;
  private verifyLoop: Promise<void> | undefined;
  /** Dead letters and side outputs (see outputs.ts). */
  private readonly outputs: OutputProducer;

  private constructor(
    private readonly options: RuntimeOptions,
    private readonly log: Logger,
    private readonly consumer: EngineConsumer,
    private readonly admin: Admin,
    private readonly redis: Redis,
    private readonly fence: OffsetFence,
    private readonly keys: ProjectionKeys,
    readonly version: string,
    readonly groupId: string,
    private readonly codec: EventCodec,
    private readonly deadLetters: EngineProducer,
  ) {
    this.outputs = new OutputProducer({
      producer: deadLetters,
      log,
      groupId,
      metrics: options.metrics,
      backoff: (attempt) => this.backoff(attempt),
      stopping: () => this.stopping,
    });
  }

  /** Connects, joins the group and starts consuming. Resolves once the group is joined. */
  static async start(options: RuntimeOptions): Promise<ConsumerRuntime> {
    const { config, projection } = options;
    const redis = new Redis(config.redis.url.value, { maxRetriesPerRequest: null, lazyConnect: true });
    await redis.connect();
    const keys = new ProjectionKeys(options.keyPrefix ?? config.redis.keyPrefix, projection.name);
    let version = options.version;
    if (!version) {
      await redis.set(keys.current(), 'v1', 'NX');
      version = (await redis.get(keys.current())) ?? 'v1';
    }
    // One group per key version: a rebuild fills v2 with group `…-users.v2`, and after the swap
    // the live consumers move to that group and carry on where the rebuild stopped.
    const groupId = options.groupId ?? projectionGroupId(config.topics.prefix, projection.name, version);
    const log = options.logger.child({ component: 'consumer', projection: projection.name, groupId });
    redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
    // A projection with in-memory state (analytics) makes a fresh instance for this runtime.
    const setup = {
      catalog: options.catalog,
      config,
      logger: log,
      groupId,
      version,
      metrics: options.metrics,
    };
    const instance = projection.configure?.(setup) ?? projection;
    const kafka = createKafka(config, log, { clientId: groupId });
    const admin = kafka.admin();
    await admin.connect();
    // The client engine (`TRIBUTARY_CLIENT_ENGINE`) consumes; the admin client (metadata only)
    // is kafkajs on either engine. Fetch sizes are the engines' defaults (sized for memory).
    const consumer = createConsumer(config, log, {
      groupId,
      clientId: groupId,
      sessionTimeoutMs: config.consumer.sessionTimeoutMs,
    });
    const codec = new EventCodec({
      catalog: options.catalog,
      registry: createSchemaRegistryClient(config),
      topicPrefix: config.topics.prefix,
    });
    const deadLetters = createProducer(config, log, { lingerMs: 0 });
    await deadLetters.connect();
    const runtime = new ConsumerRuntime(
      { ...options, projection: instance },
      log,
      consumer,
      admin,
      redis,
      new OffsetFence(redis),
      keys,
      version,
      groupId,
      codec,
      deadLetters,
    );
    await runtime.run();
    runtime.startPeriodic();
    runtime.startVerifying();
    return runtime;
  }

  private async run(): Promise<void> {
    const topics = this.options.projection.topics.map((t) => topicName(t, this.options.config.topics.prefix));
    const concurrency = this.options.partitionsConsumedConcurrently ?? (await this.partitionCount(topics));
    await this.consumer.connect();
    await this.consumer.subscribe(topics);
    await this.consumer.run(
      {
        eachBatch: (batch, ctx) => this.track(this.onBatch(batch, ctx)),
        onAssigned: (partitions) => this.onAssigned(partitions),
        onRevoked: async (partitions) => {
          for (const { topic, partition } of partitions) {
            this.expected.delete(`${topic}:${partition}`);
            this.restored.delete(`${topic}:${partition}`);
            this.reread.delete(`${topic}:${partition}`);
          }
        },
      },
      { partitionsConsumedConcurrently: concurrency },
    );
    this.log.info(
      { topics, version: this.version, engine: this.consumer.engine, concurrency },
      'consumer running',
    );
  }

  /**
   * Partitions of `topics` together, between 1 and {@link MAX_DEFAULT_CONCURRENCY}; 3 when the
   * metadata cannot be read (a topic not created yet: the engine then waits for it).
   */
  private async partitionCount(topics: readonly string[]): Promise<number> {
    try {
      const { topics: found } = await this.admin.fetchTopicMetadata({ topics: [...topics] });
      const total = found.reduce((sum, t) => sum + t.partitions.length, 0);
      return Math.min(MAX_DEFAULT_CONCURRENCY, Math.max(1, total));
    } catch (err) {
      this.log.info(
        { err: (err as Error).message, topics },
        'no partition counts yet; 3 partitions at a time',
      );
      return 3;
    }
  }

  /**
   * A new assignment: every partition starts at the offset after the one stored in Redis, even
   * when Kafka's commit is further on (Redis lost writes) and no new record would reveal the gap.
   * The engine awaits this before handing out any batch of these partitions.
   */
  private async onAssigned(partitions: readonly TopicPartition[]): Promise<void> {
    for (const { topic, partition } of partitions) {
      const tp = `${topic}:${partition}`;
      this.restored.delete(tp);
      const { stored, start } = await this.withRetry(
        'read stored offset',
        async () => undefined,
        () => this.position(topic, partition),
      );
      this.expected.set(tp, stored);
      this.consumer.seek(topic, partition, String(start));
    }
  }

  /** Keeps `batch` in {@link inFlight} until it settles. */
  private track<T>(batch: Promise<T>): Promise<T> {
    this.inFlight.add(batch);
    void batch.catch(() => undefined).finally(() => this.inFlight.delete(batch));
    return batch;
  }

  /**
   * Checks, after every reconnection to Redis and every `verifyIntervalMs`, that Redis still holds
   * what this consumer applied. The fence finds a loss when the next slice of a partition comes;
   * a partition with nothing new to apply would never show it, and its lost records would stay
   * lost. A partition found behind is sought back to Redis's offset + 1 and re-read there.
   */
  private startVerifying(): void {
    const intervalMs = this.options.config.consumer.verifyIntervalMs;
    let wake: (() => void) | undefined;
    let connections = this.redis.status === 'ready' ? 1 : 0;
    this.redis.on('ready', () => {
      if (++connections > 1) wake?.();
    });
    this.verifyLoop = (async () => {
      while (!this.stopping) {
        const woken = new Promise<void>((resolve) => (wake = resolve));
        const timer = sleep(intervalMs, undefined, { signal: this.stopped.signal }).catch(() => undefined);
        await Promise.race([timer, woken]);
        wake = undefined;
        if (this.stopping) return;
        try {
          await this.verifyStored();
        } catch (err) {
          this.log.debug({ err: (err as Error).message }, 'stored offsets not verified; tried again later');
        }
      }
    })();
  }

  /** One check of {@link startVerifying}. */
  private async verifyStored(): Promise<void> {
    for (const [tp, expected] of [...this.expected]) {
      if (expected === undefined || this.reread.has(tp)) continue;
      const cut = tp.lastIndexOf(':');
      const topic = tp.slice(0, cut);
      const partition = Number(tp.slice(cut + 1));
      // Read after `expected` was taken: what Redis stores only grows, but by a loss.
      const stored = await this.fence.stored(this.keys.partition(this.version, topic, partition));
      if (stored !== undefined && BigInt(stored) >= BigInt(expected)) continue;
      if (this.expected.get(tp) !== expected) continue; // revoked, or moved on meanwhile
      const { start } = await this.position(topic, partition);
      if (this.expected.get(tp) !== expected) continue;
      this.reread.add(tp);
      this.behind(topic, partition, expected, stored, start);
      this.consumer.seek(topic, partition, String(start));
    }
  }

  /** Runs the projection's periodic task, if it has one, until {@link stop}. */
  private startPeriodic(): void {
    const task = this.options.projection.periodic;
    if (!task) return;
    const ctx: PeriodicContext = {
      config: this.options.config,
      redis: this.redis,
      admin: this.admin,
      producer: this.deadLetters,
      keys: this.keys,
      version: this.version,
      groupId: this.groupId,
      logger: this.log,
      signal: this.stopped.signal,
      drain: async () => {
        await Promise.allSettled([...this.inFlight]);
      },
    };
    this.periodicLoop = (async () => {
      while (!this.stopping) {
        await sleep(task.intervalMs, undefined, { signal: this.stopped.signal }).catch(() => undefined);
        if (this.stopping) return;
        try {
          await task.run(ctx);
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'periodic task failed; it runs again');
        }
      }
    })();
  }

  /** Finishes and fences the batch in hand, commits, leaves the group, closes connections. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopped.abort();
    await this.consumer.disconnect();
    await Promise.all([this.periodicLoop, this.verifyLoop]);
    await Promise.allSettled([this.admin.disconnect(), this.deadLetters.disconnect()]);
    this.redis.disconnect();
    this.log.info(this.stats, 'consumer stopped');
  }

  /**
   * What Redis holds for this partition now, and where its next batch must start: the offset
   * after the stored one, or the earliest that still exists (retention) when that is further on.
   */
  private async position(topic: string, partition: number): Promise<{ stored?: string; start: bigint }> {
    const stored = await this.fence.stored(this.keys.partition(this.version, topic, partition));
    const low =
      (await this.admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition)?.low ?? '0';
    const fromRedis = stored === undefined ? 0n : BigInt(stored) + 1n;
    const start = fromRedis > BigInt(low) ? fromRedis : BigInt(low);
    return stored === undefined ? { start } : { stored, start };
  }

  private async onBatch(batch: IncomingBatch, ctx: BatchContext): Promise<void | SeekTo> {
    const { topic, partition } = batch;
    const tp = `${topic}:${partition}`;
    if (batch.records.length === 0) return;
    if (!this.expected.has(tp) || this.reread.delete(tp)) {
      const { stored } = await this.withRetry('read stored offset', ctx.heartbeat, () =>
        this.position(topic, partition),
      );
      this.expected.set(tp, stored);
    }
    // Offsets are facts, not arithmetic (DESIGN.md §11): a batch may start anywhere past the
    // stored offset (markers, compaction and retention leave gaps); what lies at or before it
    // was applied already.
    const records = this.unapplied(batch.records, this.expected.get(tp));
    this.countReplayed(topic, batch.records.length - records.length);
    const started = process.hrtime.bigint();
    // One fenced script per slice: a fetch can hold tens of thousands of records, whose writes as
    // one script's arguments overflow the call stack (the batch then never applies) and block Redis.
    for (let i = 0; i < records.length && ctx.isRunning(); i += MAX_RECORDS_PER_APPLY) {
      const seek = await this.commitSlice(topic, partition, records.slice(i, i + MAX_RECORDS_PER_APPLY), ctx);
      if (seek) return seek;
    }
    const last = batch.records.at(-1)!.offset;
    const metrics = this.options.metrics;
    if (metrics) {
      const now = Date.now();
      metrics.batchDuration.observe({ group: this.groupId }, Number(process.hrtime.bigint() - started) / 1e9);
      const group = { group: this.groupId };
      for (const m of records) metrics.endToEnd.observe(group, (now - m.timestamp) / 1000);
      const lag = Number(BigInt(batch.highWatermark) - BigInt(last) - 1n);
      metrics.lag.set({ group: this.groupId, topic, partition: String(partition) }, Math.max(0, lag));
    }
  }

  /** The records past `stored` (all of them when none is stored). */
  private unapplied(
    records: readonly IncomingRecord[],
    stored: string | undefined,
  ): readonly IncomingRecord[] {
    if (stored === undefined) return records;
    const applied = BigInt(stored);
    // One BigInt per record only when the batch starts at or before the stored offset (a replay).
    if (BigInt(records[0]!.offset) > applied) return records;
    return records.filter((m) => BigInt(m.offset) > applied);
  }

  /**
   * Builds and fences one slice until the fence takes it, moving past what it answers: records
   * applied before by someone else are dropped, duplicate event ids are dropped, records whose
   * sums would leave their bound are dead-lettered. Answers a seek when Redis turned out to be
   * behind this consumer (it lost writes): the partition then replays from Redis's offset.
   */
  private async commitSlice(
    topic: string,
    partition: number,
    slice: readonly IncomingRecord[],
    ctx: BatchContext,
  ): Promise<SeekTo | undefined> {
    const tp = `${topic}:${partition}`;
    const keys = this.keys.partition(this.version, topic, partition);
    const skip: SliceSkips = { duplicates: new Set(), outOfRange: new Map(), sentDeadLetters: new Set() };
    let records = slice;
    while (records.length > 0) {
      await this.restoreState(tp, keys, ctx.heartbeat);
      const built = await this.buildSlice(tp, keys, records, skip, ctx.heartbeat);
      if (built.retry) {
        // A handler failed on a record and may succeed later: nothing of the slice is applied yet.
        await sleep(this.backoff(built.retry));
        await ctx.heartbeat();
        continue;
      }
      await this.sendOutputs(topic, built, skip, ctx.heartbeat);
      const expected = this.expected.get(tp);
      const result = await this.withRetry('apply batch', ctx.heartbeat, () =>
        this.fence.apply(keys, {
          expected,
          last: records.at(-1)!.offset,
          batch: built.writes,
          ids: built.ids,
          idsTime: built.idsTime,
          forgetBefore: built.idsTime - this.options.config.consumer.dedupHorizonMs,
          floor: built.outcome?.floor,
        }),
      );
      switch (result.kind) {
        case 'applied':
          this.expected.set(tp, result.stored);
          this.applied(topic, records.length, built);
          return undefined;
        case 'duplicates':
          for (const i of result.positions) skip.duplicates.add(built.idOffsets[i]!);
          this.log.info(
            { topic, partition, duplicates: result.positions.length },
            'event ids applied before (within the de-duplication horizon): dropped',
          );
          break;
        case 'bound': {
          const refused = refuseOutOfRange(records, built.writes, result.current);
          for (const [offset, field] of refused) skip.outOfRange.set(offset, field);
          this.log.warn(
            { topic, partition, records: refused.size },
            'sums would leave the safe-integer range: the records that do not fit are dead-lettered',
          );
          if (refused.size === 0) throw new Error('the fence refused a sum that no record makes too large');
          break;
        }
        case 'floor':
          // Built on a floor that moved on meanwhile (analytics: a window became final): build
          // the slice again on the floor Redis holds.
          if (!built.outcome?.onFloorRaised) throw new Error('the fence refused a floor nobody raises');
          built.outcome.onFloorRaised(result.floor);
          this.log.debug(
            { topic, partition, floor: result.floor },
            'slice built on a stale floor: built again',
          );
          break;
        case 'moved': {
          this.restored.delete(tp);
          const stored = result.stored === undefined ? -1n : BigInt(result.stored);
          if (expected !== undefined && stored < BigInt(expected)) {
            // Redis lost writes this consumer made (a restart with everysec AOF, a failover to a
            // lagging replica): go back to what it holds and apply again from there.
            const { stored: now, start } = await this.withRetry('read stored offset', ctx.heartbeat, () =>
              this.position(topic, partition),
            );
            this.expected.set(tp, now);
            this.behind(topic, partition, expected, now, start);
            return { seekTo: String(start) };
          }
          // Someone applied part of this range first (a replay, or a former owner of the
          // partition): go on with what lies past the stored offset.
          this.expected.set(tp, result.stored);
          const rest = this.unapplied(records, result.stored);
          this.countReplayed(topic, records.length - rest.length);
          records = rest;
          break;
        }
      }
      await ctx.heartbeat();
    }
    return undefined;
  }

  /** Loads the projection's state for this partition once per assignment (and after the fence moved). */
  private async restoreState(tp: string, keys: PartitionKeys, heartbeat: () => Promise<void>): Promise<void> {
    const { restore } = this.options.projection;
    if (!restore || this.restored.has(tp)) return;
    await this.withRetry('restore partition state', heartbeat, () => restore(keys, this.redis));
    this.restored.add(tp);
  }

  /**
   * Decodes a slice and builds its writes (pure but for loading writer schemas): undecodable
   * records and those a handler refuses become dead letters, duplicates are left out, and the
   * progress counter counts every record of the slice.
   */
  private async buildSlice(
    tp: string,
    keys: PartitionKeys,
    messages: readonly IncomingRecord[],
    skip: SliceSkips,
    heartbeat: () => Promise<void>,
  ): Promise<BuiltSlice> {
    const { topic, partition } = keys;
    await this.withRetry('load writer schemas', heartbeat, () =>
      this.codec.loadWriters(messages.map((m) => m.value)).catch((err: unknown) => {
        // An unknown schema id is the record's fault, not the registry's: decodeSync reports it.
        if (isUnrecoverable(err)) return;
        throw err;
      }),
    );
    const dedup = this.options.config.consumer.dedupHorizonMs > 0;
    const writes = new WriteBatch();
    this.options.projection.begin?.(keys);
    const built: BuiltSlice = {
      writes,
      dead: [],
      ids: [],
      idOffsets: [],
      idsTime: 0,
      applied: 0,
      duplicates: 0,
      unknownTypes: 0,
    };
    const inSlice = dedup ? new Set<string>() : undefined;
    const now = Date.now();
    for (const m of messages) {
      if (skip.duplicates.has(m.offset)) {
        built.duplicates++;
        continue;
      }
      const source = (): Parameters<typeof deadLetterRecord>[0] => ({
        topic,
        partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        headers: m.headers,
      });
      const outOfRange = skip.outOfRange.get(m.offset);
      if (outOfRange !== undefined) {
        const reason = `applying it would take ${outOfRange} past ${Number.MAX_SAFE_INTEGER}`;
        built.dead.push({
          offset: m.offset,
          record: deadLetterRecord(source(), {
            code: ErrorCodes.VALUE_OUT_OF_RANGE,
            message: reason,
            consumer: this.groupId,
          }),
        });
        continue;
      }
      let record: AppliedRecord;
      try {
        const event = this.codec.decodeSync(m.value);
        record = {
          event,
          topic,
          partition,
          offset: m.offset,
          timestamp: m.timestamp,
          // The record as consumed, for projections that forward it (analytics' late events).
          key: m.key,
          value: m.value,
          headers: m.headers,
        };
      } catch (err) {
        if (hasCode(err, ErrorCodes.EVENT_TYPE_UNKNOWN)) {
          // A well-formed record of a registered schema the app has no event for: a topic may
          // carry events that newer producers added. Skipped (the offset moves past it), counted.
          built.unknownTypes++;
          if (!this.unknownLogged.has(err.message) && this.unknownLogged.size < 100) {
            this.unknownLogged.add(err.message);
            this.log.warn(
              { topic, partition, offset: m.offset, reason: err.message },
              'record of an unknown event type skipped',
            );
          }
          continue;
        }
        built.dead.push({ offset: m.offset, record: deadLetterRecord(source(), this.reason(err)) });
        continue;
      }
      const eventId = inSlice ? record.event.data.eventId : undefined;
      if (eventId !== undefined && inSlice!.has(eventId)) {
        built.duplicates++;
        continue;
      }
      const mark = writes.mark();
      writes.current = m.offset;
      try {
        this.options.projection.apply(record, writes, keys);
        built.applied++;
        if (this.handlerFailures.size > 0) this.handlerFailures.delete(`${tp}:${m.offset}`);
      } catch (err) {
        writes.rollback(mark);
        const id = `${tp}:${m.offset}`;
        const attempts = (this.handlerFailures.get(id) ?? 0) + 1;
        if (isUnrecoverable(err) || attempts >= (this.options.maxHandlerAttempts ?? 5)) {
          this.handlerFailures.delete(id);
          built.dead.push({ offset: m.offset, record: deadLetterRecord(source(), this.reason(err)) });
          continue;
        }
        this.handlerFailures.set(id, attempts);
        this.stats.retried++;
        this.options.metrics?.retried.inc({ group: this.groupId, kind: 'handler' });
        this.log.warn(
          { topic, partition, offset: m.offset, attempts, err: (err as Error).message },
          'handler failed; retrying',
        );
        return { ...built, retry: attempts };
      }
      if (eventId !== undefined) {
        inSlice!.add(eventId);
        built.ids.push(eventId);
        built.idOffsets.push(m.offset);
        // Ids are kept by record time (bounded by now: a producer's clock may run ahead).
        const t = Math.min(m.timestamp, now);
        if (t > built.idsTime) built.idsTime = t;
      }
    }
    writes.current = undefined;
    const outcome = this.options.projection.finish?.(writes, keys);
    built.outcome = outcome;
    // A counter of records handled per partition, applied with the batch: the oracle tests read
    // it to prove that nothing was applied twice.
    writes.command('HINCRBY', progressKey(keys), 'records', messages.length);
    return built;
  }

  /** Produces a slice's dead letters and side outputs (before it is fenced: at least once). */
  private async sendOutputs(
    topic: string,
    built: BuiltSlice,
    skip: SliceSkips,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    // A slice built again (after duplicates or a bound) does not send its dead letters twice.
    const dead = built.dead.filter((d) => !skip.sentDeadLetters.has(d.offset));
    if (dead.length > 0) {
      const dlq = dlqTopic(topic);
      await this.outputs.send(
        dlq,
        dead.map((d) => d.record),
        heartbeat,
      );
      for (const d of dead) skip.sentDeadLetters.add(d.offset);
      this.log.warn({ topic, count: dead.length }, 'records dead-lettered');
    }
    for (const side of built.outcome?.sideOutputs ?? []) {
      if (side.records.length > 0) await this.outputs.send(side.topic, side.records, heartbeat);
    }
  }

  /** Counts an applied slice. */
  private applied(topic: string, records: number, built: BuiltSlice): void {
    built.outcome?.onApplied?.();
    this.stats.batches++;
    this.stats.consumed += records;
    this.stats.applied += built.applied;
    this.stats.deadLettered += built.dead.length;
    this.stats.duplicates += built.duplicates;
    this.stats.unknownTypes += built.unknownTypes;
    const metrics = this.options.metrics;
    if (!metrics) return;
    const labels = { group: this.groupId, topic };
    metrics.consumed.inc(labels, records);
    metrics.applied.inc(labels, built.applied);
    if (built.duplicates > 0) metrics.duplicates.inc(labels, built.duplicates);
    if (built.unknownTypes > 0) metrics.unknownTypes.inc(labels, built.unknownTypes);
    for (const d of built.dead) {
      const code = String(d.record.headers?.['dlq-error-code'] ?? 'UNKNOWN');
      metrics.deadLettered.inc({ ...labels, code });
    }
  }

  /**
   * Redis holds less than this consumer applied: logged and counted, and what was read from Redis
   * before the loss is forgotten (the projection's state, such as analytics' frontier, may be ahead
   * of it now: every partition restores it again). The caller seeks the partition back.
   */
  private behind(
    topic: string,
    partition: number,
    expected: string,
    stored: string | undefined,
    start: bigint,
  ): void {
    this.stats.redisBehind++;
    this.options.metrics?.redisBehind.inc({ group: this.groupId, topic });
    this.log.warn(
      { topic, partition, expected, stored: stored ?? null, replayFrom: String(start) },
      'Redis is behind this consumer (it lost writes): replaying from its stored offset',
    );
    this.options.projection.reset?.();
    this.restored.clear();
  }

  private countReplayed(topic: string, n: number): void {
    if (n <= 0) return;
    this.stats.replayed += n;
    this.options.metrics?.replayed.inc({ group: this.groupId, topic }, n);
  }

  private reason(err: unknown): { code: string; message: string; consumer: string } {
    return {
      code: isTributaryError(err) ? err.code : 'HANDLER_ERROR',
      message: err instanceof Error ? err.message : String(err),
      consumer: this.groupId,
    };
  }

  private backoff(attempt: number): number {
    const initial = this.options.initialBackoffMs ?? 100;
    return Math.min(this.options.maxBackoffMs ?? 5_000, initial * 2 ** (attempt - 1));
  }

  /** Topics this runtime has failed to produce to for a while, with the last reason (for `/readyz`). */
  blockedOutputs(): { topic: string; reason: string; since: string }[] {
    return this.outputs.blocked();
  }

  /** Retries an infrastructure call (Redis, broker, registry) with backoff until it works or we stop. */
  private async withRetry<T>(what: string, heartbeat: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (this.stopping && attempt > 3) throw err;
        this.log.warn(
          { what, attempt, err: (err as Error).message },
          'retrying after an infrastructure error',
        );
        this.options.metrics?.retried.inc({ group: this.groupId, kind: 'infrastructure' });
        await sleep(this.backoff(attempt));
        await heartbeat().catch(() => undefined);
      }
    }
  }
}
