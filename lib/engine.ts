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
