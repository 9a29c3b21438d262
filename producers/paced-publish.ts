/**
 * Open-loop pacing of a generated stream: every tick, the events due by the clock are published,
 * whether or not earlier batches have been acknowledged, so a stall shows up as a burst (and as
 * latency) rather than as a quietly lower rate. Backpressure still bounds memory: the
 * publisher's in-flight budget makes `publishBatch` wait when too much is unacknowledged.
 */
import type { AppEvent } from '../schemas/catalog.js';
import type { Publisher } from './publisher.js';

export interface PacedProgress {
  readonly sent: number;
  readonly failed: number;
  readonly inFlight: number;
  readonly elapsedMs: number;
}

export interface PacedOptions {
  readonly publisher: Publisher;
  readonly events: Iterator<{ readonly event: AppEvent<string, object> }>;
  /** Events per second. */
  readonly rate: number;
  /** Stop after this many events (default: never). */
  readonly limit?: number;
  /** Stop when this aborts. */
  readonly signal?: AbortSignal;
  /** Called about once a second. */
  readonly onProgress?: (p: PacedProgress) => void;
  /** Called for each failed batch (the events are counted as failed, never retried silently). */
  readonly onError?: (err: unknown, count: number) => void;
}

/** Publishes until `limit` or `signal`; resolves with the totals once everything in flight settled. */
export async function publishPaced(options: PacedOptions): Promise<PacedProgress> {
  const { publisher, events, rate } = options;
  const limit = options.limit ?? Infinity;
  const started = Date.now();
  const inFlight = new Set<Promise<unknown>>();
  let due = 0;
  let sent = 0;
  let failed = 0;
  let lastReport = started;
  const progress = (): PacedProgress => ({
    sent,
    failed,
    inFlight: inFlight.size,
    elapsedMs: Date.now() - started,
  });
  while (!options.signal?.aborted && due < limit) {
    const target = Math.min(limit, Math.floor(((Date.now() - started) / 1000) * rate));
    const batch: AppEvent<string, object>[] = [];
    while (due < target) {
      const next = events.next();
      if (next.done) break;
      batch.push(next.value.event);
      due++;
    }
    if (batch.length > 0) {
      const p = publisher
        .publishBatch(batch)
        .then(() => (sent += batch.length))
        .catch((err: unknown) => {
          failed += batch.length;
          options.onError?.(err, batch.length);
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    if (Date.now() - lastReport >= 1000) {
      lastReport = Date.now();
      options.onProgress?.(progress());
    }
    if (due < target) break; // the stream ended
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(inFlight);
  return progress();
}
