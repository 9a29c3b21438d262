import { describe, expect, it } from 'vitest';
import {
  NO_WATERMARK,
  closesAt,
  finalityFrontier,
  floorDiv,
  hopping,
  isAhead,
  isClosed,
  isFinal,
  isIdle,
  splitByLateness,
  tumbling,
  watermarkOf,
  windowAt,
  windowsContaining,
  windowsPerInstant,
  windowsStartingIn,
  type WindowSpec,
} from '../../consumers/analytics/windows.js';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

/** Brute force: every window start near `t`, kept if [start, start + size) contains t. */
function bruteContaining(spec: WindowSpec, t: number): number[] {
  const starts: number[] = [];
  const from = Math.floor((t - spec.sizeMs) / spec.advanceMs) * spec.advanceMs - spec.advanceMs;
  for (let s = from; s <= t + spec.advanceMs; s += spec.advanceMs) {
    if (s <= t && t < s + spec.sizeMs) starts.push(s);
  }
  return starts;
}

describe('window specs', () => {
  it('builds tumbling and hopping specs and refuses impossible ones', () => {
    expect(tumbling(MIN)).toEqual({ kind: 'tumbling', sizeMs: MIN, advanceMs: MIN });
    expect(hopping(5 * MIN, MIN)).toEqual({ kind: 'hopping', sizeMs: 5 * MIN, advanceMs: MIN });
    expect(hopping(MIN, MIN).advanceMs).toBe(MIN);
    expect(() => tumbling(0)).toThrow(RangeError);
    expect(() => tumbling(1.5)).toThrow(/integer/);
    expect(() => hopping(MIN, 2 * MIN)).toThrow(/exceeds its size/);
    expect(() => hopping(MIN, 0)).toThrow(RangeError);
    expect(() => hopping(-MIN, MIN)).toThrow(RangeError);
  });

  it('divides exactly, also for negative numbers and large times', () => {
    expect(floorDiv(7, 2)).toBe(3);
    expect(floorDiv(-7, 2)).toBe(-4);
    expect(floorDiv(-6, 2)).toBe(-3);
    expect(floorDiv(0, 5)).toBe(0);
    const big = 8_999_999_999_999;
    expect(floorDiv(big, 1000)).toBe(8_999_999_999);
    expect(floorDiv(big + 1, 1000)).toBe(9_000_000_000);
  });
});

describe('window boundaries', () => {
  const spec = tumbling(MIN);

  it('puts an instant in exactly one tumbling window, start inclusive and end exclusive', () => {
    expect(windowsContaining(spec, T0).map((w) => w.start)).toEqual([T0]);
    expect(windowsContaining(spec, T0 + MIN - 1).map((w) => w.start)).toEqual([T0]);
    expect(windowsContaining(spec, T0 + MIN).map((w) => w.start)).toEqual([T0 + MIN]);
    expect(windowsContaining(spec, T0 - 1).map((w) => w.start)).toEqual([T0 - MIN]);
    const [w] = windowsContaining(spec, T0 + 12_345);
    expect(w).toEqual({
      kind: 'tumbling',
      sizeMs: MIN,
      advanceMs: MIN,
      start: T0,
      end: T0 + MIN,
      id: `tumbling:${MIN}:${MIN}:${T0}`,
    });
  });

  it('aligns windows to the epoch, also before it', () => {
    expect(windowsContaining(tumbling(1000), 0).map((w) => w.start)).toEqual([0]);
    expect(windowsContaining(tumbling(1000), -1).map((w) => w.start)).toEqual([-1000]);
    expect(windowsContaining(tumbling(7), 20).map((w) => [w.start, w.end])).toEqual([[14, 21]]);
  });

  it('builds a window from its start and refuses a start off the grid', () => {
    expect(windowAt(spec, T0 + MIN).end).toBe(T0 + 2 * MIN);
    expect(() => windowAt(spec, T0 + 1)).toThrow(/not a start/);
    expect(() => windowAt(hopping(5 * MIN, MIN), T0 + 30_000)).toThrow(RangeError);
  });

  it('lists the windows that start in a range', () => {
    expect(windowsStartingIn(spec, T0, T0 + 3 * MIN).map((w) => w.start)).toEqual([
      T0,
      T0 + MIN,
      T0 + 2 * MIN,
    ]);
    expect(windowsStartingIn(spec, T0 + 1, T0 + 2 * MIN + 1).map((w) => w.start)).toEqual([
      T0 + MIN,
      T0 + 2 * MIN,
    ]);
    expect(windowsStartingIn(spec, T0, T0)).toEqual([]);
    expect(windowsStartingIn(hopping(5 * MIN, MIN), T0, T0 + 2 * MIN).map((w) => w.end)).toEqual([
      T0 + 5 * MIN,
      T0 + 6 * MIN,
    ]);
  });
});

