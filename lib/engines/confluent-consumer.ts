/**
 * The confluent engine's consumer: librdkafka through the KafkaJS-compatible API of
 * `@confluentinc/kafka-javascript`, whose `eachBatch` keeps one partition's batches in order and
 * runs partitions in parallel. Its `rebalance_cb` is awaited before the assignment is applied
 * (and before the messages of that poll are handed out), which is what makes `onAssigned` and
 * `onRevoked` blocking:
 * - assign: `onAssigned` runs first; the seeks it makes are collected and become the offsets of
 *   the assignment itself, so librdkafka starts each partition there (nothing is fetched from
 *   the committed offset first, and nothing is committed by the seek).
 * - revoke (eager: the whole assignment): the batches in hand of those partitions finish, then
 *   `onRevoked`; librdkafka commits the stored offsets when the partitions are unassigned.
 *
 * Offsets: a finished batch stores its last offset + 1 in librdkafka (`resolveOffset`), which
 * commits stored offsets every `commitIntervalMs`, on unassign and on close. The package is
 * loaded on `connect()`, as for the producer.
 */
import type { TributaryConfig } from '../config.js';
import type { EngineConsumerOptions, TopicPartition } from '../engine.js';
import type { Logger } from '../logger.js';
import { ConsumerBase, tpKey, type KafkaLikeBatchPayload, type PartitionOffset } from './consumer-base.js';
import { fetchBudgetBytes } from './consumer-options.js';
import { loadConfluent } from './confluent-producer.js';

/** librdkafka's rebalance "errors": the events of `rebalance_cb`. */
const ERR__ASSIGN_PARTITIONS = -175;
const ERR__REVOKE_PARTITIONS = -174;

interface RdRebalanceEvent {
  readonly code: number;
  readonly message: string;
}

/** An assignment entry handed to librdkafka; without `offset` it starts at the committed offset. */
interface RdAssignment extends TopicPartition {
  readonly offset?: number;
}

