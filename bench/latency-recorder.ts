/**
 * Latency and throughput as the bench records them: an HdrHistogram of the whole measurement
 * (microseconds, 3 significant digits) plus one small histogram and one event count per second,
 * so a report can give exact percentiles and a chart can show how they moved over time.
 */
import * as hdr from 'hdr-histogram-js';

/** Percentiles of a latency distribution, in milliseconds. */
export interface LatencySummary {
  readonly unit: 'ms';
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** One second of a run: what was completed in it and how long it took. */
export interface TimelineSample {
  /** Seconds since the measurement started (the sample covers [t, t + 1)). */
  readonly t: number;
  readonly eventsPerSecond: number;
  /** Latency percentiles of the events completed in this second, ms (0 when none). */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Resident set size at the end of the second, MB: this process's, or the run's processes' sum. */
  readonly rssMB: number;
}

/** 32-bit counts: recording is a plain array increment (packed arrays cost more per record). */
function newHistogram(): hdr.Histogram {
  return hdr.build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3, autoResize: true });
}

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

/**
 * Summarises a histogram of microsecond values in milliseconds. A percentile is the top of its
 * bucket (3 significant digits), which can lie a hair above the largest value: it is capped there.
 */
export function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { unit: 'ms', count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  const max = h.maxValue;
  const at = (q: number) => round(Math.min(h.getValueAtPercentile(q), max) / 1000);
  return {
    unit: 'ms',
    count: h.totalCount,
    mean: round(h.mean / 1000),
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: round(max / 1000),
  };
}

/**
 * Records completions (an event acknowledged, applied, …) with their latency. Call
 * {@link LatencyRecorder.start} when the measurement begins; completions before it (warm-up)
 * are ignored. Time is `Date.now()` milliseconds, as record timestamps are.
 */
export class LatencyRecorder {
  private readonly total = newHistogram();
  private readonly perSecond: { histogram: hdr.Histogram; events: number; rssMB: number }[] = [];
  private startedAt: number | undefined;
  private lastAt: number | undefined;
  private completions = 0;

  /** Starts the measurement window at `at` (default now). */
  start(at = Date.now()): void {
    this.startedAt = at;
  }

  /** When the measurement started, or undefined during warm-up. */
  get started(): number | undefined {
    return this.startedAt;
  }

  /** Completions counted since the start. */
  get count(): number {
    return this.completions;
  }

  /** Time of the last completion counted (ms), or undefined. */
  get last(): number | undefined {
    return this.lastAt;
  }

  /** Counts `count` completions at `at` that each took `latencyMs`; ignored before the start. */
  record(latencyMs: number, at = Date.now(), count = 1): void {
    if (this.startedAt === undefined || at < this.startedAt) return;
    const us = Math.max(1, Math.round(latencyMs * 1000));
    this.total.recordValueWithCount(us, count);
    const second = this.bucket(at);
    second.histogram.recordValueWithCount(us, count);
    second.events += count;
    this.completions += count;
    this.lastAt = this.lastAt === undefined ? at : Math.max(this.lastAt, at);
  }

  /** Counts completions whose latency is not measured (throughput only). */
  countOnly(count: number, at = Date.now()): void {
    if (this.startedAt === undefined || at < this.startedAt) return;
    this.bucket(at).events += count;
    this.completions += count;
    this.lastAt = this.lastAt === undefined ? at : Math.max(this.lastAt, at);
  }

  /**
   * Notes an RSS for the current second (call about once a second): this process's, or `rssMB`
   * when the run spans several processes.
   */
  sampleMemory(at = Date.now(), rssMB = process.memoryUsage.rss() / 1024 / 1024): number {
    if (this.startedAt !== undefined && at >= this.startedAt) {
      const second = this.bucket(at);
      second.rssMB = Math.max(second.rssMB, rssMB);
    }
    return rssMB;
  }

  /** Percentiles over the whole measurement. */
  summary(): LatencySummary {
    return summarize(this.total);
  }

  /** The p99 of the last completed second, for the progress bar. */
  recentP99(at = Date.now()): number {
    if (this.startedAt === undefined) return 0;
    const s = this.perSecond[Math.floor((at - this.startedAt) / 1000) - 1];
    return s && s.histogram.totalCount > 0 ? round(s.histogram.getValueAtPercentile(99) / 1000, 1) : 0;
  }

  /** One sample per second from the start to the last completion. */
  timeline(): TimelineSample[] {
    const out: TimelineSample[] = [];
    let rss = 0;
    for (let t = 0; t < this.perSecond.length; t++) {
      const s = this.perSecond[t]!;
      const sum = summarize(s.histogram);
      rss = s.rssMB > 0 ? s.rssMB : rss;
      out.push({
        t,
        eventsPerSecond: s.events,
        p50: sum.p50,
        p99: sum.p99,
        max: sum.max,
        rssMB: round(rss, 1),
      });
    }
    return out;
  }

  /** Frees the WebAssembly or packed memory of the histograms. */
  destroy(): void {
    this.total.destroy();
    for (const s of this.perSecond) s.histogram.destroy();
  }

  private bucket(at: number): { histogram: hdr.Histogram; events: number; rssMB: number } {
    const index = Math.floor((at - this.startedAt!) / 1000);
    for (let i = this.perSecond.length; i <= index; i++) {
      this.perSecond.push({ histogram: newHistogram(), events: 0, rssMB: 0 });
    }
    return this.perSecond[index]!;
  }
}
