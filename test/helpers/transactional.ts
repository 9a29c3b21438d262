/**
 * A transactional producer from outside Tributary (as Kafka Streams, Flink or Debezium with
 * exactly-once write): each transaction's commit or abort marker takes an offset no record carries.
 */
import type { Kafka } from 'kafkajs';
import { EVENT_TYPE_HEADER, eventKey, type TributaryEvent } from './shop.js';
import type { EventCodec } from '../../schemas/codec.js';
import { uid } from './stack.js';

/** Writes `events` to `topic` in one transaction, committed or aborted. */
export async function sendInTransaction(
  kafka: Kafka,
  codec: EventCodec,
  topic: string,
  events: readonly TributaryEvent[],
  outcome: 'commit' | 'abort',
): Promise<void> {
  const producer = kafka.producer({
    transactionalId: `test-tx-${uid()}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    const messages = [];
    for (const e of events) {
      messages.push({
        key: eventKey(e),
        value: await codec.encode(e),
        headers: { [EVENT_TYPE_HEADER]: e.type },
      });
    }
    await tx.send({ topic, messages });
    await (outcome === 'commit' ? tx.commit() : tx.abort());
  } finally {
    await producer.disconnect();
  }
}
