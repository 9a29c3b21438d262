/**
 * An engine producer that sets each record's timestamp to the time its event was *meant* to be
 * sent. The publisher leaves the timestamp to the engine (kafkajs stamps a record when its batch
 * leaves the accumulator, librdkafka when it is queued), so a producer stall would be hidden from
 * the consumer's end-to-end measure (`now - record timestamp`). Stamping the intended send time
 * makes that measure coordinated-omission free, with no change to the publisher or the runtime.
 */
import type { EngineProducer, OutgoingRecord } from '../lib/engine.js';
import { EVENT_ID_HEADER } from '../producers/publisher.js';

/** Wraps `inner`; {@link StampingProducer.stamp} an event id before publishing the event. */
export class StampingProducer implements EngineProducer {
  private readonly intended = new Map<string, number>();

  constructor(private readonly inner: EngineProducer) {}

  get engine(): EngineProducer['engine'] {
    return this.inner.engine;
  }

  /** The event with this id is to carry `intendedMs` as its record timestamp. */
  stamp(eventId: string, intendedMs: number): void {
    this.intended.set(eventId, intendedMs);
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  send(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    const stamped = records.map((r) => {
      const id = r.headers?.[EVENT_ID_HEADER];
      const at = typeof id === 'string' ? this.intended.get(id) : undefined;
      if (at === undefined) return r;
      this.intended.delete(id as string);
      return { ...r, timestamp: at };
    });
    return this.inner.send(topic, stamped);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  disconnect(): Promise<void> {
    return this.inner.disconnect();
  }
}
