/**
 * The analytics tests' shared setting: small windows (1 s tumbling, 5 s / 1 s hopping, 500 ms
 * lateness and grace) so a generated stream of a few thousand events spans many windows, a stream
 * with out-of-order and late events, and the oracle configured to match.
 */
import { generateEvents } from '../../examples/shop/generator.js';
import type { TributaryEvent } from './shop.js';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { readAnalyticsWindows, readLateCounts } from '../../lib/read-models/analytics.js';
import {
  analyticsOracle,
  hllEstimate,
  topPages,
  type AnalyticsOracle,
  type OracleSettings,
} from './analytics-oracle.js';

/** Event time of the first generated event. */
export const T0 = Date.UTC(2026, 0, 1);
/** Pages kept per window. */
export const TOP_N = 3;

/** The analytics settings of the tests, as environment variables. */
export const ANALYTICS_ENV = {
  TRIBUTARY_ANALYTICS_TUMBLING_MS: '1000',
  TRIBUTARY_ANALYTICS_HOPPING_SIZE_MS: '5000',
  TRIBUTARY_ANALYTICS_HOPPING_ADVANCE_MS: '1000',
  TRIBUTARY_ANALYTICS_ALLOWED_LATENESS_MS: '500',
  TRIBUTARY_ANALYTICS_GRACE_MS: '500',
  TRIBUTARY_ANALYTICS_RETENTION_MS: '3600000',
  TRIBUTARY_ANALYTICS_TOP_N: String(TOP_N),
  TRIBUTARY_ANALYTICS_IDLE_TIMEOUT_MS: '1500',
  TRIBUTARY_ANALYTICS_FINALIZE_INTERVAL_MS: '200',
} as const;

/** `count` generated events from T0, 10 ms apart, 10 % out of order by ≤ 1.5 s and 2 % late by 8 s. */
export function analyticsStream(seed: number, users: number, pages: number, count: number): TributaryEvent[] {
  return [
    ...generateEvents(
      {
        seed,
        users,
        pages,
        startTime: T0,
        intervalMs: 10,
        outOfOrderFraction: 0.1,
        outOfOrderMaxMs: 1_500,
        lateFraction: 0.02,
        lateByMs: 8_000,
      },
      count,
    ),
  ].map((g) => g.event);
}

/** The oracle of `events` under {@link ANALYTICS_ENV}'s windows. */
export function analyticsTestOracle(
  events: readonly TributaryEvent[],
  topicPrefix: string,
  partitions: number,
  extra: Pick<OracleSettings, 'aheadOf'> = {},
): AnalyticsOracle {
  return analyticsOracle(events, {
    ...extra,
    topicPrefix,
    partitions,
    tumblingMs: 1000,
    hoppingSizeMs: 5000,
    hoppingAdvanceMs: 1000,
    allowedLatenessMs: 500,
    graceMs: 500,
  });
}

/**
 * Asserts that every window of both kinds starting in `span` equals the oracle's (counts, revenue,
 * top pages, the HyperLogLog estimate of its visitors), that every oracle window is there, and
 * that the late counts agree.
 */
export async function expectWindowsAsOracle(
  source: { readonly redis: Redis; readonly keyPrefix: string },
  oracle: AnalyticsOracle,
  span: { readonly from: number; readonly to: number },
): Promise<void> {
  let compared = 0;
  for (const kind of ['tumbling', 'hopping'] as const) {
    for (const w of await readAnalyticsWindows(source, { kind, ...span })) {
      const o = oracle.windows.get(w.id);
      expect(w.events, w.id).toEqual(o?.events ?? {});
      expect(w.revenue, w.id).toEqual(o?.revenue ?? {});
      expect(w.topPages, w.id).toEqual(topPages(o?.pages ?? new Map(), TOP_N));
      const visitors = await hllEstimate(source.redis, `${source.keyPrefix}oracle-hll`, o?.visitors ?? []);
      expect(w.uniqueUsers, w.id).toBe(visitors);
      if (w.totalEvents > 0) compared++;
    }
  }
  expect(compared, 'windows with data').toBe(oracle.windows.size);
  expect(await readLateCounts(source)).toEqual(oracle.lateByKind);
}
