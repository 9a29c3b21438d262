/**
 * Late events (DESIGN.md §5): an event of a window that had already closed for its partition is
 * not added to that window; it is counted and sent, unchanged, to `<prefix>analytics.late-events`
 * with headers that say which windows refused it and why, so it can be inspected or reprocessed.
 * Never dropped silently. Like dead letters, late records are produced before their batch is
 * fenced: at least once (a crash in between sends them again on the replay; de-duplicate by the
 * source offset headers or the event id).
 */
import type { OutgoingRecord } from '../../lib/engine.js';
import type { AppliedRecord } from '../runtime/types.js';
import type { TimeWindow } from './windows.js';

/** Header names on every late-event record (the original headers are kept too). */
export const LateEventHeaders = {
  /** Ids of the windows that refused the event, comma-separated. */
  windows: 'late-windows',
  /** Kinds of those windows (`tumbling`, `hopping`), comma-separated. */
  kinds: 'late-window-kinds',
  /** The partition's watermark (floored by the finality frontier) when it arrived, epoch ms. */
  watermark: 'late-watermark',
  sourceTopic: 'late-source-topic',
  sourcePartition: 'late-source-partition',
  sourceOffset: 'late-source-offset',
  /** The consumer group that refused it. */
  consumer: 'late-consumer',
  /**
   * Why: `watermark` (its windows had closed) or `clock-skew` (its event time lies further ahead
   * than TRIBUTARY_MAX_CLOCK_SKEW_MS: it never moves a watermark).
   */
  reason: 'late-reason',
} as const;

/** The late-events record for `record`, refused by `windows` at `watermark`. */
export function lateEventRecord(
  record: AppliedRecord,
  windows: readonly TimeWindow[],
  watermark: number,
  consumer: string,
  reason: 'watermark' | 'clock-skew' = 'watermark',
): OutgoingRecord {
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(record.headers ?? {})) {
    if (typeof v === 'string' || Buffer.isBuffer(v)) headers[k] = v;
  }
  headers[LateEventHeaders.windows] = windows.map((w) => w.id).join(',');
  headers[LateEventHeaders.kinds] = [...new Set(windows.map((w) => w.kind))].join(',');
  headers[LateEventHeaders.watermark] = String(watermark);
  headers[LateEventHeaders.sourceTopic] = record.topic;
  headers[LateEventHeaders.sourcePartition] = String(record.partition);
  headers[LateEventHeaders.sourceOffset] = record.offset;
  headers[LateEventHeaders.consumer] = consumer;
  headers[LateEventHeaders.reason] = reason;
  return {
    key: record.key ?? Buffer.alloc(0),
    // The runtime always hands over the value as consumed; a hand-built record falls back to JSON.
    value: record.value ?? Buffer.from(JSON.stringify(record.event)),
    headers,
  };
}
