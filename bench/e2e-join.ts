/**
 * One latency per event out of the applies of several consumer groups: the time from the event's
 * intended send time (its record timestamp) until the *last* group that reads its topic applied it.
 * An event read by one group completes at its apply; one read by several waits here, keyed by
 * topic, partition and offset, until every reader reported it.
 */
import type { AppliedSlice } from './e2e-worker.js';

/** Readers are counted in the low bits of an open entry, the largest latency so far above them. */
const READER_SLOTS = 16;

export class ApplyJoin {
  /** `topic:partition` → offset → largest latency × READER_SLOTS + readers still to apply it. */
  private readonly open = new Map<string, Map<number, number>>();

  /**
   * @param readers groups reading each full topic name (at most 15)
   * @param measureFrom records intended before it (warm-up) are left out
   * @param complete an event was applied by every reader: its latency (ms), and when that was
   * @param applied one group applied one measured event
   */
  constructor(
    private readonly readers: ReadonlyMap<string, number>,
    private readonly measureFrom: () => number,
    private readonly complete: (latencyMs: number, at: number) => void,
    private readonly applied?: (group: string, latencyMs: number, at: number) => void,
  ) {
    for (const [topic, n] of readers) {
      if (n >= READER_SLOTS) throw new Error(`${topic}: ${n} readers, at most ${READER_SLOTS - 1}`);
    }
  }

  /** What `group` applied in one slice. */
  add(group: string, slice: AppliedSlice): void {
    const readers = this.readers.get(slice.topic) ?? 0;
    if (readers === 0) return;
    const from = this.measureFrom();
    const tp = `${slice.topic}:${slice.partition}`;
    let open = this.open.get(tp);
    if (open === undefined) this.open.set(tp, (open = new Map()));
    const { at, pairs } = slice;
    for (let i = 0; i < pairs.length; i += 2) {
      const offset = pairs[i]!;
      const intended = pairs[i + 1]!;
      if (intended < from) continue;
      const latency = Math.max(0, at - intended);
      this.applied?.(group, latency, at);
      if (readers === 1) {
        this.complete(latency, at);
        continue;
      }
      const seen = open.get(offset);
      if (seen === undefined) {
        open.set(offset, latency * READER_SLOTS + readers - 1);
        continue;
      }
      const max = Math.max(Math.floor(seen / READER_SLOTS), latency);
      const left = (seen % READER_SLOTS) - 1;
      if (left > 0) {
        open.set(offset, max * READER_SLOTS + left);
      } else {
        open.delete(offset);
        this.complete(max, intended + max);
      }
    }
  }

  /** Events some but not all of their readers applied. */
  get pending(): number {
    let n = 0;
    for (const open of this.open.values()) n += open.size;
    return n;
  }
}
