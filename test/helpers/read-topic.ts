/** Reads a whole topic as it stands now (up to each partition's high watermark), for assertions. */
import { randomBytes } from 'node:crypto';
import type { TributaryConfig } from '../../lib/config.js';
import { createKafka } from '../../lib/kafka.js';
import { testLogger } from './stack.js';

export interface ReadRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: string;
  readonly value: Buffer;
  /** Header values as strings (the first one of a repeated header). */
  readonly headers: Readonly<Record<string, string>>;
}

/** Every record of `topic` below the high watermarks it has when called, in offset order per partition. */
export async function readTopic(
  config: TributaryConfig,
  topic: string,
  timeoutMs = 30_000,
): Promise<ReadRecord[]> {
  const kafka = createKafka(config, testLogger());
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    for (const o of await admin.fetchTopicOffsets(topic)) {
      if (BigInt(o.high) > BigInt(o.low)) ends.set(o.partition, BigInt(o.high));
    }
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return [];
  const consumer = kafka.consumer({ groupId: `read-${randomBytes(5).toString('hex')}` });
  const records: ReadRecord[] = [];
  const pending = new Set(ends.keys());
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const end = ends.get(partition);
          if (end === undefined || BigInt(message.offset) >= end) return;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) {
            const first = Array.isArray(v) ? v[0] : v;
            if (first !== undefined) headers[k] = first.toString();
          }
          records.push({
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? '',
            value: message.value ?? Buffer.alloc(0),
            headers,
          });
          if (BigInt(message.offset) + 1n >= end) pending.delete(partition);
          if (pending.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
