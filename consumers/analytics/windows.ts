/**
 * Window arithmetic in event time (DESIGN.md §5). Pure: no I/O, no clock; every time is epoch
 * milliseconds of event time (`occurredAt`) unless it says otherwise.
 *
 * Windows. A window spec of size S advancing by A has a window starting at every multiple of A
 * (aligned to the epoch), covering the half-open interval [start, start + S). Tumbling windows
 * are those with A = S: each instant lies in exactly one. Hopping windows (A < S) overlap: an
 * instant lies in ⌈S/A⌉ or ⌊S/A⌋ of them (exactly S/A when A divides S).
 *
 * Watermarks. A partition's watermark is the largest event time it has seen minus the allowed
 * lateness: its claim that older events have all arrived. A window closes for a partition once
 * that watermark reaches the window's end plus grace; an event of a window already closed for its
 * partition is late for that window and is not added to it. The decision depends only on the
 * partition's own records, in offset order, so it is the same on every replay.
 *
 * Finality. The finality frontier is the smallest watermark over the partitions that still count
 * (see {@link finalityFrontier}); a window is final once the frontier reaches its end plus grace.
 * The consumer treats the frontier as a floor under every partition's watermark, so a final window
 * is closed for every partition and its result cannot change.
 */
import { analyticsWindowId, type AnalyticsWindowKind } from '../../lib/redis-keys.js';
import { isTooFarAhead } from '../../schemas/validate.js';

export type WindowKind = AnalyticsWindowKind;

/** A family of windows: their kind, size and the distance between consecutive starts. */
export interface WindowSpec {
  readonly kind: WindowKind;
  readonly sizeMs: number;
  /** Equal to `sizeMs` for tumbling windows. */
  readonly advanceMs: number;
}

/** One window: [start, end), end exclusive. */
export interface TimeWindow {
  readonly kind: WindowKind;
  readonly sizeMs: number;
  readonly advanceMs: number;
  readonly start: number;
  readonly end: number;
  /** `<kind>:<size>:<advance>:<start>` (lib/redis-keys.ts `analyticsWindowId`). */
  readonly id: string;
}

/** The watermark of a partition that has seen no event yet: below every time. */
export const NO_WATERMARK = Number.NEGATIVE_INFINITY;