describe('hopping overlap', () => {
  it('puts an instant in size/advance windows when the advance divides the size', () => {
    const spec = hopping(5 * MIN, MIN);
    expect(windowsPerInstant(spec)).toBe(5);
    const t = T0 + 2 * MIN + 30_000;
    expect(windowsContaining(spec, t).map((w) => (w.start - T0) / MIN)).toEqual([-2, -1, 0, 1, 2]);
    // On a boundary the oldest window has just ended and a new one just begun.
    expect(windowsContaining(spec, T0 + 5 * MIN).map((w) => (w.start - T0) / MIN)).toEqual([1, 2, 3, 4, 5]);
  });

  it('puts an instant in ⌊S/A⌋ or ⌈S/A⌉ windows otherwise', () => {
    const spec = hopping(10, 4);
    expect(windowsPerInstant(spec)).toBe(3);
    const counts = new Set<number>();
    for (let t = -50; t < 50; t++) counts.add(windowsContaining(spec, t).length);
    expect([...counts].sort()).toEqual([2, 3]);
  });

  it('agrees with brute force for many specs and instants', () => {
    const specs = [
      tumbling(1),
      tumbling(1000),
      hopping(10, 3),
      hopping(5000, 1000),
      hopping(7, 7),
      hopping(9, 2),
    ];
    for (const spec of specs) {
      for (const t of [-1001, -7, -1, 0, 1, 2, 6, 9, 999, 1000, 4999, 5000, 5001, T0, T0 + 12_345]) {
        const got = windowsContaining(spec, t);
        expect(
          got.map((w) => w.start),
          `${spec.kind} ${spec.sizeMs}/${spec.advanceMs} at ${t}`,
        ).toEqual(bruteContaining(spec, t));
        for (const w of got) expect(w.start <= t && t < w.end).toBe(true);
      }
    }
  });

  it('keeps every event in each window exactly once across a stream (sum over windows = events × overlap)', () => {
    const spec = hopping(5000, 1000);
    const perWindow = new Map<number, number>();
    for (let t = 0; t < 20_000; t += 7) {
      for (const w of windowsContaining(spec, t)) perWindow.set(w.start, (perWindow.get(w.start) ?? 0) + 1);
    }
    // A window wholly inside the stream holds every event of its 5 s.
    let inside = 0;
    for (let t = 0; t < 20_000; t += 7) if (t >= 5000 && t < 10_000) inside++;
    expect(perWindow.get(5000)).toBe(inside);
  });
});

describe('watermark, grace and lateness', () => {
  it('is the largest event time minus the allowed lateness, or none before the first event', () => {
    expect(watermarkOf(T0 + 10_000, 5_000)).toBe(T0 + 5_000);
    expect(watermarkOf(T0, 0)).toBe(T0);
    expect(watermarkOf(NO_WATERMARK, 5_000)).toBe(NO_WATERMARK);
  });

  it('closes a window when the watermark reaches its end plus grace, not before', () => {
    const w = windowAt(tumbling(MIN), T0);
    expect(closesAt(w, 10_000)).toBe(T0 + MIN + 10_000);
    expect(isClosed(w, T0 + MIN + 9_999, 10_000)).toBe(false);
    expect(isClosed(w, T0 + MIN + 10_000, 10_000)).toBe(true);
    expect(isClosed(w, T0 + MIN, 0)).toBe(true);
    expect(isClosed(w, T0 + MIN - 1, 0)).toBe(false);
    expect(isClosed(w, NO_WATERMARK, 0)).toBe(false);
    expect(isFinal(w, T0 + MIN + 10_000, 10_000)).toBe(true);
    expect(isFinal(w, T0 + MIN + 9_999, 10_000)).toBe(false);
  });

  it('never makes the newest event late, whatever lateness and grace', () => {
    for (const spec of [tumbling(1000), hopping(5000, 1000)]) {
      for (const lateness of [0, 1, 500]) {
        for (const t of [T0, T0 + 999, T0 + 1000]) {
          expect(splitByLateness(spec, t, watermarkOf(t, lateness), 0).late).toEqual([]);
        }
      }
    }
  });

  it('makes an event late only for the windows already closed (grace delays it)', () => {
    const spec = hopping(5000, 1000);
    // Seen up to 10.2 s, lateness 500 ms: watermark 9.7 s. An event at 6.5 s belongs to windows
    // starting at 2, 3, 4, 5, 6 s, ending at 7 … 11 s.
    const wm = watermarkOf(T0 + 10_200, 500);
    const noGrace = splitByLateness(spec, T0 + 6_500, wm, 0);
    expect(noGrace.late.map((w) => w.end - T0)).toEqual([7000, 8000, 9000]);
    expect(noGrace.open.map((w) => w.end - T0)).toEqual([10_000, 11_000]);
    const grace = splitByLateness(spec, T0 + 6_500, wm, 1_500);
    expect(grace.late.map((w) => w.end - T0)).toEqual([7000, 8000]);
    expect(grace.open.map((w) => w.end - T0)).toEqual([9000, 10_000, 11_000]);
    // Far behind: late for every window.
    expect(splitByLateness(spec, T0 + 1_000, wm, 1_500).open).toEqual([]);
    // The tumbling window of the same event.
    expect(splitByLateness(tumbling(1000), T0 + 6_500, wm, 0).late.map((w) => w.start - T0)).toEqual([6000]);
    expect(splitByLateness(tumbling(1000), T0 + 9_500, wm, 0).late).toEqual([]);
  });

  it('holds an out-of-order event within lateness + grace on time in every window', () => {
    const spec = hopping(5000, 1000);
    const lateness = 400;
    const grace = 600;
    for (let max = T0; max < T0 + 3000; max += 37) {
      for (let behind = 0; behind <= lateness + grace; behind += 50) {
        expect(splitByLateness(spec, max - behind, watermarkOf(max, lateness), grace).late).toEqual([]);
      }
    }
  });
});

