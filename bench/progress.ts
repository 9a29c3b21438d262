/**
 * The live progress bar of a bench phase (cli-progress, on stderr): how far along, events/s over
 * the last second, and the last second's p99. Off when stderr is not a terminal or when asked.
 */
import cliProgress from 'cli-progress';

export interface PhaseProgress {
  /** `done` out of the phase's total; `eventsPerSecond` and the p99 (computed only when drawn). */
  update(done: number, eventsPerSecond: number, p99Ms?: () => number): void;
  stop(): void;
}

const none: PhaseProgress = { update: () => undefined, stop: () => undefined };

/** A bar for one phase; `unit` names what `total` counts (`s`, `events`). */
export function phaseProgress(enabled: boolean, label: string, total: number, unit: string): PhaseProgress {
  if (!enabled || !process.stderr.isTTY) return none;
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(18)} {bar} {value}/{total} ${unit} | {eps} events/s | p99 {p99} ms`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, Math.round(total)), 0, { eps: '0', p99: '–' });
  let last = 0;
  return {
    update(done, eventsPerSecond, p99) {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      const p99Ms = p99?.();
      bar.update(Math.min(Math.round(done), Math.max(1, Math.round(total))), {
        eps: Math.round(eventsPerSecond).toLocaleString('en-US'),
        p99: p99Ms === undefined || p99Ms === 0 ? '–' : p99Ms.toFixed(1),
      });
    },
    stop() {
      bar.stop();
    },
  };
}

/** Events/s over a sliding window of about one second, from a running total. */
export class RateMeter {
  private samples: [number, number][] = [];

  /** Adds the running total at `at` and returns the rate over the last second. */
  rate(total: number, at = Date.now()): number {
    this.samples.push([at, total]);
    while (this.samples.length > 2 && at - this.samples[1]![0] >= 1000) this.samples.shift();
    const [t0, n0] = this.samples[0]!;
    return at > t0 ? ((total - n0) * 1000) / (at - t0) : 0;
  }
}
