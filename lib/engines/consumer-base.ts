/**
 * What the two consumer engines share: the partitions this member owns, the batches in hand,
 * the offsets marked for commit, and one queue that runs `onAssigned` / `onRevoked` in the
 * order the rebalances happened. An engine feeds it batches in the KafkaJS payload shape
 * (kafkajs natively, the confluent engine through its KafkaJS-compatible API) and supplies
 * start, seek, commit and stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  BatchContext,
  ConsumerHandlers,
  ConsumerRunOptions,
  EngineConsumer,
  EngineConsumerOptions,
  EngineName,
  IncomingBatch,
  IncomingRecord,
  SeekTo,
  TopicPartition,
} from '../engine.js';
import { ErrorCodes, TributaryError } from '../errors.js';
import type { Logger } from '../logger.js';
import { resolveConsumerOptions, type ResolvedConsumerOptions } from './consumer-options.js';

type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** A record as kafkajs and confluent's KafkaJS-compatible API hand it out. */
export interface KafkaLikeMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Epoch ms as a decimal string (`''` when the broker sent none). */
  readonly timestamp: string;
  readonly headers?: Readonly<Record<string, HeaderValue>>;
}

/** The `eachBatch` payload of kafkajs and of confluent's KafkaJS-compatible API, as used here. */
export interface KafkaLikeBatchPayload {
  readonly batch: {
    readonly topic: string;
    readonly partition: number;
    readonly highWatermark: string;
    readonly messages: readonly KafkaLikeMessage[];
  };
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  isStale(): boolean;
}

/** An offset to commit: the next one to consume. */
export interface PartitionOffset extends TopicPartition {
  readonly offset: string;
}

/** How long a failed `eachBatch` waits before its batch is delivered again (ms). */
const RETRY_PAUSE_MS = 1_000;

const NO_HEADERS: Readonly<Record<string, Buffer | undefined>> = Object.freeze({});

/** The map key of a partition. */
export function tpKey(p: TopicPartition): string {
  return `${p.topic}|${p.partition}`;
}

/** `topic: [partitions]`, for logs. */
function describe(partitions: readonly TopicPartition[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const { topic, partition } of partitions) (out[topic] ??= []).push(partition);
  return out;
}

/** Headers as Buffers; of a header repeated in one record, the last value wins. */
function incomingHeaders(headers: Readonly<Record<string, HeaderValue>> | undefined) {
  // Per record: most records carry no headers, and kafkajs hands those an empty object.
  let out: Record<string, Buffer | undefined> | undefined;
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name];
    const one = Array.isArray(value) ? value.at(-1) : value;
    (out ??= {})[name] = typeof one === 'string' ? Buffer.from(one) : one;
  }
  return out ?? NO_HEADERS;
}

function toRecord(topic: string, partition: number, m: KafkaLikeMessage): IncomingRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ?? null,
    value: m.value ?? null,
    headers: incomingHeaders(m.headers),
    // Number('') is 0: a record without a timestamp reads as the epoch.
    timestamp: Number(m.timestamp),
  };
}

/** Base of the engine consumers; see the module comment. */
export abstract class ConsumerBase implements EngineConsumer {
  abstract readonly engine: EngineName;
  readonly groupId: string;
  protected readonly options: ResolvedConsumerOptions;
  protected readonly log: Logger;
  protected state: 'new' | 'connected' | 'running' | 'stopping' | 'closed' = 'new';
  /** Set when the engine gave up (a crash it does not restart from): every batch is stale. */
  protected crashed = false;
  #handlers: ConsumerHandlers | undefined;
  readonly #owned = new Map<string, TopicPartition>();
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #marks = new Map<string, PartitionOffset>();
  /** The tail of the hook queue: `onAssigned` and `onRevoked` run one at a time, in order. */
  #hooks: Promise<void> = Promise.resolve();
  /** Bumped by every assign and revoke: a queued `onAssigned` that a later change overtook is skipped. */
  #generation = 0;
  #joined!: () => void;
  readonly #firstAssignment = new Promise<void>((resolve) => (this.#joined = resolve));
  #closing: Promise<void> | undefined;

