/**
 * The producer library: `publish(event)` and `publishBatch(events)`. One short path from a typed
 * event to an acknowledged Kafka record: validate and encode (Confluent wire format, cached
 * schema ids) → key by aggregate id → headers `event-type` and `event-id` → the engine producer
 * (idempotent, acks=all, batched by linger and size, compressed). A bounded in-flight budget
 * gives backpressure: when too many events are unacknowledged, `publish` waits.
 *
 * The record timestamp is the send time, not the event time: event time lives in the payload
 * (`occurredAt`), and a broker rejects timestamps far in the future and ages out segments by
 * timestamp, so late or back-filled events must not carry their event time there.
 */
import type { TributaryConfig } from '../lib/config.js';
import type { EngineProducer, EngineProducerOptions, OutgoingRecord } from '../lib/engine.js';
import { createProducer } from '../lib/engines/index.js';
import { ErrorCodes, TributaryError } from '../lib/errors.js';
import { initLogger, type Logger } from '../lib/logger.js';
import { EVENT_TYPE_HEADER, type AppEvent, type EventCatalog } from '../schemas/catalog.js';
import { EventCodec } from '../schemas/codec.js';
import { createSchemaRegistryClient } from '../schemas/registry.js';
import { validateEventTime } from '../schemas/validate.js';
import { Semaphore } from './semaphore.js';

/** The Kafka header that carries an event's id. */
export const EVENT_ID_HEADER = 'event-id';

export interface PublishResult {
  readonly eventId: string;
  readonly type: string;
  readonly topic: string;
}

/** An event as the publisher takes it: a type of the app's catalog and its payload. */
export type PublishableEvent = AppEvent<string, object>;

export interface PublisherOptions extends EngineProducerOptions {
  /** Most events handed over and not yet acknowledged before `publish` waits. Default 50,000. */
  readonly maxInFlightEvents?: number;
  /** An existing codec (shares caches); one is created from config otherwise. */
  readonly codec?: EventCodec;
  /** An existing engine producer; one is created from config otherwise (and closed by `close`). */
  readonly producer?: EngineProducer;
}

/**
 * Publishes an app's events. Create with {@link Publisher.create}; share one per process. `E` is
 * the app's event union (its generated `AnyEvent`), which types what `publish` accepts.
 */
export class Publisher<E extends PublishableEvent = PublishableEvent> {
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;
  /** Topic names by event type, built once rather than per event. */
  private readonly topics = new Map<string, string>();
  /**
   * `event-type` header values by event type, as bytes built once: the engines pass a Buffer on
   * as it is, where a string is converted to UTF-8 again for every record.
   */
  private readonly typeHeaders = new Map<string, Buffer>();
  private readonly catalog: EventCatalog;

  private constructor(
    private readonly codec: EventCodec,
    private readonly producer: EngineProducer,
    private readonly ownsProducer: boolean,
    topicPrefix: string,
    private readonly budget: Semaphore,
    private readonly logger: Logger,
    /** `config.events.maxClockSkewMs`: events further ahead of the clock are refused. */
    private readonly maxClockSkewMs: number,
  ) {
    this.catalog = codec.catalog;
    for (const type of this.catalog.types) {
      this.topics.set(type, this.catalog.topicOf(type, topicPrefix));
      this.typeHeaders.set(type, Buffer.from(type));
    }
  }

  /**
   * Connects the producer and registers (or looks up) every event schema, so a registry or
   * broker problem shows here rather than on the first event.
   */
  static async create<E extends PublishableEvent = PublishableEvent>(
    catalog: EventCatalog,
    config: TributaryConfig,
    logger: Logger = initLogger({ level: config.logLevel }),
    options: PublisherOptions = {},
  ): Promise<Publisher<E>> {
    const log = logger.child({ component: 'publisher' });
    const codec =
      options.codec ??
      new EventCodec({
        catalog,
        registry: createSchemaRegistryClient(config),
        topicPrefix: config.topics.prefix,
      });
    if (codec.catalog !== catalog) {
      throw new TributaryError(ErrorCodes.CONFIG_INVALID, 'the codec given was built for another catalog');
    }
    await codec.prepare();
    const producer = options.producer ?? createProducer(config, log, options);
    if (!options.producer) await producer.connect();
    return new Publisher<E>(
      codec,
      producer,
      !options.producer,
      config.topics.prefix,
      new Semaphore(options.maxInFlightEvents ?? 50_000),
      log,
      config.events.maxClockSkewMs,
    );
  }

  /** The engine in use (`kafkajs` or `confluent`). */
  get engine(): EngineProducer['engine'] {
    return this.producer.engine;
  }

  /**
   * Validates, encodes and sends one event; resolves once the broker acknowledged it.
   * An invalid event throws a `TRIBUTARY_EVENT_INVALID` error naming the field; nothing is sent.
   * Invalid includes an `occurredAt` further ahead of this process's clock than
   * `TRIBUTARY_MAX_CLOCK_SKEW_MS` (`data.occurredAt`).
   */
  async publish(event: E): Promise<PublishResult> {
    const [result] = await this.publishBatch([event]);
    return result!;
  }

  /**
   * Validates and encodes every event first (one invalid event rejects the whole batch and sends
   * nothing), then sends them grouped by topic; resolves once all are acknowledged. Events of one
   * aggregate keep their order.
   */
  async publishBatch(events: readonly E[]): Promise<PublishResult[]> {
    if (this.closed) throw new TributaryError(ErrorCodes.PRODUCER_CLOSED, 'publisher is closed');
    if (events.length === 0) return [];
    const byTopic = new Map<string, OutgoingRecord[]>();
    const results: PublishResult[] = new Array(events.length);
    const clock = { now: Date.now(), maxClockSkewMs: this.maxClockSkewMs };
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      // Validates first: the type is known from here on.
      const value = this.codec.encodeSync(event);
      validateEventTime(event, clock);
      const type = event.type;
      const topic = this.topics.get(type)!;
      const eventId = (event.data as { eventId: string }).eventId;
      const record: OutgoingRecord = {
        key: this.catalog.eventKey(event),
        value,
        headers: { [EVENT_TYPE_HEADER]: this.typeHeaders.get(type)!, [EVENT_ID_HEADER]: eventId },
      };
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push(record);
      results[i] = { eventId, type, topic };
    }
    await this.budget.acquire(events.length);
    const sends: Promise<void>[] = [];
    for (const [topic, records] of byTopic) sends.push(this.producer.send(topic, records));
    const sent = sends.length === 1 ? sends[0]! : Promise.all(sends);
    this.pending.add(sent);
    try {
      await sent;
    } finally {
      this.pending.delete(sent);
      this.budget.release(events.length);
    }
    return results;
  }

  /** Waits until every event handed over so far is acknowledged (or failed). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.producer.flush();
  }

  /** Flushes, then disconnects the producer it created. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    if (this.ownsProducer) await this.producer.disconnect();
    this.logger.debug('publisher closed');
  }
}
