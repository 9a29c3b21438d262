/**
 * One interface over the two Kafka client engines Tributary supports: `kafkajs` (pure
 * JavaScript) and `confluent` (`@confluentinc/kafka-javascript`, librdkafka). Producers and
 * consumers code against these types; `TRIBUTARY_CLIENT_ENGINE` picks the implementation.
 */

export type EngineName = 'kafkajs' | 'confluent';

export type CompressionName = 'none' | 'gzip' | 'lz4' | 'zstd';

/** One record to produce. */
export interface OutgoingRecord {
  readonly key: string | Buffer;
  readonly value: Buffer;
  readonly headers?: Readonly<Record<string, string | Buffer>>;
  /** Create time in epoch ms (the broker uses it as the record timestamp). */
  readonly timestamp?: number;
}

/**
 * Producer tuning; defaults favour throughput with durability (idempotent, acks=all).
 * Every engine is idempotent with acks=all; these options cannot turn that off.
 */
export interface EngineProducerOptions {
  /** How long to wait for more records before sending a batch (ms). Default 5. */
  readonly lingerMs?: number;
  /**
   * Upper bound of one batch, in bytes (uncompressed). librdkafka applies it per partition
   * (`batch.size`); the kafkajs engine applies it to one whole produce request, which is
   * stricter. Default 1 MiB.
   */
  readonly batchBytes?: number;
  /**
   * Upper bound of the bytes a producer holds that the broker has not yet acknowledged
   * (buffered plus in flight). A `send` that would exceed it waits, in arrival order, until
   * earlier records are acknowledged: backpressure. Default 64 MiB.
   */
  readonly bufferBytes?: number;
  /** Default lz4. `zstd` needs the confluent engine. */
  readonly compression?: CompressionName;
  /** Max in-flight requests per connection (≤ 5 keeps ordering with idempotence). Default 5. */
  readonly maxInFlight?: number;
  /**
   * How long a record may take from `send` to acknowledgement, retries included, before its
   * `send` rejects. Default 120 000 (librdkafka's `delivery.timeout.ms`; kafkajs bounds its
   * retries to about the same time).
   */
  readonly deliveryTimeoutMs?: number;
  /** Client id suffix, for broker-side logs. */
  readonly clientId?: string;
}

export interface EngineProducer {
  readonly engine: EngineName;
  connect(): Promise<void>;
  /**
   * Sends records to one topic, partitioned by key; resolves once every record is acknowledged
   * by all in-sync replicas (acks=all), rejects if any is not.
   */
  send(topic: string, records: readonly OutgoingRecord[]): Promise<void>;
  /** Waits until everything handed to `send` has been acknowledged. */
  flush(): Promise<void>;
  disconnect(): Promise<void>;
}

/** A record as a consumer receives it. */
export interface IncomingRecord {
  readonly topic: string;
  readonly partition: number;
  /** The record's offset, as a decimal string (Kafka offsets exceed 2^53). */
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer | undefined>>;
  /** Record timestamp, epoch ms. */
  readonly timestamp: number;
}

/** One partition's batch, handed to the consumer's handler in offset order. */
export interface IncomingBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly IncomingRecord[];
  /** The high watermark of the partition when the batch was fetched (for lag). */
  readonly highWatermark: string;
}

/** One partition of a topic. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/**
 * What `eachBatch` returns to re-position its partition instead of completing the batch:
 * nothing of the batch is marked for commit and the partition continues from `seekTo`.
 */
export interface SeekTo {
  /** The next offset to deliver, as a decimal string. */
  readonly seekTo: string;
}

/** Handed to `eachBatch` with each batch. */
export interface BatchContext {
  /**
   * Tells the group coordinator the member is alive during long work. Never rejects (a
   * rebalance it learns of is handled by the engine); a no-op where the engine heartbeats on
   * its own thread (confluent).
   */
  heartbeat(): Promise<void>;
  /**
   * False once the batch is stale: its partition was revoked or lost, re-positioned by a seek,
   * or the consumer crashed. The engine then marks nothing of the batch, whatever `eachBatch`
   * returns, so a handler may stop early. A graceful `disconnect()` does not make the batch in
   * hand stale: it is finished and committed.
   */
  isRunning(): boolean;
}