  constructor(engine: EngineName, logger: Logger, options: EngineConsumerOptions) {
    this.options = resolveConsumerOptions(options);
    this.groupId = this.options.groupId;
    this.log = logger.child({ engine, groupId: this.groupId });
  }

  abstract connect(): Promise<void>;
  abstract subscribe(topics: readonly string[]): Promise<void>;
  /** Starts the engine's consumer with `processBatch` as its batch handler. */
  protected abstract engineStart(concurrency: number): Promise<void>;
  /** Moves a partition; the engine's own seek. */
  protected abstract engineSeek(topic: string, partition: number, offset: string): void;
  /** Commits these offsets to Kafka now. */
  protected abstract engineCommit(offsets: readonly PartitionOffset[]): Promise<void>;
  /** Stops fetching these partitions (disconnect); engines that need not may do nothing. */
  protected abstract enginePause(partitions: readonly TopicPartition[]): void;
  /** Leaves the group and closes the connections. */
  protected abstract engineStop(): Promise<void>;

  async run(handlers: ConsumerHandlers, options: ConsumerRunOptions = {}): Promise<void> {
    if (this.state !== 'connected')
      throw new Error(`${this.engine} consumer is ${this.state}; run() needs connect()`);
    const concurrency = options.partitionsConsumedConcurrently ?? 1;
    if (!Number.isInteger(concurrency) || concurrency <= 0) {
      throw new TributaryError(
        ErrorCodes.CONFIG_INVALID,
        `invalid run options: partitionsConsumedConcurrently=${concurrency} must be a positive integer`,
      );
    }
    this.#handlers = handlers;
    this.state = 'running';
    await this.engineStart(concurrency);
    const timer = new AbortController();
    const timedOut = sleep(this.options.joinTimeoutMs, undefined, { signal: timer.signal }).then(() => {
      throw new Error(
        `${this.engine} consumer of ${this.groupId} got no assignment in ${this.options.joinTimeoutMs} ms`,
      );
    });
    try {
      await Promise.race([this.#firstAssignment, timedOut]);
    } finally {
      timer.abort();
      timedOut.catch(() => undefined);
    }
    this.log.info({ concurrency }, 'consumer running');
  }

  seek(topic: string, partition: number, offset: string): void {
    if (!/^\d+$/.test(offset)) throw new RangeError(`seek offset ${JSON.stringify(offset)} is not an offset`);
    this.engineSeek(topic, partition, offset);
  }

  assignment(): TopicPartition[] {
    return [...this.#owned.values()];
  }

  protected owns(p: TopicPartition): boolean {
    return this.#owned.has(tpKey(p));
  }

  /**
   * Queues `onAssigned` for a new assignment; the returned promise settles when it has run.
   * Batches of these partitions are handed out only once it has (the engine makes sure).
   */
  protected assign(partitions: readonly TopicPartition[]): Promise<void> {
    const copy = partitions.map(({ topic, partition }) => ({ topic, partition }));
    const generation = ++this.#generation;
    return this.#enqueue('onAssigned', async () => {
      // Leaving, or revoked again before it ran (kafkajs does not wait for us): nothing to start.
      if (this.state !== 'running' || generation !== this.#generation) return;
      for (const p of copy) this.#owned.set(tpKey(p), p);
      this.log.info({ partitions: describe(copy) }, 'partitions assigned');
      await this.#handlers?.onAssigned?.(copy);
    }).finally(() => this.#joined());
  }

  /**
   * Takes partitions away: at once no new batch of them is handed out; then, in the hook queue,
   * the batches in hand of them finish, their marks are dropped (committing them later could
   * move another member's commit back) and `onRevoked` runs.
   */
  protected revoke(partitions: readonly TopicPartition[]): Promise<void> {
    this.#generation++;
    const mine = partitions.filter((p) => this.#owned.delete(tpKey(p)));
    if (mine.length === 0) return this.#hooks;
    return this.#enqueue('onRevoked', async () => {
      await Promise.allSettled(mine.map((p) => this.#inFlight.get(tpKey(p))));
      for (const p of mine) this.#marks.delete(tpKey(p));
      this.log.info({ partitions: describe(mine) }, 'partitions revoked');
      await this.#handlers?.onRevoked?.(mine);
    });
  }

  #enqueue(hook: string, task: () => Promise<void>): Promise<void> {
    const run = this.#hooks
      .then(task)
      .catch((err: unknown) => this.log.error({ err, hook }, `${hook} failed`));
    this.#hooks = run;
    return run;
  }

  /**
   * The engine's batch handler. A batch of a partition this member does not own (yet or any
   * more), one made stale by a seek, or any while leaving, is dropped unmarked: the engine
   * fetches that partition again from its position.
   */
  protected async processBatch(payload: KafkaLikeBatchPayload): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    const key = tpKey({ topic, partition });
    if (messages.length === 0) return;
    if (this.state !== 'running' || !this.#owned.has(key) || payload.isStale()) {
      this.log.debug({ topic, partition, offset: messages[0]!.offset, state: this.state }, 'batch dropped');
      return;
    }
    const work = this.#handle(payload, key);
    this.#inFlight.set(key, work);
    try {
      await work;
    } finally {
      if (this.#inFlight.get(key) === work) this.#inFlight.delete(key);
    }
  }

  async #handle(payload: KafkaLikeBatchPayload, key: string): Promise<void> {
    const { topic, partition, messages, highWatermark } = payload.batch;
    const records = messages.map((m) => toRecord(topic, partition, m));
    const first = records[0]!.offset;
    const last = records.at(-1)!.offset;
    const next = (BigInt(last) + 1n).toString();
    // librdkafka reports -1001 when it does not know the watermark yet: read that as no lag.
    const batch: IncomingBatch = {
      topic,
      partition,
      records,
      highWatermark: BigInt(highWatermark) >= 0n ? highWatermark : next,
    };
    const ctx: BatchContext = {
      heartbeat: () =>
        payload
          .heartbeat()
          .catch((err: unknown) => this.log.debug({ err }, 'heartbeat failed (rebalancing?)')),
      isRunning: () => !this.crashed && payload.isRunning() && !payload.isStale(),
    };
    let outcome: void | SeekTo;
    try {
      outcome = await this.#handlers!.eachBatch(batch, ctx);
    } catch (err) {
      this.log.error(
        { err, topic, partition, offset: first },
        'eachBatch failed; the batch will be delivered again',
      );
      await sleep(RETRY_PAUSE_MS);
      outcome = { seekTo: first };
    }
    if (!ctx.isRunning()) return; // stale: its partition moved on without it
    if (outcome !== undefined) {
      this.seek(topic, partition, outcome.seekTo);
      this.#marks.set(key, { topic, partition, offset: outcome.seekTo });
      return;
    }
    payload.resolveOffset(last);
    this.#marks.set(key, { topic, partition, offset: next });
  }

  disconnect(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'closed';
      return;
    }
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    if (wasRunning) {
      const owned = this.assignment();
      this.enginePause(owned);
      await Promise.allSettled([...this.#inFlight.values()]);
      const marks = owned.flatMap((p) => this.#marks.get(tpKey(p)) ?? []);
      if (marks.length > 0) {
        await this.engineCommit(marks).catch((err: unknown) =>
          this.log.warn({ err }, 'final commit failed; the group resumes from its last commit'),
        );
      }
      await this.revoke(owned);
      await this.#hooks;
    }
    try {
      await this.engineStop();
    } finally {
      this.state = 'closed';
      this.log.info('consumer disconnected');
    }
  }
}
