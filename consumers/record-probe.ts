/**
 * Whether a range of a partition's offsets holds any record a consumer would be handed, for the
 * caught-up checks of the analytics finalizer and `rebuild` (DESIGN.md §11: offsets are facts).
 *
 * A partition whose log ends with a transaction marker (commit or abort: it takes an offset, no
 * record carries it), or with aborted records, is fully applied while its stored offset + 1 is
 * still below the log end. Neither engine's committed offsets say so reliably:
 * - kafkajs resolves a fetch of nothing but control records (and aborted ones) to its last
 *   offset, but commits it only if its auto-commit interval has passed since the last commit
 *   (runner.js, `isEmptyDueToFiltering` → `commitOffsetsIfNecessary`); a trailing marker
 *   fetched right after the records before it stays uncommitted until the next batch;
 * - librdkafka moves the application position past control messages, but stores their offset
 *   for commit only with `enable.auto.offset.store=true` (rdkafka_offset.c
 *   `rd_kafka_update_app_pos`), which the KafkaJS-compatible API forces off: the committed
 *   offset stays on the marker.
 * So the range is read: a short-lived kafkajs consumer (read_committed) of its own throwaway group
 * seeks to the range's start and watches the fetched batches, including those kafkajs filters to
 * nothing (`END_BATCH_PROCESS` instrumentation events), until it has seen a record in the range or
 * passed the range's end. It is the same rule on both engines, whichever one consumes.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../lib/logger.js';

/** Offsets `[from, to)` of one partition. */
export interface OffsetRange {
  readonly topic: string;
  readonly partition: number;
  readonly from: bigint;
  readonly to: bigint;
}

/** How long one probe may take before its ranges count as holding records (not caught up). */
const DEFAULT_TIMEOUT_MS = 15_000;

function rangeKey(r: Pick<OffsetRange, 'topic' | 'partition'>): string {
  return `${r.topic}|${r.partition}`;
}

/**
 * Probes ranges and remembers the verdicts (a log below an offset never changes, but for
 * retention): asking again about the same range answers from memory.
 */
export class RecordProbe {
  private readonly known = new Map<string, { from: bigint; to: bigint; holdsRecords: boolean }>();

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly log: Logger,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  /**
   * For each range, true when it holds at least one record a read_committed consumer is handed
   * (or the probe could not tell in time), false when it holds only transaction markers and
   * aborted records (or nothing). Keyed `topic|partition`.
   */
  async holdsRecords(ranges: readonly OffsetRange[]): Promise<Map<string, boolean>> {
    const out = new Map<string, boolean>();
    const unknown: OffsetRange[] = [];
    for (const r of ranges) {
      const k = this.known.get(rangeKey(r));
      if (r.from >= r.to) out.set(rangeKey(r), false);
      else if (k && k.from === r.from && k.to === r.to) out.set(rangeKey(r), k.holdsRecords);
      else unknown.push(r);
    }
    if (unknown.length === 0) return out;
    const found = await this.read(unknown);
    for (const r of unknown) {
      const holdsRecords = found.get(rangeKey(r)) ?? true;
      out.set(rangeKey(r), holdsRecords);
      // An undecided probe (timeout) is not remembered: the next call tries again.
      if (found.has(rangeKey(r))) this.known.set(rangeKey(r), { from: r.from, to: r.to, holdsRecords });
    }
    return out;
  }

  /** Reads the ranges; answers the verdicts it reached before the timeout. */
  private async read(ranges: readonly OffsetRange[]): Promise<Map<string, boolean>> {
    const byKey = new Map(ranges.map((r) => [rangeKey(r), r]));
    const verdicts = new Map<string, boolean>();
    const groupId = `tributary-probe-${randomBytes(6).toString('hex')}`;
    const consumer = this.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      readUncommitted: false,
    });
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const decide = (key: string, holdsRecords: boolean): void => {
      if (verdicts.has(key)) return;
      verdicts.set(key, holdsRecords);
      if (verdicts.size === byKey.size) settle();
    };
    const timer = setTimeout(settle, this.timeoutMs);
    try {
      await consumer.connect();
      // Partitions not probed start at the log end (a new group, no commit): nothing to read.
      await consumer.subscribe({ topics: [...new Set(ranges.map((r) => r.topic))], fromBeginning: false });
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const r of ranges)
          consumer.seek({ topic: r.topic, partition: r.partition, offset: r.from.toString() });
      });
      // Every fetched batch, also one kafkajs filtered to nothing (markers, aborted records).
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const r = byKey.get(rangeKey(payload));
        if (!r || payload.firstOffset === null || BigInt(payload.firstOffset) < r.from) return;
        if (BigInt(payload.lastOffset) >= r.to - 1n) decide(rangeKey(r), false);
      });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const r = byKey.get(rangeKey(batch));
          if (!r) return;
          if (batch.messages.some((m) => BigInt(m.offset) >= r.from && BigInt(m.offset) < r.to)) {
            decide(rangeKey(r), true);
          }
        },
      });
      await settled;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'record probe failed; the ranges count as unread');
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
      await this.admin.deleteGroups([groupId]).catch(() => undefined);
    }
    this.log.debug({ ranges: ranges.length, decided: verdicts.size }, 'offset ranges probed');
    return verdicts;
  }
}
