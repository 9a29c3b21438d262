/**
 * The analytics routes and the live stream on the real stack, with the real analytics consumer
 * group: a generated stream (page views out of order and late included) is windowed by the group,
 * then read over HTTP and compared window by window with the oracle computed from the events
 * (test/helpers/analytics-oracle.ts); the group's own live updates (`batch`) and final windows
 * (`final`) arrive on `GET /stream`.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { analyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import type { QueryService } from '../../query/service.js';
import {
  ANALYTICS_ENV,
  T0,
  TOP_N,
  analyticsStream,
  analyticsTestOracle,
} from '../helpers/analytics-fixture.js';
import {
  addAmounts,
  topPages,
  type AnalyticsOracle,
  type OracleWindow,
} from '../helpers/analytics-oracle.js';
import {
  QUERY_KEY,
  buildReadModels,
  queryFixture,
  serveQuery,
  type QueryFixture,
} from '../helpers/query-fixture.js';
import { collectText } from '../helpers/cli.js';
import { until } from '../helpers/until.js';

interface Answer {
  from: number;
  to: number;
  window: { kind: string; sizeMs: number; advanceMs: number } | null;
  windows: ({ start: number; end: number; final: boolean } & Record<string, unknown>)[];
  total: ({ from: number; to: number; final: boolean } & Record<string, unknown>) | null;
}

async function get(service: QueryService, path: string): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${service.url}${path}`, { headers: { 'x-api-key': QUERY_KEY } });
  return { status: res.status, body: (await res.json()) as Answer };
}

/**
 * What Redis's HyperLogLog estimates for exactly these visitors (from the oracle, not from the
 * group's keys): PFCOUNT of a union equals PFCOUNT of one HyperLogLog of all its elements, so the
 * group's answer must equal this. (The estimate itself may be a few percent off the exact count
 * at small counts: 72 for 75 visitors in one window of this stream.)
 */
async function estimate(f: QueryFixture, visitors: Iterable<string>): Promise<number> {
  const key = `${f.prefix}oracle-hll`;
  const members = [...visitors];
  await f.redis.del(key);
  if (members.length === 0) return 0;
  await f.redis.pfadd(key, ...members);
  return f.redis.pfcount(key);
}

/** The oracle's window of `kind` starting at `start`, if it has data. */
function oracleWindow(oracle: AnalyticsOracle, kind: string, start: number): OracleWindow | undefined {
  return [...oracle.windows.values()].find((w) => w.kind === kind && w.start === start);
}