/** The slice of the KafkaJS-compatible consumer this engine uses. */
interface CompatConsumer {
  connect(): Promise<void>;
  subscribe(subscription: { topics: string[] }): Promise<void>;
  run(config: {
    eachBatch: (payload: KafkaLikeBatchPayload) => Promise<void>;
    eachBatchAutoResolve: boolean;
    partitionsConsumedConcurrently: number;
  }): Promise<void>;
  seek(partitionOffset: { topic: string; partition: number; offset: string }): void;
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** The logger interface the KafkaJS-compatible API calls (librdkafka's logs come through it too). */
interface CompatLogger {
  info(message: string, extra?: object): void;
  warn(message: string, extra?: object): void;
  error(message: string, extra?: object): void;
  debug(message: string, extra?: object): void;
  setLogLevel(level: number): void;
  namespace(): CompatLogger;
}

/** What the package exports for the KafkaJS-compatible API, as far as this engine cares. */
interface CompatModule {
  readonly KafkaJS: {
    readonly Kafka: new (config: Record<string, unknown>) => {
      consumer(config: Record<string, unknown>): CompatConsumer;
    };
    readonly logLevel: { readonly INFO: number; readonly DEBUG: number };
  };
}

function compatLogger(logger: Logger): CompatLogger {
  const log =
    (level: 'info' | 'warn' | 'error' | 'debug') =>
    (message: string, extra: object = {}): void =>
      logger[level](extra, message);
  const adapter: CompatLogger = {
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    debug: log('debug'),
    // pino's level decides; the API only sets this from its own config.
    setLogLevel: () => undefined,
    namespace: () => adapter,
  };
  return adapter;
}

/**
 * An {@link EngineConsumer} over librdkafka. Caveats of the KafkaJS-compatible API: a batch is
 * cut from librdkafka's prefetch queue (at most `maxBatchRecords`), not one fetch response;
 * `heartbeat()` is a no-op (librdkafka heartbeats on its own thread); a seek outside
 * `onAssigned` (and `{ seekTo }`) pauses all partitions' workers briefly and commits the
 * sought offset; offsets go to librdkafka as doubles (exact below 2^53).
 */
export class ConfluentConsumer extends ConsumerBase {
  readonly engine = 'confluent' as const;
  readonly #config: TributaryConfig;
  #consumer: CompatConsumer | undefined;
  /** While `onAssigned` runs: the offsets it sought, which become the assignment's offsets. */
  #assigning: Map<string, string> | undefined;

  constructor(config: TributaryConfig, logger: Logger, options: EngineConsumerOptions) {
    super('confluent', logger, options);
    this.#config = config;
  }

  async connect(): Promise<void> {
    // Loaded as the producer loads it; the KafkaJS-compatible API is part of the same module.
    const { KafkaJS } = (await loadConfluent()) as unknown as CompatModule;
    const o = this.options;
    const kafka = new KafkaJS.Kafka({
      kafkaJS: {
        brokers: this.#config.kafka.brokers.value,
        clientId: [this.#config.kafka.clientId, o.clientId].filter(Boolean).join('-'),
        logger: compatLogger(this.log),
        logLevel: this.log.isLevelEnabled('debug') ? KafkaJS.logLevel.DEBUG : KafkaJS.logLevel.INFO,
      },
    });
    const consumer = kafka.consumer({
      kafkaJS: {
        groupId: o.groupId,
        fromBeginning: true,
        autoCommit: true,
        autoCommitInterval: o.commitIntervalMs,
        sessionTimeout: o.sessionTimeoutMs,
        maxBytesPerPartition: o.maxBytesPerPartition,
        allowAutoTopicCreation: false,
      },
      'js.consumer.max.batch.size': o.maxBatchRecords,
      // Memory: librdkafka prefetches up to 64 MiB and the API keeps 1.5 s of records per worker
      // as JavaScript objects by default (1.2-1.6 GB RSS in the consume bench); with these, ~370
      // MB and less CPU per event (fewer objects promoted to the old generation). A 4 MiB queue
      // and fetch starve the consumer (28,600 instead of 45,000 events/s); 8 MiB does not.
      'queued.max.messages.kbytes': fetchBudgetBytes / 1024,
      'fetch.max.bytes': Math.max(o.maxBytesPerPartition, fetchBudgetBytes),
      'js.consumer.max.cache.size.per.worker.ms': 25,
      // Awaited by the API before it applies the assignment; what it returns is applied instead.
      rebalance_cb: (event: RdRebalanceEvent, assignment: TopicPartition[]) =>
        this.#rebalance(event, assignment),
    });
    await consumer.connect();
    this.#consumer = consumer;
    this.state = 'connected';
  }

  async subscribe(topics: readonly string[]): Promise<void> {
    await this.#compat().subscribe({ topics: [...topics] });
  }

  async #rebalance(
    event: RdRebalanceEvent,
    assignment: TopicPartition[],
  ): Promise<RdAssignment[] | undefined> {
    const partitions = assignment.map(({ topic, partition }) => ({ topic, partition }));
    if (event.code === ERR__ASSIGN_PARTITIONS) {
      const sought = new Map<string, string>();
      this.#assigning = sought;
      try {
        await this.assign(partitions);
      } finally {
        this.#assigning = undefined;
      }
      // Always a new list, so the API's own pending seeks (kept from batches it re-queued
      // during a revoke) never override where onAssigned put the partitions.
      return partitions.map((p) => {
        const offset = sought.get(tpKey(p));
        return offset === undefined ? p : { ...p, offset: Number(offset) };
      });
    }
    if (event.code === ERR__REVOKE_PARTITIONS) {
      await this.revoke(partitions);
      return undefined;
    }
    this.log.error({ code: event.code, err: event.message }, 'rebalance failed');
    return undefined;
  }

  protected engineStart(concurrency: number): Promise<void> {
    // Returns at once; the first assignment arrives through rebalance_cb.
    return this.#compat().run({
      eachBatch: (payload) => this.processBatch(payload),
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: concurrency,
    });
  }

  protected engineSeek(topic: string, partition: number, offset: string): void {
    const key = tpKey({ topic, partition });
    if (this.#assigning !== undefined && this.owns({ topic, partition })) {
      this.#assigning.set(key, offset);
      return;
    }
    this.#compat().seek({ topic, partition, offset });
  }

  protected engineCommit(offsets: readonly PartitionOffset[]): Promise<void> {
    return this.#compat().commitOffsets(
      offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
    );
  }

  protected enginePause(): void {
    // Nothing to do: batches handed out while leaving are dropped, and the API re-queues them.
  }

  protected async engineStop(): Promise<void> {
    await this.#consumer?.disconnect();
  }

  #compat(): CompatConsumer {
    if (this.#consumer === undefined)
      throw new Error(`confluent consumer is ${this.state}; call connect() first`);
    return this.#consumer;
  }
}
