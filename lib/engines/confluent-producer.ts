/**
 * The confluent engine's producer: librdkafka through `@confluentinc/kafka-javascript`, on its
 * native (node-rdkafka style) API. librdkafka batches by `linger.ms` / `batch.size`, compresses,
 * retries in order (idempotence, ≤ 5 in flight) and reports each record's delivery; this class
 * turns those reports into one promise per `send` and adds the byte budget (backpressure).
 *
 * The package is loaded on `connect()` with a dynamic import, so kafkajs users never need the
 * native module, and its types are declared here rather than imported, so the project compiles
 * where the optional package did not build.
 */
import { createRequire } from 'node:module';
import type { TributaryConfig } from '../config.js';
import type { EngineProducer, EngineProducerOptions, OutgoingRecord } from '../engine.js';
import { ErrorCodes, TributaryError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ByteBudget, recordBytes } from './byte-budget.js';
import { resolveProducerOptions, type ResolvedProducerOptions } from './options.js';

/** The package name, in one place for the import and the messages that name it. */
export const CONFLUENT_PACKAGE = '@confluentinc/kafka-javascript';

interface RdKafkaError extends Error {
  readonly code: number;
  readonly isFatal?: boolean;
}

interface RdDeliveryReport {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly opaque?: unknown;
}

interface RdLog {
  readonly severity: number;
  readonly fac: string;
  readonly message: string;
  readonly name?: string;
}

/** The slice of librdkafka's native producer this engine uses. */
interface RdProducer {
  connect(metadataOptions: { timeout?: number }, cb: (err: RdKafkaError | null) => void): void;
  setPollInBackground(set: boolean): void;
  produce(
    topic: string,
    partition: number | null,
    value: Buffer,
    key: string | Buffer,
    timestamp: number | null,
    opaque: unknown,
    headers: Record<string, string | Buffer>[] | undefined,
  ): unknown;
  flush(timeoutMs: number, cb: (err: RdKafkaError | null) => void): void;
  disconnect(timeoutMs: number, cb: (err: RdKafkaError | null) => void): void;
  on(event: 'delivery-report', listener: (err: RdKafkaError | null, report: RdDeliveryReport) => void): void;
  on(event: 'event.log', listener: (log: RdLog) => void): void;
  on(event: 'event.error', listener: (err: RdKafkaError) => void): void;
}

/** What `import('@confluentinc/kafka-javascript')` provides, as far as this engine cares. */
export interface ConfluentModule {
  readonly Producer: new (config: Record<string, unknown>) => RdProducer;
  readonly librdkafkaVersion: string;
}

let loading: Promise<ConfluentModule> | undefined;

/**
 * Loads the native package once. Rejects with `TRIBUTARY_CONFIG_INVALID` naming
 * `TRIBUTARY_CLIENT_ENGINE` when it is not installed or its addon did not build.
 */
export function loadConfluent(): Promise<ConfluentModule> {
  loading ??= import(CONFLUENT_PACKAGE).then(
    (mod: { default?: ConfluentModule } & ConfluentModule) => mod.default ?? mod,
    (err: unknown) => {
      loading = undefined;
      throw new TributaryError(
        ErrorCodes.CONFIG_INVALID,
        `TRIBUTARY_CLIENT_ENGINE=confluent needs ${CONFLUENT_PACKAGE}, which did not load ` +
          `(${err instanceof Error ? err.message.split('\n')[0] : String(err)}). It is built from source ` +
          'on install (`bash infra/bootstrap.sh deps`); to see why that failed: ' +
          '`rm -rf node_modules && CKJS_LINKING=dynamic npm ci --foreground-scripts`.',
        { cause: err },
      );
    },
  );
  return loading;
}

/** True when the native package can be resolved (it may still fail to load). */
export function confluentInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve(CONFLUENT_PACKAGE);
    return true;
  } catch {
    return false;
  }
}

/** librdkafka's syslog severities onto pino; 5 (notice) is informational. */
function logMethod(severity: number): 'error' | 'warn' | 'info' | 'debug' {
  if (severity <= 3) return 'error';
  if (severity === 4) return 'warn';
  return severity <= 6 ? 'info' : 'debug';
}

/** One `send` call: settles when librdkafka has reported on each of its records. */
interface Delivery {
  pending: number;
  readonly bytes: number;
  error: RdKafkaError | undefined;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

const ERR_QUEUE_FULL = -184;

/** Headers as the native `produce` takes them: one single-key object per header. */
function nativeHeaders(headers: OutgoingRecord['headers']): Record<string, string | Buffer>[] | undefined {
  if (headers === undefined) return undefined;
  const list: Record<string, string | Buffer>[] = [];
  for (const name in headers) list.push({ [name]: headers[name]! });
  return list;
}

/**
 * An {@link EngineProducer} over librdkafka. A failed `send` rejects with librdkafka's error
 * (`code` is librdkafka's, e.g. -192 message timed out); `PRODUCER_CLOSED` when not connected.
 */
export class ConfluentProducer implements EngineProducer {
  readonly engine = 'confluent' as const;
  readonly options: ResolvedProducerOptions;
  readonly #config: TributaryConfig;
  readonly #logger: Logger;
  readonly #budget: ByteBudget;
  #producer: RdProducer | undefined;
  #state: 'new' | 'connected' | 'closing' | 'closed' = 'new';
  #unsettled = 0;
  #drained: (() => void)[] = [];

