/** What one runtime's analytics batches and its finalizer share, in memory. */
import { NO_WATERMARK } from './windows.js';

export class AnalyticsState {
  /**
   * The finality frontier as this process knows it: a floor under every partition's watermark
   * when a batch decides what is late, so a window the finalizer may emit is closed everywhere,
   * also in a partition that was idle (excluded from the frontier) and wakes up.
   */
  frontier = NO_WATERMARK;
  /** Largest event time per partition (by hash tag), as the last applied batch stored it. */
  readonly maxEventTime = new Map<string, number>();
  /**
   * Counts {@link reset}s. A finalizer run notes it when it starts reading Redis and raises the
   * frontier only if it is unchanged: what it read before a loss must not come back after it.
   */
  epoch = 0;

  /**
   * Forgets what was read from Redis, after Redis lost writes: the frontier and the largest event
   * times are read again (`restore`), from what Redis holds now.
   */
  reset(): void {
    this.frontier = NO_WATERMARK;
    this.maxEventTime.clear();
    this.epoch++;
  }

  /**
   * Moves the frontier up to `frontier` (never down); with `epoch`, only if no reset came since
   * that epoch (the value was read from Redis as it was then).
   */
  raiseFrontier(frontier: number, epoch = this.epoch): void {
    if (epoch === this.epoch && frontier > this.frontier) this.frontier = frontier;
  }
}