describe('idleness and the finality frontier', () => {
  const now = 1_000_000;

  it('calls a partition idle only when fully consumed and quiet for the idle timeout', () => {
    expect(isIdle({ watermark: 5, caughtUp: true, lastActiveAt: now - 30_000 }, now, 30_000)).toBe(true);
    expect(isIdle({ watermark: 5, caughtUp: true, lastActiveAt: now - 29_999 }, now, 30_000)).toBe(false);
    // Behind on its log: never idle, however long since its last batch.
    expect(isIdle({ watermark: 5, caughtUp: false, lastActiveAt: now - 1e9 }, now, 30_000)).toBe(false);
    expect(isIdle({ watermark: 5, caughtUp: false, lastActiveAt: undefined }, now, 30_000)).toBe(false);
    // No records at all: idle at once.
    expect(isIdle({ watermark: NO_WATERMARK, caughtUp: true, lastActiveAt: undefined }, now, 30_000)).toBe(
      true,
    );
  });

  it('is the smallest watermark of the partitions that are not idle', () => {
    expect(
      finalityFrontier([
        { watermark: 100, idle: false },
        { watermark: 50, idle: false },
        { watermark: 10, idle: true },
        { watermark: NO_WATERMARK, idle: true },
      ]),
    ).toBe(50);
    // A partition that has not applied its first event yet holds everything back.
    expect(
      finalityFrontier([
        { watermark: 100, idle: false },
        { watermark: NO_WATERMARK, idle: false },
      ]),
    ).toBe(NO_WATERMARK);
  });

  it('is the largest watermark when every partition is idle, and none without partitions', () => {
    expect(
      finalityFrontier([
        { watermark: 100, idle: true },
        { watermark: 50, idle: true },
        { watermark: NO_WATERMARK, idle: true },
      ]),
    ).toBe(100);
    expect(finalityFrontier([])).toBe(NO_WATERMARK);
    expect(finalityFrontier([], 42)).toBe(42);
  });

  it('never goes back', () => {
    expect(finalityFrontier([{ watermark: 50, idle: false }], 80)).toBe(80);
    expect(finalityFrontier([{ watermark: 90, idle: false }], 80)).toBe(90);
  });

  it('makes a window final for the frontier exactly when it is closed for every counted partition', () => {
    const spec = tumbling(1000);
    const grace = 200;
    const parts = [
      { watermark: T0 + 3_500, idle: false },
      { watermark: T0 + 2_300, idle: false },
      { watermark: T0 + 100, idle: true },
    ];
    const frontier = finalityFrontier(parts);
    for (const w of windowsStartingIn(spec, T0 - 2000, T0 + 5000)) {
      const closedEverywhere = parts.filter((p) => !p.idle).every((p) => isClosed(w, p.watermark, grace));
      expect(isFinal(w, frontier, grace), w.id).toBe(closedEverywhere);
    }
  });
});

describe('clock skew', () => {
  const now = 1_800_000_000_000;
  const skew = 300_000;
  it('measures an event time against the earlier of the record time and now, up to the skew', () => {
    expect(isAhead(now + skew, now, now, skew)).toBe(false);
    expect(isAhead(now + skew + 1, now, now, skew)).toBe(true);
    // A producer whose clock runs an hour ahead cannot carry an event time through.
    expect(isAhead(now + 3_600_000, now + 3_600_000, now, skew)).toBe(true);
    // A record from an hour ago is measured against its own time: replays decide the same way.
    expect(isAhead(now - 3_600_000 + skew + 1, now - 3_600_000, now, skew)).toBe(true);
    expect(isAhead(now - 3_600_000 + skew, now - 3_600_000, now, skew)).toBe(false);
    // No record time (0): now alone.
    expect(isAhead(now + skew + 1, 0, now, skew)).toBe(true);
    expect(isAhead(now, 0, now, skew)).toBe(false);
  });
});