  constructor(config: TributaryConfig, logger: Logger, options: EngineProducerOptions = {}) {
    this.options = resolveProducerOptions('confluent', options);
    this.#config = config;
    this.#logger = logger.child({ engine: 'confluent' });
    this.#budget = new ByteBudget(this.options.bufferBytes);
  }

  /** The librdkafka configuration this producer runs with. */
  rdkafkaConfig(): Record<string, unknown> {
    const o = this.options;
    return {
      'bootstrap.servers': this.#config.kafka.brokers.value.join(','),
      'client.id': [this.#config.kafka.clientId, o.clientId].filter(Boolean).join('-'),
      'enable.idempotence': true,
      acks: 'all',
      'max.in.flight.requests.per.connection': o.maxInFlight,
      'linger.ms': o.lingerMs,
      'batch.size': o.batchBytes,
      'compression.type': o.compression,
      'delivery.timeout.ms': o.deliveryTimeoutMs,
      // The Java client's and kafkajs's partitioner, so every engine puts a key in the same partition.
      partitioner: 'murmur2_random',
      'allow.auto.create.topics': false,
      // Our byte budget is the limit; librdkafka's queue must never be the one to refuse a record.
      'queue.buffering.max.kbytes': Math.min(2_097_151, Math.ceil((o.bufferBytes * 2) / 1024)),
      'queue.buffering.max.messages': 10_000_000,
      dr_cb: true,
      log_level: this.#logger.isLevelEnabled('debug') ? 7 : 6,
    };
  }

  async connect(): Promise<void> {
    const { Producer, librdkafkaVersion } = await loadConfluent();
    const producer = new Producer(this.rdkafkaConfig());
    producer.on('event.log', (log) => {
      this.#logger[logMethod(log.severity)]({ fac: log.fac, client: log.name }, log.message);
    });
    producer.on('event.error', (err) => {
      // Most are transient (a broker went away) and librdkafka recovers; fatal ones are not.
      this.#logger[err.isFatal ? 'error' : 'warn']({ code: err.code, err }, `librdkafka: ${err.message}`);
    });
    producer.on('delivery-report', (err, report) => this.#delivered(err, report));
    await new Promise<void>((resolve, reject) => {
      producer.connect({ timeout: 30_000 }, (err) => (err ? reject(err) : resolve()));
    });
    // Delivery reports are polled on librdkafka's own thread, not by a JS timer.
    producer.setPollInBackground(true);
    this.#producer = producer;
    this.#state = 'connected';
    this.#logger.debug({ librdkafkaVersion, options: this.options }, 'producer connected');
  }

  send(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    const producer = this.#producer;
    if (this.#state !== 'connected' || producer === undefined) {
      return Promise.reject(
        new TributaryError(ErrorCodes.PRODUCER_CLOSED, `confluent producer is ${this.#state}, cannot send`),
      );
    }
    if (records.length === 0) return Promise.resolve();
    let bytes = 0;
    for (const r of records) bytes += recordBytes(r);
    return new Promise<void>((resolve, reject) => {
      const delivery: Delivery = { pending: records.length, bytes, error: undefined, resolve, reject };
      // Granted synchronously when there is room, so sends made in order are produced in order.
      this.#budget.take(bytes, () => this.#produce(producer, topic, records, delivery));
    });
  }

  #produce(producer: RdProducer, topic: string, records: readonly OutgoingRecord[], d: Delivery): void {
    this.#unsettled += records.length;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      try {
        producer.produce(topic, null, r.value, r.key, r.timestamp ?? null, d, nativeHeaders(r.headers));
      } catch (err) {
        // Not queued, so no report will come for this record or the rest of the send.
        const left = records.length - i;
        if ((err as RdKafkaError).code === ERR_QUEUE_FULL) {
          this.#logger.error({ err }, 'librdkafka queue full despite the byte budget');
        }
        d.error ??= err as RdKafkaError;
        this.#settle(d, left);
        return;
      }
    }
  }

  #delivered(err: RdKafkaError | null, report: RdDeliveryReport): void {
    const d = report.opaque as Delivery | undefined;
    if (d === undefined) return;
    if (err) d.error ??= err;
    this.#settle(d, 1);
  }

  #settle(d: Delivery, count: number): void {
    d.pending -= count;
    this.#unsettled -= count;
    if (d.pending === 0) {
      this.#budget.release(d.bytes);
      if (d.error) d.reject(d.error);
      else d.resolve();
    }
    if (this.#unsettled === 0 && this.#budget.waiting === 0 && this.#drained.length > 0) {
      const waiters = this.#drained;
      this.#drained = [];
      for (const resolve of waiters) resolve();
    }
  }

  async flush(): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined || (this.#unsettled === 0 && this.#budget.waiting === 0)) return;
    const drained = new Promise<void>((resolve) => this.#drained.push(resolve));
    // Sends what lingers now; the reports it waits for reach `#delivered` on their own.
    producer.flush(this.options.deliveryTimeoutMs, (err) => {
      if (err) this.#logger.warn({ err }, 'librdkafka flush did not complete');
    });
    await drained;
  }

  async disconnect(): Promise<void> {
    const producer = this.#producer;
    if (this.#state !== 'connected' || producer === undefined) return;
    this.#state = 'closing';
    try {
      await this.flush();
    } finally {
      await new Promise<void>((resolve, reject) => {
        producer.disconnect(5_000, (err) => (err ? reject(err) : resolve()));
      });
      this.#state = 'closed';
    }
  }
}