describe('query service: analytics', () => {
  it('serves every window and total as the oracle computes them, and streams the group updates', async () => {
    const f = await queryFixture(ANALYTICS_ENV);
    const service = await serveQuery(f);

    // Before the group has run: no windows, said plainly.
    const before = await get(service, '/analytics/counts');
    expect(before).toEqual({
      status: 200,
      body: { from: expect.any(Number), to: expect.any(Number), window: null, windows: [], total: null },
    });

    // The stream, open before the group starts.
    const controller = new AbortController();
    onTestFinished(() => controller.abort());
    const stream = await fetch(`${service.url}/stream`, {
      headers: { 'x-api-key': QUERY_KEY },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    const streamed = collectText(stream.body!);

    const events = analyticsStream(31, 150, 30, 8_000);
    const oracle = analyticsTestOracle(events, f.config.topics.prefix, f.partitions);
    await buildReadModels(f, events, [analyticsProjection]);

    const span = `from=${T0 - 30_000}&to=${T0 + 120_000}`;
    const finalCount = async () =>
      (await get(service, `/analytics/counts?${span}`)).body.windows.filter((w) => w.final && w.totalEvents)
        .length;
    const finalWithData = oracle.finalWindows.filter((id) => id.startsWith('tumbling:')).length;
    expect(finalWithData).toBeGreaterThan(50);
    await until(async () => (await finalCount()) === finalWithData, 'the final frontier', {
      timeoutMs: 30_000,
    });

    for (const [window, kind] of [
      ['tumbling', 'tumbling'],
      ['hopping', 'hopping'],
      ['1s', 'tumbling'],
      ['5000', 'hopping'],
    ] as const) {
      const q = `${span}&window=${window}`;
      const [counts, users, revenue, pages] = await Promise.all([
        get(service, `/analytics/counts?${q}`),
        get(service, `/analytics/unique-users?${q}`),
        get(service, `/analytics/revenue?${q}`),
        get(service, `/analytics/top-pages?${q}&limit=${TOP_N}`),
      ]);
      for (const answer of [counts, users, revenue, pages]) {
        expect(answer.status).toBe(200);
        expect(answer.body.window).toEqual({
          kind,
          sizeMs: kind === 'tumbling' ? 1000 : 5000,
          advanceMs: 1000,
        });
        expect(answer.body.windows).toHaveLength(150);
      }
      expect(counts.body.windows.filter((w) => (w.totalEvents as number) > 0).length).toBe(
        [...oracle.windows.values()].filter((w) => w.kind === kind).length,
      );
      for (const [i, w] of counts.body.windows.entries()) {
        const want = oracleWindow(oracle, kind, w.start);
        const what = `${kind} ${w.start}`;
        const events = want?.events ?? {};
        expect(w.end - w.start, what).toBe(kind === 'tumbling' ? 1000 : 5000);
        expect(w.events, what).toEqual(events);
        expect(w.totalEvents, what).toBe(Object.values(events).reduce((a, b) => a + b, 0));
        expect(w.orders, what).toEqual({ placed: events.OrderPlaced ?? 0, paid: events.OrderPaid ?? 0 });
        expect(w.final, what).toBe(w.end + 500 <= oracle.finalFrontier);
        expect(revenue.body.windows[i]).toMatchObject({
          revenue: want?.revenue ?? {},
          ordersPaid: events.OrderPaid ?? 0,
        });
        expect(pages.body.windows[i]!.topPages, what).toEqual(topPages(want?.pages ?? new Map(), TOP_N));
        const unique = users.body.windows[i]!.uniqueUsers as number;
        expect(unique, what).toBe(await estimate(f, want?.visitors ?? []));
        const exact = want?.visitors.size ?? 0;
        expect(Math.abs(unique - exact), `${what}: ${unique} for ${exact}`).toBeLessThanOrEqual(
          Math.max(1, exact * 0.05),
        );
      }

      // The range's total: every tumbling window merged (a user in several windows counts once).
      const tumbling = [...oracle.windows.values()].filter((w) => w.kind === 'tumbling');
      const events: Record<string, number> = {};
      const allPages = new Map<string, number>();
      const visitors = new Set<string>();
      for (const w of tumbling) {
        for (const [t, n] of Object.entries(w.events)) events[t] = (events[t] ?? 0) + n;
        for (const [p, n] of w.pages) allPages.set(p, (allPages.get(p) ?? 0) + n);
        for (const v of w.visitors) visitors.add(v);
      }
      expect(counts.body.total).toMatchObject({ from: T0 - 30_000, to: T0 + 120_000, final: false, events });
      expect(revenue.body.total).toMatchObject({ revenue: addAmounts(tumbling.map((w) => w.revenue)) });
      expect(pages.body.total!.topPages).toEqual(topPages(allPages, TOP_N));
      expect(users.body.total!.uniqueUsers).toBe(await estimate(f, visitors));
    }

    // A size the group does not keep, and a range of too many windows: 400 naming the parameter.
    const unknown = await fetch(`${service.url}/analytics/counts?${span}&window=7s`, {
      headers: { 'x-api-key': QUERY_KEY },
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({
      fields: [
        {
          path: 'querystring.window',
          message: 'no 7s windows: the analytics group keeps tumbling 1s and hopping 5s every 1s',
        },
      ],
    });
    const long = await fetch(`${service.url}/analytics/unique-users?from=${T0}&to=${T0 + 3_000_000}`, {
      headers: { 'x-api-key': QUERY_KEY },
    });
    expect(long.status).toBe(400);
    expect(await long.json()).toMatchObject({ fields: [{ path: 'querystring.from' }] });

    // The stream carried the group's batch updates and its final windows, as they happened.
    await until(async () => streamed.text().includes('event: final'), 'a final window on the stream', {
      timeoutMs: 10_000,
    });
    expect(streamed.text()).toMatch(/^event: batch\ndata: \{"type":"batch","topic":"[^"]+","partition":\d/m);
    const finals = [...streamed.text().matchAll(/^event: final\ndata: (.*)$/gm)].map(
      (m) => (JSON.parse(m[1]!) as { window: { id: string } }).window.id,
    );
    expect(new Set(finals).size).toBe(finals.length);
    for (const id of finals) expect(oracle.finalWindows).toContain(id);
  });
});
