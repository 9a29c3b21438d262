/**
 * A drop-in for code that still does
 * `producer.send({ topic: 'user-created', messages: [JSON.stringify({ name, email })] })`.
 * That call was never valid KafkaJS (KafkaJS wants `{ value }` objects and throws
 * "Invalid message without value" for strings), so teams carrying it get this producer instead:
 * the same `connect` / `send` / `disconnect` shape, strings and Buffers accepted as values, topic
 * names mapped through the configured prefix. The bridge then upcasts what it writes.
 */
import type { TributaryConfig } from '../lib/config.js';
import { createKafka } from '../lib/kafka.js';
import type { Logger } from '../lib/logger.js';

export type LegacyMessage =
  | string
  | Buffer
  | {
      key?: string | Buffer | null;
      value: string | Buffer | null;
      headers?: Record<string, string | Buffer>;
    };

export interface LegacyProducer {
  connect(): Promise<void>;
  send(record: { topic: string; messages: LegacyMessage[] }): Promise<void>;
  disconnect(): Promise<void>;
}

/** A KafkaJS-shaped producer that accepts the old snippet unchanged. */
export function createLegacyProducer(config: TributaryConfig, logger: Logger): LegacyProducer {
  const producer = createKafka(config, logger.child({ component: 'legacy-producer' })).producer({
    idempotent: true,
  });
  return {
    connect: () => producer.connect(),
    disconnect: () => producer.disconnect(),
    send: async ({ topic, messages }) => {
      await producer.send({
        topic: `${config.topics.prefix}${topic}`,
        acks: -1,
        messages: messages.map((m) => (typeof m === 'string' || Buffer.isBuffer(m) ? { value: m } : m)),
      });
    },
  };
}
