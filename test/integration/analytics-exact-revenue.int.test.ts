/**
 * Revenue past 2^53, end to end on the real stack: `OrderPaid` events of up to 9e15 minor units in
 * every partition of one window (each partition's stored sum stays a safe integer, as the offset
 * fence requires, but their merge does not) go through Kafka and the real analytics group, and
 * every output is compared, digit for digit, with sums the test computes with BigInt from the
 * amounts it sent: the reader, `GET /analytics/revenue` (and its OpenAPI schema), the live stream's
 * `final` windows, `tributary query revenue` (table and `--json`) and `analytics.windows` (Avro).
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { analyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import { dlqTopic } from '../../lib/names.js';
import type { TributaryConfig } from '../../lib/config.js';
import {
  readAnalyticsTotals,
  readAnalyticsView,
  readAnalyticsWindows,
} from '../../lib/read-models/analytics.js';
import { WindowResultCodec } from '../../schemas/analytics-window.js';
import { createEvent, type TributaryEvent } from '../helpers/shop.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { ANALYTICS_ENV, T0 } from '../helpers/analytics-fixture.js';
import { addAmounts, analyticsOracle, partitionFor } from '../helpers/analytics-oracle.js';
import { QUERY_KEY, buildReadModels, queryFixture, serveQuery } from '../helpers/query-fixture.js';
import { collectText, runCli } from '../helpers/cli.js';
import { readTopic } from '../helpers/read-topic.js';
import { uid } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

/** `tributary query …` from the sources (as query-cli.int.test.ts runs it): its stdout. */
async function cli(config: TributaryConfig, ...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await runCli(config, args);
  expect(code, stderr).toBe(0);
  return stdout;
}

/** The largest long avsc encodes as a JS number (it refuses 2^53 − 1 itself). */
const NEAR_MAX = 9_007_199_254_740_990;
const AMOUNT = 9_000_000_000_000_000;

