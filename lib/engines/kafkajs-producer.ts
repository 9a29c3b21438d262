/**
 * The kafkajs engine's producer: idempotent, acks=all, compressed, batched by linger time and
 * size through a {@link RecordAccumulator} (kafkajs itself sends whatever it is given at once).
 */
import {
  CompressionTypes,
  Partitioners,
  type IHeaders,
  type Kafka,
  type ProducerConfig,
  type Message,
  type Producer,
  type TopicMessages,
} from 'kafkajs';
import type { TributaryConfig } from '../config.js';
import type { CompressionName, EngineProducer, EngineProducerOptions, OutgoingRecord } from '../engine.js';
import { ErrorCodes, TributaryError } from '../errors.js';
import { createKafka } from '../kafka.js';
import type { Logger } from '../logger.js';
import { recordBytes } from './byte-budget.js';
import { registerKafkajsCodecs } from './kafkajs-codecs.js';
import { resolveProducerOptions, type ResolvedProducerOptions } from './options.js';
import { RecordAccumulator } from './record-accumulator.js';

const codecs: Record<CompressionName, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** The broker's own wait for acks=all within one request (ms); retries come on top. */
const ACK_TIMEOUT_MS = 30_000;
/** Longest pause between retries (ms); with the delivery timeout it bounds the retry count. */
const MAX_RETRY_TIME_MS = 5_000;
/**
 * Most records in one kafkajs request. kafkajs groups a request's messages by partition with an
 * array copy per message (`groupMessagesPerPartition`), quadratic in the records per partition: at
 * 1 MiB of 200-byte records (~3,700) that was ~3 µs per record, at 1,000 a fifth of it. One
 * request in flight still carries more than the CPU can encode meanwhile.
 */
const MAX_REQUEST_RECORDS = 1000;

/**
 * kafkajs's warning that bounded retries "may invalidate EoS guarantees" is expected here
 * (retries are bounded on purpose, so that a `send` fails rather than hangs).
 */
const boundedRetries = (message: string): boolean => message.startsWith('Limiting retries');

function toMessage(record: OutgoingRecord): Message {
  // kafkajs only reads the headers (undefined means none); its type is just not readonly.
  const message: Message = { key: record.key, value: record.value, headers: record.headers as IHeaders };
  if (record.timestamp !== undefined) message.timestamp = String(record.timestamp);
  return message;
}

/**
 * An {@link EngineProducer} over kafkajs. A failed `send` rejects with kafkajs's error (after
 * bounded retries, e.g. `KafkaJSNumberOfRetriesExceeded`); `PRODUCER_CLOSED` when not connected.
 */
export class KafkajsProducer implements EngineProducer {
  readonly engine = 'kafkajs' as const;
  readonly options: ResolvedProducerOptions;
  readonly #kafka: Kafka;
  readonly #producerConfig: ProducerConfig;
  readonly #accumulator: RecordAccumulator<OutgoingRecord>;
  readonly #logger: Logger;
  #producer: Producer;
  /** Set when a batch failed: the next batch goes out under a new producer id. */
  #stale = false;
  #state: 'new' | 'connected' | 'closing' | 'closed' = 'new';

  constructor(config: TributaryConfig, logger: Logger, options: EngineProducerOptions = {}) {
    this.options = resolveProducerOptions('kafkajs', options);
    this.#logger = logger.child({ engine: 'kafkajs' });
    registerKafkajsCodecs();
    const clientId = [config.kafka.clientId, this.options.clientId].filter(Boolean).join('-');
    this.#kafka = createKafka(config, this.#logger, {
      clientId,
      expectedLogs: boundedRetries,
    });
    this.#producerConfig = {
      idempotent: true,
      // Java-compatible murmur2 (kafkajs's default since 2.0, named to keep its warning quiet):
      // the confluent engine uses the same, so a key lands in one partition whichever writes it.
      createPartitioner: Partitioners.DefaultPartitioner,
      maxInFlightRequests: this.options.maxInFlight,
      allowAutoTopicCreation: false,
      retry: {
        retries: Math.max(5, Math.ceil(this.options.deliveryTimeoutMs / MAX_RETRY_TIME_MS)),
        initialRetryTime: 200,
        maxRetryTime: MAX_RETRY_TIME_MS,
      },
    };
    this.#producer = this.#kafka.producer(this.#producerConfig);
    const compression = codecs[this.options.compression];
    const accumulatorOptions = { ...this.options, batchRecords: MAX_REQUEST_RECORDS };
    this.#accumulator = new RecordAccumulator<OutgoingRecord>(
      accumulatorOptions,
      recordBytes,
      async (batch) => {
        if (this.#stale) await this.#renew();
        const topicMessages: TopicMessages[] = [];
        for (const [topic, records] of batch) topicMessages.push({ topic, messages: records.map(toMessage) });
        try {
          await this.#producer.sendBatch({ topicMessages, acks: -1, timeout: ACK_TIMEOUT_MS, compression });
        } catch (err) {
          this.#stale = true;
          throw err;
        }
      },
    );
  }

  /**
   * Replaces the kafkajs producer after a failed batch. kafkajs rolls a partition's sequence
   * number back when a request fails; had the broker written that batch after all, the next one
   * would reuse its numbers and could be acknowledged as its duplicate without being written. A
   * new producer id starts new sequences (the Java client bumps its epoch for the same reason).
   */
  async #renew(): Promise<void> {
    const old = this.#producer;
    this.#producer = this.#kafka.producer(this.#producerConfig);
    await old.disconnect().catch((err: unknown) => this.#logger.debug({ err }, 'old producer disconnect'));
    await this.#producer.connect();
    this.#stale = false;
    this.#logger.warn('new producer id after a failed batch');
  }

  async connect(): Promise<void> {
    await this.#producer.connect();
    this.#state = 'connected';
    this.#logger.debug({ options: this.options }, 'producer connected');
  }

  send(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    if (this.#state !== 'connected') {
      return Promise.reject(
        new TributaryError(ErrorCodes.PRODUCER_CLOSED, `kafkajs producer is ${this.#state}, cannot send`),
      );
    }
    return this.#accumulator.append(topic, records);
  }

  flush(): Promise<void> {
    return this.#accumulator.flush();
  }

  async disconnect(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    const wasConnected = this.#state === 'connected';
    this.#state = 'closing';
    try {
      if (wasConnected) await this.#accumulator.flush();
    } finally {
      await this.#producer.disconnect();
      this.#state = 'closed';
    }
  }
}