/** The callbacks of {@link EngineConsumer.run}. */
export interface ConsumerHandlers {
  /**
   * Processes one partition's records, in offset order; batches of different partitions run in
   * parallel (up to `partitionsConsumedConcurrently`), one partition's batches never do. When
   * it resolves with nothing, the batch's last offset + 1 is marked for commit; with
   * {@link SeekTo}, nothing is marked and the partition continues from that offset. If it
   * rejects, the error is logged and the batch is delivered again after a pause.
   */
  eachBatch(batch: IncomingBatch, ctx: BatchContext): Promise<void | SeekTo>;
  /**
   * Called with the partitions this member was given, and awaited before any batch of them is
   * handed out: the place to `seek` each to the offset stored with the read model. With the
   * eager protocol both engines use, every rebalance revokes the whole assignment and then
   * assigns the new one. Errors are logged, and consumption goes on.
   */
  onAssigned?(partitions: readonly TopicPartition[]): Promise<void>;
  /**
   * Called with the partitions being taken away, after the batches in hand of them finished,
   * and awaited before the next assignment (and, on `disconnect()`, before leaving the group).
   * Errors are logged.
   */
  onRevoked?(partitions: readonly TopicPartition[]): Promise<void>;
}

/** Options of {@link EngineConsumer.run}. */
export interface ConsumerRunOptions {
  /** Partitions processed in parallel. Default 1. */
  readonly partitionsConsumedConcurrently?: number;
}

/** Consumer settings; only `groupId` is required. */
export interface EngineConsumerOptions {
  /** The consumer group. */
  readonly groupId: string;
  /** Client id suffix, for broker-side logs. */
  readonly clientId?: string;
  /** How long the coordinator waits for a heartbeat before evicting the member (ms). Default 30 000. */
  readonly sessionTimeoutMs?: number;
  /** Upper bound of the bytes fetched from one partition per request. Default 256 KiB. */
  readonly maxBytesPerPartition?: number;
  /**
   * Upper bound of the records of one batch. The confluent engine cuts batches from
   * librdkafka's prefetch queue by this count; a kafkajs batch is what one fetch returned for the
   * partition, bounded by `maxBytesPerPartition` only. Default 1 000.
   */
  readonly maxBatchRecords?: number;
  /**
   * How often marked offsets are committed (ms). The confluent engine commits on this interval
   * and on revoke and disconnect; kafkajs's runner commits after every batch regardless. Default 5 000.
   */
  readonly commitIntervalMs?: number;
  /** How long `run()` waits for the first assignment before it rejects (ms). Default 60 000. */
  readonly joinTimeoutMs?: number;
}

/**
 * A consumer group member. Offsets are marked when `eachBatch` resolves and committed to Kafka
 * by the engine; where a partition starts after an assignment is decided by `onAssigned`
 * (through `seek`), falling back to the group's commit, then to the earliest offset.
 */
export interface EngineConsumer {
  readonly engine: EngineName;
  readonly groupId: string;
  connect(): Promise<void>;
  /** Subscribes to `topics`; a partition the group has no commit for starts at its earliest offset. */
  subscribe(topics: readonly string[]): Promise<void>;
  /**
   * Starts consuming. Resolves once the member has joined the group and the first `onAssigned`
   * has completed (the assignment may be empty when the group has more members than partitions).
   */
  run(handlers: ConsumerHandlers, options?: ConsumerRunOptions): Promise<void>;
  /**
   * Moves a partition to `offset` (a decimal string): the next batch of it starts there. Meant for
   * `onAssigned`; called elsewhere, it makes a batch of that partition in hand stale.
   */
  seek(topic: string, partition: number, offset: string): void;
  /** The partitions this member owns now (after their `onAssigned`). */
  assignment(): TopicPartition[];
  /**
   * Stops fetching, finishes the batches in hand, commits, calls `onRevoked` with the whole
   * assignment and leaves the group. Idempotent.
   */
  disconnect(): Promise<void>;
}
