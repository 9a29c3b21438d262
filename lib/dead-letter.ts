/**
 * Dead-letter records: the original key and value, untouched, plus headers that say why the
 * record could not be processed and where it came from, so it can be inspected and replayed.
 */
import type { OutgoingRecord } from './engine.js';

/** Header names on every dead-letter record. */
export const DeadLetterHeaders = {
  reason: 'dlq-reason',
  errorCode: 'dlq-error-code',
  sourceTopic: 'dlq-source-topic',
  sourcePartition: 'dlq-source-partition',
  sourceOffset: 'dlq-source-offset',
  failedAt: 'dlq-failed-at',
  consumer: 'dlq-consumer',
  /** Set when the value was cut to fit the topic: the original value's length in bytes. */
  truncated: 'dlq-truncated',
} as const;

export interface DeadLetterSource {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, Buffer | string | undefined>>;
}

export interface DeadLetterReason {
  /** A stable code (`TRIBUTARY_DECODE_FAILED`, `INVALID_JSON`, …). */
  readonly code: string;
  /** A human-readable message; kept short (header values are not the place for payloads). */
  readonly message: string;
  /** Which consumer group or bridge gave up on the record. */
  readonly consumer: string;
}

const MAX_REASON = 1000;

/** Builds the dead-letter record for `source`, keeping its original headers. */
export function deadLetterRecord(
  source: DeadLetterSource,
  reason: DeadLetterReason,
  now = Date.now(),
): OutgoingRecord {
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(source.headers ?? {})) if (v !== undefined) headers[k] = v;
  headers[DeadLetterHeaders.reason] = reason.message.slice(0, MAX_REASON);
  headers[DeadLetterHeaders.errorCode] = reason.code;
  headers[DeadLetterHeaders.sourceTopic] = source.topic;
  headers[DeadLetterHeaders.sourcePartition] = String(source.partition);
  headers[DeadLetterHeaders.sourceOffset] = source.offset;
  headers[DeadLetterHeaders.failedAt] = new Date(now).toISOString();
  headers[DeadLetterHeaders.consumer] = reason.consumer;
  return {
    key: source.key ?? Buffer.alloc(0),
    value: source.value ?? Buffer.alloc(0),
    headers,
  };
}

/**
 * `record` with its value cut to at most `maxBytes` and the header `dlq-truncated` giving the
 * original length; headers are kept. For a dead letter its topic refuses as too large.
 */
export function truncateDeadLetter(record: OutgoingRecord, maxBytes: number): OutgoingRecord {
  if (record.value.length <= maxBytes) return record;
  const original = record.headers?.[DeadLetterHeaders.truncated];
  return {
    ...record,
    value: record.value.subarray(0, maxBytes),
    headers: {
      ...record.headers,
      [DeadLetterHeaders.truncated]: original ?? String(record.value.length),
    },
  };
}