describe('analytics revenue past 2^53', () => {
  it('is exact in the reader, over HTTP, on the stream, in the CLI and on analytics.windows', async () => {
    const f = await queryFixture(ANALYTICS_ENV);
    const service = await serveQuery(f);
    const run = uid();
    // One user per partition of `orders` (keyed by user id).
    const users = [0, 1, 2].map((p) => {
      for (let i = 0; ; i++) if (partitionFor(`${run}-u${i}`, f.partitions) === p) return `${run}-u${i}`;
    });
    let n = 0;
    const paid = (p: number, amount: number, currency: string, at: number): TributaryEvent =>
      createEvent(
        'OrderPaid',
        {
          orderId: `${run}-o${n}`,
          userId: users[p]!,
          amount,
          currency,
          paymentMethod: 'CARD',
          paymentId: `${run}-pay${n++}`,
        },
        T0 + at,
      ) as TributaryEvent;
    // Window [T0, T0+1s): every partition near 2^53 in EUR (partition 1: 9e15 + 7, still safe).
    // Window [T0+6s, T0+7s): 6 s later, so no 5 s hopping window holds both in one partition.
    const events: TributaryEvent[] = [
      paid(0, NEAR_MAX, 'EUR', 100),
      paid(1, AMOUNT, 'EUR', 200),
      paid(1, 7, 'EUR', 300),
      paid(2, AMOUNT, 'EUR', 400),
      paid(0, AMOUNT, 'EUR', 6_100),
      paid(1, AMOUNT, 'EUR', 6_200),
      paid(2, AMOUNT, 'USD', 6_300),
      paid(0, 5, 'USD', 6_400),
      // A later page view moves the frontier past every window above.
      createEvent(
        'PageViewed',
        {
          userId: users[0]!,
          sessionId: 's',
          url: 'https://x.example/p',
          path: '/p',
          referrer: null,
          userAgent: null,
        },
        T0 + 20_000,
      ) as TributaryEvent,
    ];
    // The BigInt oracle, from the amounts above.
    const first = { EUR: (BigInt(NEAR_MAX) + BigInt(AMOUNT) + 7n + BigInt(AMOUNT)).toString() };
    expect(first.EUR).toBe('27007199254740997');
    expect(String(NEAR_MAX + AMOUNT + 7 + AMOUNT)).not.toBe(first.EUR); // what numbers would say
    const second = { EUR: (2n * BigInt(AMOUNT)).toString(), USD: (BigInt(AMOUNT) + 5n).toString() };
    const total = { EUR: (BigInt(first.EUR) + BigInt(second.EUR)).toString(), USD: second.USD };
    // Every window, tumbling and hopping, from the window oracle (BigInt sums of the events).
    const oracle = analyticsOracle(events, {
      topicPrefix: f.config.topics.prefix,
      partitions: f.partitions,
      tumblingMs: 1000,
      hoppingSizeMs: 5000,
      hoppingAdvanceMs: 1000,
      allowedLatenessMs: 500,
      graceMs: 500,
    });
    expect(oracle.windows.get(`tumbling:1000:1000:${T0}`)?.revenue).toEqual(first);
    expect(oracle.windows.get(`tumbling:1000:1000:${T0 + 6_000}`)?.revenue).toEqual(second);

    const controller = new AbortController();
    onTestFinished(() => controller.abort());
    const stream = await fetch(`${service.url}/stream?events=final`, {
      headers: { 'x-api-key': QUERY_KEY },
      signal: controller.signal,
    });
    const streamed = collectText(stream.body!);

    await buildReadModels(f, events, [analyticsProjection]);
    const source = { redis: f.redis, keyPrefix: f.prefix };
    await until(async () => (await readAnalyticsView(source))?.frontier === T0 + 19_500, 'the frontier', {
      timeoutMs: 30_000,
    });
    // Nothing was dead-lettered: every per-partition sum is within its bound.
    expect(await readTopic(f.config, dlqTopic(`${f.config.topics.prefix}orders`))).toEqual([]);

    // The reader: every window as the oracle, and the range's total.
    const span = { from: T0 - 5_000, to: T0 + 10_000 };
    for (const kind of ['tumbling', 'hopping'] as const) {
      for (const w of await readAnalyticsWindows(source, { kind, ...span })) {
        expect(w.revenue, w.id).toEqual(oracle.windows.get(w.id)?.revenue ?? {});
      }
    }
    const totals = await readAnalyticsTotals(source, span);
    expect(totals?.revenue).toEqual(total);
    expect(totals?.orders.paid).toBe(8);

    // HTTP: strings in the JSON text itself, not numbers that a parser would round.
    const res = await fetch(`${service.url}/analytics/revenue?from=${span.from}&to=${span.to}`, {
      headers: { 'x-api-key': QUERY_KEY },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('"EUR":"27007199254740997"');
    const body = JSON.parse(text) as {
      windows: { start: number; revenue: Record<string, string>; ordersPaid: number }[];
      total: { revenue: Record<string, string> };
    };
    for (const w of body.windows) {
      expect(w.revenue, String(w.start)).toEqual(
        oracle.windows.get(`tumbling:1000:1000:${w.start}`)?.revenue ?? {},
      );
    }
    expect(body.total.revenue).toEqual(total);
    expect(body.total.revenue).toEqual(addAmounts(body.windows.map((w) => w.revenue)));
    const hopping = (await (
      await fetch(`${service.url}/analytics/revenue?from=${span.from}&to=${span.to}&window=hopping`, {
        headers: { 'x-api-key': QUERY_KEY },
      })
    ).json()) as typeof body;
    for (const w of hopping.windows) {
      expect(w.revenue, String(w.start)).toEqual(
        oracle.windows.get(`hopping:5000:1000:${w.start}`)?.revenue ?? {},
      );
    }
    // The OpenAPI schema says so.
    const openapi = (await (await fetch(`${service.url}/openapi.json`)).json()) as {
      paths: Record<string, { get: { responses: Record<string, unknown> } }>;
    };
    const schema = JSON.stringify(openapi.paths['/analytics/revenue']!.get.responses['200']);
    expect(schema).toContain('"revenue":{"type":"object","description":"Minor units per ISO 4217');
    expect(schema).toContain('"additionalProperties":{"type":"string","pattern":"^-?(0|[1-9][0-9]*)$"}');

    // The live stream: each final window as the reader gives it.
    const finals = () =>
      [...streamed.text().matchAll(/^event: final\ndata: (.*)$/gm)].map(
        (m) => (JSON.parse(m[1]!) as { window: { id: string; revenue: Record<string, string> } }).window,
      );
    await until(
      async () => finals().some((w) => w.id === `tumbling:1000:1000:${T0 + 6_000}`),
      'final windows',
      {
        timeoutMs: 15_000,
      },
    );
    for (const w of finals()) expect(w.revenue, w.id).toEqual(oracle.windows.get(w.id)?.revenue ?? {});

    // The CLI: JSON as the HTTP answer, and the table's money digit for digit.
    const range = ['--from', String(span.from), '--to', String(span.to)];
    const json = JSON.parse(await cli(f.config, 'query', 'revenue', ...range, '--json')) as typeof body;
    expect(json.total.revenue).toEqual(total);
    const table = await cli(f.config, 'query', 'revenue', ...range);
    expect(table).toMatch(/^2026-01-01T00:00:00\.000Z .* 270071992547409\.97 EUR$/m);
    expect(table).toMatch(/^2026-01-01T00:00:06\.000Z .* 180000000000000\.00 EUR, 90000000000000\.05 USD$/m);
    expect(table).toContain('revenue 450071992547409.97 EUR, 90000000000000.05 USD');

    // analytics.windows: every final window with data, exact, through the registry's writer schema.
    const windowsTopic = `${f.config.topics.prefix}${'analytics.windows'}`;
    const withData = oracle.finalWindows;
    await until(async () => (await readTopic(f.config, windowsTopic)).length >= withData.length, 'results');
    const codec = new WindowResultCodec(createSchemaRegistryClient(f.config), windowsTopic);
    const emitted = await readTopic(f.config, windowsTopic);
    expect(emitted.map((r) => r.key).sort()).toEqual([...withData].sort());
    for (const r of emitted) {
      const result = await codec.decode(r.value);
      expect(result.revenue, r.key).toEqual(oracle.windows.get(r.key)!.revenue);
    }
    expect(
      (await codec.decode(emitted.find((r) => r.key === `tumbling:1000:1000:${T0}`)!.value)).revenue,
    ).toEqual(first);
  });
});
