/**
 * What an app's synthetic event generator is: a deterministic stream for a seed, used by
 * `tributary generate`, the demo and the bench. Apps declare one in `defineApp({ generator })`.
 */
import type { AppEvent } from '../schemas/catalog.js';

/** The options every generator is called with; an app's own may take more. */
export interface GeneratorOptions {
  /** Seed of the pseudo-random stream. */
  readonly seed: number;
  /** Distinct entities (users, customers…). */
  readonly users?: number;
  /** Event time of the first event, epoch ms. */
  readonly startTime?: number;
  /** Event-time spacing of consecutive events, ms (1000 / rate). */
  readonly intervalMs?: number;
  /** Fraction of events whose event time is a little behind the stream. */
  readonly outOfOrderFraction?: number;
  /** Fraction of events that arrive late, far behind the stream. */
  readonly lateFraction?: number;
}

/** An app's generator: an endless (or long) stream of its events. */
export type EventGenerator = (
  options: GeneratorOptions,
) => Iterator<{ readonly event: AppEvent<string, object> }>;
