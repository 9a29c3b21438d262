/**
 * The analytics readers' merge of per-partition partials (lib/read-models/analytics.ts): exact
 * BigInt sums around and past 2^53, revenue as decimal strings, counts as numbers or an error. The
 * oracle adds the partials with BigInt itself, from the amounts, not from the reader's output.
 */
import { describe, expect, it } from 'vitest';
import { aggregatesOf, exactNumber, mergeSums, parseRedisInteger } from '../../lib/read-models/analytics.js';

const MAX = Number.MAX_SAFE_INTEGER; // 2^53 - 1

/** Redis's HGETALL reply of a partition's sums hash. */
function hash(fields: Record<string, bigint | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.toString()]));
}

describe('merging analytics partials', () => {
  it('sums three partitions each near 2^53 exactly', () => {
    const amounts = [BigInt(MAX), BigInt(MAX) - 1n, 9_000_000_000_000_000n];
    const parts = amounts.map((a) => hash({ 'revenue:EUR': a, 'event:OrderPaid': 1 }));
    const want = amounts[0]! + amounts[1]! + amounts[2]!;
    const merged = mergeSums(parts);
    expect(merged.get('revenue:EUR')).toBe(want);
    expect(merged.get('revenue:EUR')).toBe(27_014_398_509_481_981n);
    const a = aggregatesOf(merged, 3, [], 10);
    expect(a.revenue).toEqual({ EUR: want.toString() });
    expect(a.revenue.EUR).toBe('27014398509481981');
    // What adding the partials as JS numbers gives, for the record: not the sum.
    expect(String(amounts.reduce((s, n) => s + Number(n), 0))).not.toBe(a.revenue.EUR);
    expect(a.orders.paid).toBe(3);
  });

  it('is exact on both sides of 2^53, per currency, over many windows and partitions', () => {
    const cases: [string, bigint[]][] = [
      ['EUR', [2n ** 53n - 2n, 1n]], // 2^53 - 1, the last safe integer
      ['USD', [2n ** 53n - 1n, 1n]], // 2^53
      ['GBP', [2n ** 53n - 1n, 2n]], // 2^53 + 1, the first integer a double cannot hold
      ['CHF', [2n ** 53n, 2n ** 53n - 1n, 3n]],
      ['JPY', [0n, 0n]],
    ];
    // Every amount its own partial (a partition of a window), interleaved across currencies.
    const parts = cases.flatMap(([currency, amounts]) =>
      amounts.map((a) => hash({ [`revenue:${currency}`]: a })),
    );
    parts.push({}); // a partition with nothing in the window: HGETALL answers {}
    const revenue = aggregatesOf(mergeSums(parts), 0, [], 10).revenue;
    const want = Object.fromEntries(
      cases.map(([c, amounts]) => [c, amounts.reduce((s, n) => s + n, 0n).toString()]),
    );
    expect(revenue).toEqual(want);
    expect(revenue.GBP).toBe('9007199254740993');
  });

  it('keeps counts numbers, and refuses a count past 2^53 - 1 rather than round it', () => {
    const parts = [
      hash({ 'event:PageViewed': MAX - 3 }),
      hash({ 'event:PageViewed': 1, 'event:OrderPaid': 2 }),
    ];
    const a = aggregatesOf(mergeSums(parts), 0, [], 10);
    expect(a.events).toEqual({ PageViewed: MAX - 2, OrderPaid: 2 });
    expect(a.totalEvents).toBe(MAX);
    expect(() => aggregatesOf(mergeSums([...parts, hash({ 'event:OrderPaid': 1 })]), 0, [], 10)).toThrow(
      /totalEvents: 9007199254740992 is past 2\^53 - 1/,
    );
    expect(() => aggregatesOf(mergeSums([...parts, hash({ 'event:PageViewed': 3 })]), 0, [], 10)).toThrow(
      /event:PageViewed: 9007199254740992 is past/,
    );
    expect(exactNumber(BigInt(-MAX), 'x')).toBe(-MAX);
    expect(() => exactNumber(BigInt(-MAX) - 1n, 'x')).toThrow(RangeError);
  });

  it('parses Redis integers strictly, never through a number', () => {
    expect(parseRedisInteger('27014398509481981', 'f')).toBe(27_014_398_509_481_981n);
    expect(parseRedisInteger('-12', 'f')).toBe(-12n);
    for (const bad of ['', ' 1', '1.5', '0x1f', '1e3', 'NaN']) {
      expect(() => parseRedisInteger(bad, 'revenue:EUR'), bad).toThrow(/revenue:EUR: not an integer/);
    }
  });
});
