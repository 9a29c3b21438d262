/**
 * Drives a publisher for warm-up + duration, either open loop at a fixed rate or closed loop at
 * the most it takes.
 *
 * Open loop (`rate`): event i is *intended* at `t0 + i / rate`. Every tick sends what is due,
 * whether or not earlier sends were acknowledged, and latency is measured from the intended
 * time, so a stall anywhere (GC, broker, event loop) shows up as latency of every event that
 * should have gone out meanwhile, instead of silently lowering the rate: the coordinated
 * omission correction of the OpenMessaging Benchmark and wrk2.
 *
 * Closed loop (`rate` undefined, `--max`): keeps a window of events in flight; latency runs from
 * the hand-over to the acknowledgement.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppEvent as TributaryEvent } from '../schemas/catalog.js';
import type { EventFactory } from './bench-events.js';
import type { LatencyRecorder } from './latency-recorder.js';

export interface DriveOptions {
  /** Events per second (open loop); undefined runs closed loop at the maximum. */
  readonly rate: number | undefined;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly next: EventFactory;
  /** Hands events over; resolves when all are acknowledged. */
  readonly publish: (events: TributaryEvent[]) => Promise<unknown>;
  /** Called with each event and its intended send time just before it is handed over. */
  readonly onSend?: (event: TributaryEvent, intendedMs: number) => void;
  /** Acknowledgement latency goes here (events intended before the window opens are ignored). */
  readonly acks?: LatencyRecorder;
  /** Most events in flight; beyond it the driver waits (its intended times keep running). */
  readonly maxInFlight?: number;
  /** Events per `publish` call. Default 500. */
  readonly chunk?: number;
  /** Closed loop only: while this returns false the driver waits (e.g. consumers lag too far). */
  readonly gate?: () => boolean;
  /** Stop after this many events (the duration still bounds the run). */
  readonly limit?: number;
  /** Called once with the time the measurement window opens (after warm-up). */
  readonly onStart?: (measureFrom: number) => void;
  /** Called about every 250 ms. */
  readonly onTick?: (state: DriveState) => void;
}

export interface DriveState {
  readonly startedAt: number;
  /** When the measurement window opens (after warm-up). */
  readonly measureFrom: number;
  readonly sent: number;
  readonly acked: number;
  readonly failed: number;
  readonly inFlight: number;
  /** Events sent with an intended time inside the measurement window. */
  readonly measuredSent: number;
  /** Time the last event was handed over. */
  readonly stoppedAt: number;
  readonly firstError?: string;
}

/** Runs the load; resolves once every event handed over has been acknowledged or failed. */
export async function drive(options: DriveOptions): Promise<DriveState> {
  const chunk = options.chunk ?? 500;
  const maxInFlight = options.maxInFlight ?? 200_000;
  const limit = options.limit ?? Infinity;
  const startedAt = Date.now();
  const measureFrom = startedAt + options.warmupMs;
  const endAt = measureFrom + options.durationMs;
  options.acks?.start(measureFrom);
  options.onStart?.(measureFrom);
  const pending = new Set<Promise<unknown>>();
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let measuredSent = 0;
  let firstError: string | undefined;
  let wake: (() => void) | undefined;
  let lastTick = 0;

  const state = (): DriveState => ({
    startedAt,
    measureFrom,
    sent,
    acked,
    failed,
    inFlight: sent - acked - failed,
    measuredSent,
    stoppedAt: Math.min(Date.now(), endAt),
    ...(firstError !== undefined && { firstError }),
  });

  const send = (events: TributaryEvent[], intended: number[]): void => {
    for (let i = 0; i < events.length; i++) {
      options.onSend?.(events[i]!, intended[i]!);
      if (intended[i]! >= measureFrom) measuredSent++;
    }
    sent += events.length;
    const p = options.publish(events).then(
      () => {
        const at = Date.now();
        acked += events.length;
        const acks = options.acks;
        if (acks) for (const t of intended) if (t >= measureFrom) acks.record(at - t, at);
      },
      (err: unknown) => {
        failed += events.length;
        firstError ??= err instanceof Error ? err.message : String(err);
      },
    );
    pending.add(p);
    void p.finally(() => {
      pending.delete(p);
      wake?.();
    });
  };

  const waitForRoom = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 5);
    });
    wake = undefined;
  };

  for (;;) {
    const now = Date.now();
    if (now - lastTick >= 250) {
      lastTick = now;
      options.onTick?.(state());
    }
    if (now >= endAt || firstError !== undefined || sent >= limit) break;
    if (sent - acked - failed >= maxInFlight || (options.rate === undefined && options.gate?.() === false)) {
      await waitForRoom();
      continue;
    }
    if (options.rate !== undefined) {
      // Everything due by now (capped at the end of the run), in chunks, each with its own times.
      const due = Math.min(
        Math.floor(((now - startedAt) * options.rate) / 1000) + 1,
        Math.ceil(((endAt - startedAt) * options.rate) / 1000),
        limit,
      );
      const room = Math.max(0, maxInFlight - (sent - acked - failed));
      let n = Math.min(due - sent, room);
      while (n > 0) {
        const size = Math.min(chunk, n);
        const events: TributaryEvent[] = new Array(size);
        const intended: number[] = new Array(size);
        for (let i = 0; i < size; i++) {
          const t = startedAt + ((sent + i) * 1000) / options.rate;
          intended[i] = t;
          events[i] = options.next(Math.round(t));
        }
        send(events, intended);
        n -= size;
      }
      // Sleep until the next event is due (timers are ~1 ms granular; a late wake only bunches events).
      const nextDue = startedAt + (sent * 1000) / options.rate;
      await sleep(Math.max(0, Math.min(5, nextDue - Date.now())));
    } else {
      const size = Math.min(chunk, maxInFlight - (sent - acked - failed), limit - sent);
      const events: TributaryEvent[] = new Array(size);
      const intended: number[] = new Array(size).fill(now);
      for (let i = 0; i < size; i++) events[i] = options.next(now);
      send(events, intended);
      // Let acknowledgements and the consumers in this process run between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  while (pending.size > 0) await Promise.allSettled([...pending]);
  options.onTick?.(state());
  return state();
}