function assertMs(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer ≥ ${min} ms, got ${value}`);
  }
}

/** Tumbling windows of `sizeMs`. @throws RangeError for a size that is not a positive integer. */
export function tumbling(sizeMs: number): WindowSpec {
  assertMs('tumbling window size', sizeMs, 1);
  return { kind: 'tumbling', sizeMs, advanceMs: sizeMs };
}

/**
 * Hopping windows of `sizeMs`, one starting every `advanceMs`.
 *
 * @throws RangeError unless both are positive integers and `advanceMs ≤ sizeMs` (a larger advance
 *   would leave instants in no window at all).
 */
export function hopping(sizeMs: number, advanceMs: number): WindowSpec {
  assertMs('hopping window size', sizeMs, 1);
  assertMs('hopping window advance', advanceMs, 1);
  if (advanceMs > sizeMs) {
    throw new RangeError(`hopping window advance (${advanceMs} ms) exceeds its size (${sizeMs} ms)`);
  }
  return { kind: 'hopping', sizeMs, advanceMs };
}

/** ⌊a / b⌋ for integers, exact for every safe integer (no rounding of the quotient). */
export function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  if (q * b > a) q -= 1;
  else if ((q + 1) * b <= a) q += 1;
  return q;
}

/**
 * The window of `spec` that starts at `start`.
 *
 * @throws RangeError when `start` is not a multiple of the spec's advance.
 */
export function windowAt(spec: WindowSpec, start: number): TimeWindow {
  if (!Number.isSafeInteger(start) || floorDiv(start, spec.advanceMs) * spec.advanceMs !== start) {
    throw new RangeError(`${start} is not a start of ${spec.kind} windows advancing by ${spec.advanceMs} ms`);
  }
  return {
    kind: spec.kind,
    sizeMs: spec.sizeMs,
    advanceMs: spec.advanceMs,
    start,
    end: start + spec.sizeMs,
    id: analyticsWindowId(spec.kind, spec.sizeMs, spec.advanceMs, start),
  };
}

/**
 * The windows of `spec` that contain instant `t`, oldest first: those starting at k·advance with
 * k·advance ≤ t < k·advance + size.
 */
export function windowsContaining(spec: WindowSpec, t: number): TimeWindow[] {
  const last = floorDiv(t, spec.advanceMs);
  const first = floorDiv(t - spec.sizeMs, spec.advanceMs) + 1;
  const out: TimeWindow[] = [];
  for (let k = first; k <= last; k++) out.push(windowAt(spec, k * spec.advanceMs));
  return out;
}

/** Most windows of `spec` one instant can lie in: ⌈size / advance⌉ (1 for tumbling windows). */
export function windowsPerInstant(spec: WindowSpec): number {
  return Math.ceil(spec.sizeMs / spec.advanceMs);
}

/** The windows of `spec` that start in [from, to), in order. */
export function windowsStartingIn(spec: WindowSpec, from: number, to: number): TimeWindow[] {
  const out: TimeWindow[] = [];
  const first = floorDiv(from + spec.advanceMs - 1, spec.advanceMs);
  for (let start = first * spec.advanceMs; start < to; start += spec.advanceMs) {
    out.push(windowAt(spec, start));
  }
  return out;
}

/**
 * A partition's watermark: the largest event time it has seen minus the allowed lateness, or
 * {@link NO_WATERMARK} before its first event.
 */
export function watermarkOf(maxEventTime: number, allowedLatenessMs: number): number {
  return maxEventTime === NO_WATERMARK ? NO_WATERMARK : maxEventTime - allowedLatenessMs;
}

/** When a window closes: the watermark that closes it (its end plus grace). */
export function closesAt(window: Pick<TimeWindow, 'end'>, graceMs: number): number {
  return window.end + graceMs;
}

/**
 * True once `watermark` has reached the window's end plus grace: events of it that arrive now are
 * late. With a partition's watermark, this is the late rule; with the finality frontier, it says
 * whether the window is final ({@link isFinal}).
 */
export function isClosed(window: Pick<TimeWindow, 'end'>, watermark: number, graceMs: number): boolean {
  return watermark >= closesAt(window, graceMs);
}

/** True once the window is final: the finality frontier reached its end plus grace. */
export function isFinal(window: Pick<TimeWindow, 'end'>, frontier: number, graceMs: number): boolean {
  return isClosed(window, frontier, graceMs);
}

/** The windows of an event, split by whether they still take it. */
export interface WindowSplit {
  /** Windows still open at the watermark: the event is added to these. */
  readonly open: TimeWindow[];
  /** Windows already closed: the event is late for these. */
  readonly late: TimeWindow[];
}

/**
 * Splits the windows of `spec` containing event time `t` into those still open and those closed
 * at `watermark` (the partition's watermark, floored by the finality frontier).
 */
export function splitByLateness(
  spec: WindowSpec,
  t: number,
  watermark: number,
  graceMs: number,
): WindowSplit {
  const open: TimeWindow[] = [];
  const late: TimeWindow[] = [];
  for (const w of windowsContaining(spec, t)) (isClosed(w, watermark, graceMs) ? late : open).push(w);
  return { open, late };
}

/**
 * True when event time `t` lies further ahead than `maxSkewMs` of the record's own time (when it
 * was produced) or of `now`, whichever is earlier: a producer's clock cannot push it through.
 * A record without a timestamp (0) is measured against `now` alone.
 */
export function isAhead(t: number, recordTime: number, now: number, maxSkewMs: number): boolean {
  const reference = recordTime > 0 ? Math.min(recordTime, now) : now;
  return isTooFarAhead(t, { now: reference, maxClockSkewMs: maxSkewMs });
}

/** What the finalizer knows of one partition. */
export interface PartitionProgress {
  /** The partition's own watermark ({@link watermarkOf}). */
  readonly watermark: number;
  /** Every record in the partition's log has been applied (or it has no records at all). */
  readonly caughtUp: boolean;
  /** Wall-clock ms of the partition's last applied batch; undefined if it never had one. */
  readonly lastActiveAt: number | undefined;
}

/**
 * True when a partition no longer holds back finality: it is fully consumed and has had no batch
 * for `idleTimeoutMs` of wall-clock time (or never had one: an empty partition). A partition with
 * records not yet applied is never idle, however long it waits: its records may be old.
 */
export function isIdle(p: PartitionProgress, now: number, idleTimeoutMs: number): boolean {
  return p.caughtUp && (p.lastActiveAt === undefined || now - p.lastActiveAt >= idleTimeoutMs);
}

/**
 * The finality frontier: the smallest watermark among the partitions that are not idle; when
 * every partition is idle, the largest watermark of all (nothing newer is on its way, so everything
 * seen is complete); never below `previous` (finality is not taken back).
 */
export function finalityFrontier(
  partitions: readonly { readonly watermark: number; readonly idle: boolean }[],
  previous: number = NO_WATERMARK,
): number {
  const active = partitions.filter((p) => !p.idle);
  const pool = active.length > 0 ? active : partitions;
  if (pool.length === 0) return previous;
  const candidate =
    active.length > 0 ? Math.min(...pool.map((p) => p.watermark)) : Math.max(...pool.map((p) => p.watermark));
  return Math.max(previous, candidate);
}

/**
 * The window an id names (`<kind>:<size>:<advance>:<start>`, lib/redis-keys.ts `analyticsWindowId`).
 *
 * @throws RangeError for anything else.
 */
export function windowOfId(id: string): TimeWindow {
  const m = /^(tumbling|hopping):(\d+):(\d+):(-?\d+)$/.exec(id);
  if (!m) throw new RangeError(`not an analytics window id: ${JSON.stringify(id)}`);
  const [size, advance, start] = [Number(m[2]), Number(m[3]), Number(m[4])];
  const spec = m[1] === 'tumbling' ? tumbling(size) : hopping(size, advance);
  if (spec.advanceMs !== advance) throw new RangeError(`tumbling window id with an advance ≠ size: ${id}`);
  return windowAt(spec, start);
}
