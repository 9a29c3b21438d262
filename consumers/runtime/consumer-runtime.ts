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
import { isTributaryError, isUnrecoverable } from '../../lib/errors.js';
import { createKafka, projectionGroupId } from '../../lib/kafka.js';
import type { Logger } from '../../lib/logger.js';
import { topicName } from '../../schemas/catalog.js';
import { EventCodec } from '../../schemas/codec.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { ProjectionKeys, progressKey } from '../../lib/redis-keys.js';
import { OffsetFence, WriteBatch } from '../offset-fence.js';
import type { ConsumerMetrics } from './consumer-metrics.js';
import type { AppliedRecord, PeriodicContext, Projection } from './types.js';

export interface RuntimeOptions {
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
  };
  /** Next offset to apply per `topic:partition`, known once the partition was checked in this assignment. */
  private readonly next = new Map<string, bigint>();
  private readonly handlerFailures = new Map<string, number>();
  private stopping = false;
  /** Partitions whose projection state was restored in this assignment (`Projection.restore`). */
  private readonly restored = new Set<string>();
  /** Partition batches in hand, for `PeriodicContext.drain`. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly stopped = new AbortController();
  private periodicLoop: Promise<void> | undefined;

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
  ) {}

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
    const setup = { config, logger: log, groupId, version, metrics: options.metrics };
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
            this.next.delete(`${topic}:${partition}`);
            this.restored.delete(`${topic}:${partition}`);
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
      const next = await this.withRetry(
        'read stored offset',
        async () => undefined,
        () => this.expectedNext(topic, partition),
      );
      this.next.set(tp, next);
      this.consumer.seek(topic, partition, String(next));
    }
  }

  /** Keeps `batch` in {@link inFlight} until it settles. */
  private track<T>(batch: Promise<T>): Promise<T> {
    this.inFlight.add(batch);
    void batch.catch(() => undefined).finally(() => this.inFlight.delete(batch));
    return batch;
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
    await this.periodicLoop;
    await Promise.allSettled([this.admin.disconnect(), this.deadLetters.disconnect()]);
    this.redis.disconnect();
    this.log.info(this.stats, 'consumer stopped');
  }

  /** Where this partition must start: the offset after the one stored in Redis, or the earliest. */
  private async expectedNext(topic: string, partition: number): Promise<bigint> {
    const stored = await this.fence.stored(this.keys.partition(this.version, topic, partition));
    const low =
      (await this.admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition)?.low ?? '0';
    const fromRedis = stored === undefined ? 0n : BigInt(stored) + 1n;
    // Records below the low watermark are gone (retention): start at the earliest that exists.
    return fromRedis > BigInt(low) ? fromRedis : BigInt(low);
  }

  private async onBatch(batch: IncomingBatch, ctx: BatchContext): Promise<void | SeekTo> {
    const { topic, partition } = batch;
    const tp = `${topic}:${partition}`;
    if (batch.records.length === 0) return;
    let next = this.next.get(tp);
    if (next === undefined) {
      next = await this.withRetry('read stored offset', ctx.heartbeat, () =>
        this.expectedNext(topic, partition),
      );
      this.next.set(tp, next);
    }
    const first = BigInt(batch.records[0]!.offset);
    if (first > next) {
      // Kafka's commit is ahead of Redis (Redis lost writes): go back to the first offset Redis
      // has not applied.
      this.log.info(
        { topic, partition, from: String(first), to: String(next) },
        'seeking to the offset stored in Redis',
      );
      return { seekTo: String(next) };
    }
    // Trimming needs a BigInt per record: only when the batch starts before `next` (a replay).
    const records = first === next ? batch.records : batch.records.filter((m) => BigInt(m.offset) >= next);
    this.countReplayed(topic, batch.records.length - records.length);
    const started = process.hrtime.bigint();
    // One fenced script per slice: a fetch can hold tens of thousands of records, whose writes as
    // one script's arguments overflow the call stack (the batch then never applies) and block Redis.
    for (let i = 0; i < records.length && ctx.isRunning(); i += MAX_RECORDS_PER_APPLY) {
      await this.applyMessages(topic, partition, records.slice(i, i + MAX_RECORDS_PER_APPLY), ctx.heartbeat);
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

  private async applyMessages(
    topic: string,
    partition: number,
    messages: readonly IncomingRecord[],
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const tp = `${topic}:${partition}`;
    const keys = this.keys.partition(this.version, topic, partition);
    const { restore } = this.options.projection;
    if (restore && !this.restored.has(tp)) {
      await this.withRetry('restore partition state', heartbeat, () => restore(keys, this.redis));
      this.restored.add(tp);
    }
    await this.withRetry('load writer schemas', heartbeat, () =>
      this.codec.loadWriters(messages.map((m) => m.value)).catch((err: unknown) => {
        // An unknown schema id is the record's fault, not the registry's: decodeSync reports it.
        if (isUnrecoverable(err)) return;
        throw err;
      }),
    );
    const writes = new WriteBatch();
    this.options.projection.begin?.(keys);
    const dead: OutgoingRecord[] = [];
    let applied = 0;
    for (const m of messages) {
      const source = (): Parameters<typeof deadLetterRecord>[0] => ({
        topic,
        partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        headers: m.headers,
      });
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
        dead.push(deadLetterRecord(source(), this.reason(err)));
        continue;
      }
      const mark = writes.mark();
      try {
        this.options.projection.apply(record, writes, keys);
        applied++;
        if (this.handlerFailures.size > 0) this.handlerFailures.delete(`${tp}:${m.offset}`);
      } catch (err) {
        writes.rollback(mark);
        const id = `${tp}:${m.offset}`;
        const attempts = (this.handlerFailures.get(id) ?? 0) + 1;
        if (isUnrecoverable(err) || attempts >= (this.options.maxHandlerAttempts ?? 5)) {
          this.handlerFailures.delete(id);
          dead.push(deadLetterRecord(source(), this.reason(err)));
          continue;
        }
        // Retry the whole batch after a backoff: nothing of it has been applied yet.
        this.handlerFailures.set(id, attempts);
        this.stats.retried++;
        this.options.metrics?.retried.inc({ group: this.groupId, kind: 'handler' });
        this.log.warn(
          { topic, partition, offset: m.offset, attempts, err: (err as Error).message },
          'handler failed; retrying',
        );
        await sleep(this.backoff(attempts));
        await heartbeat();
        return this.applyMessages(topic, partition, messages, heartbeat);
      }
    }
    if (dead.length > 0) {
      const dlq = `${topic}.dlq`;
      await this.withRetry('send dead letters', heartbeat, () => this.deadLetters.send(dlq, dead));
      this.log.warn({ topic, partition, count: dead.length }, 'records dead-lettered');
    }
    const outcome = this.options.projection.finish?.(writes, keys);
    for (const side of outcome?.sideOutputs ?? []) {
      if (side.records.length === 0) continue;
      await this.withRetry('send side outputs', heartbeat, () =>
        this.deadLetters.send(side.topic, side.records),
      );
    }
    // A counter of records handled per partition, applied with the batch: the oracle tests read
    // it to prove that nothing was applied twice.
    writes.command('HINCRBY', progressKey(keys), 'records', messages.length);
    const firstOffset = messages[0]!.offset;
    const lastOffset = messages.at(-1)!.offset;
    const result = await this.withRetry('apply batch', heartbeat, () =>
      this.fence.apply(keys, firstOffset, lastOffset, writes),
    );
    this.stats.batches++;
    this.stats.consumed += messages.length;
    if (result.applied) {
      outcome?.onApplied?.();
      this.stats.applied += applied;
      this.stats.deadLettered += dead.length;
      const metrics = this.options.metrics;
      if (metrics) {
        const labels = { group: this.groupId, topic };
        metrics.consumed.inc(labels, messages.length);
        metrics.applied.inc(labels, applied);
        for (const d of dead) {
          const code = String(d.headers?.['dlq-error-code'] ?? 'UNKNOWN');
          metrics.deadLettered.inc({ ...labels, code });
        }
      }
      this.next.set(tp, BigInt(lastOffset) + 1n);
      return;
    }
    // Someone applied part of this range first (a replay, or a former owner of the partition):
    // apply only what lies past the stored offset.
    const stored = BigInt(result.stored);
    this.next.set(tp, stored + 1n);
    this.restored.delete(tp);
    const rest = messages.filter((m) => BigInt(m.offset) > stored);
    this.countReplayed(topic, messages.length - rest.length);
    this.stats.consumed -= messages.length;
    if (rest.length > 0) await this.applyMessages(topic, partition, rest, heartbeat);
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
