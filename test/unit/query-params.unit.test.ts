/**
 * The query side's pure parts: instants, durations, ranges and window choices; opaque cursors;
 * SSE framing; CLI tables and money.
 */
import { describe, expect, it } from 'vitest';
import type { AnalyticsLayout } from '../../lib/read-models/analytics.js';
import { decodeCursor, encodeCursor } from '../../lib/read-models/cursor.js';
import { ReadModelErrorCodes, isReadModelError } from '../../lib/read-models/errors.js';
import { parseWindowChoice, resolveWindowKind } from '../../query/analytics-read.js';
import { formatDuration, parseDuration, parseInstant, parseRange } from '../../query/params.js';
import { eventNameOf, formatEvent } from '../../query/sse.js';
import { formatAmounts, formatMoney, formatTable } from '../../query/table.js';

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

describe('parseInstant', () => {
  it('takes epoch ms, ISO-8601 with a zone, now and now-<duration>', () => {
    expect(parseInstant('1767225600000', NOW)).toEqual({ ok: true, value: 1767225600000 });
    expect(parseInstant('2026-01-01T00:00:00Z', NOW)).toEqual({ ok: true, value: 1767225600000 });
    expect(parseInstant('2026-01-01T01:00:00+01:00', NOW)).toEqual({ ok: true, value: 1767225600000 });
    expect(parseInstant('2026-01-01T00:00:00.250Z', NOW)).toEqual({ ok: true, value: 1767225600250 });
    expect(parseInstant('2026-01-01T00:00Z', NOW)).toEqual({ ok: true, value: 1767225600000 });
    expect(parseInstant('now', NOW)).toEqual({ ok: true, value: NOW });
    expect(parseInstant('now-15m', NOW)).toEqual({ ok: true, value: NOW - 900_000 });
    expect(parseInstant('0', NOW)).toEqual({ ok: true, value: 0 });
  });

  it('refuses what is ambiguous or impossible, saying what it expects', () => {
    for (const bad of [
      '',
      'yesterday',
      '2026-01-01',
      '2026-01-01T00:00:00',
      '2026-02-30T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '1969-12-31T23:59:59Z',
      '-5',
      '1.5',
      '99999999999999999',
      'now-',
      'now-0s',
      'now+1h',
    ]) {
      const r = parseInstant(bad, NOW);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.message.length).toBeGreaterThan(5);
    }
  });
});

describe('parseDuration and formatDuration', () => {
  it('reads ms, s, m, h, d and bare milliseconds', () => {
    expect(parseDuration('90s')).toEqual({ ok: true, value: 90_000 });
    expect(parseDuration('5m')).toEqual({ ok: true, value: 300_000 });
    expect(parseDuration('1h')).toEqual({ ok: true, value: 3_600_000 });
    expect(parseDuration('2d')).toEqual({ ok: true, value: 172_800_000 });
    expect(parseDuration('250ms')).toEqual({ ok: true, value: 250 });
    expect(parseDuration('60000')).toEqual({ ok: true, value: 60_000 });
    for (const bad of ['0', '0m', '-1m', '1w', 'm', '1.5h', '99999d'])
      expect(parseDuration(bad).ok, bad).toBe(false);
  });

  it('prints the largest whole unit', () => {
    expect(formatDuration(60_000)).toBe('1m');
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(86_400_000)).toBe('1d');
    expect(formatDuration(1500)).toBe('1500ms');
  });
});

describe('parseRange', () => {
  const rules = { defaultSpanMs: 3_600_000, maxSpanMs: 86_400_000 };

  it('defaults to the last hour up to now', () => {
    expect(parseRange({}, NOW, rules)).toEqual({ ok: true, value: { from: NOW - 3_600_000, to: NOW } });
    expect(parseRange({ to: '1767225600000' }, NOW, rules)).toEqual({
      ok: true,
      value: { from: 1767225600000 - 3_600_000, to: 1767225600000 },
    });
  });

  it('names every bad field', () => {
    const both = parseRange({ from: 'x', to: 'y' }, NOW, rules);
    expect(both.ok).toBe(false);
    expect(both.fields?.map((f) => f.path)).toEqual(['querystring.to', 'querystring.from']);
    const reversed = parseRange({ from: 'now', to: 'now-1h' }, NOW, rules);
    expect(reversed.fields).toEqual([{ path: 'querystring.from', message: 'must be before `to`' }]);
    const long = parseRange({ from: 'now-2d' }, NOW, rules);
    expect(long.fields?.[0]?.message).toContain('at most 1d');
  });
});

describe('window choice', () => {
  const layout: AnalyticsLayout = {
    windows: {
      tumbling: { sizeMs: 60_000, advanceMs: 60_000 },
      hopping: { sizeMs: 300_000, advanceMs: 60_000 },
    },
    allowedLatenessMs: 5_000,
    graceMs: 10_000,
    topN: 10,
    partitions: {},
  };

  it('takes a kind or a size that names one of the group kinds', () => {
    expect(parseWindowChoice(undefined)).toEqual({ ok: true, value: { kind: 'tumbling' } });
    expect(parseWindowChoice('hopping')).toEqual({ ok: true, value: { kind: 'hopping' } });
    const fiveMinutes = parseWindowChoice('5m');
    expect(fiveMinutes).toEqual({ ok: true, value: { sizeMs: 300_000 } });
    if (fiveMinutes.ok)
      expect(resolveWindowKind(layout, fiveMinutes.value)).toEqual({ ok: true, value: 'hopping' });
    expect(resolveWindowKind(layout, { sizeMs: 60_000 })).toEqual({ ok: true, value: 'tumbling' });
  });

  it('says which sizes exist when the one asked for does not', () => {
    const r = resolveWindowKind(layout, { sizeMs: 120_000 });
    expect(r).toEqual({
      ok: false,
      message: 'no 2m windows: the analytics group keeps tumbling 1m and hopping 5m every 1m',
    });
    expect(parseWindowChoice('sliding').ok).toBe(false);
  });
});

describe('cursors', () => {
  it('round-trip, and refuse other lists, tampering and garbage as invalid_cursor', () => {
    const c = encodeCursor('users', ['v2', 1, '17', 50, null, null]);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor('users', c, 6)).toEqual(['v2', 1, '17', 50, null, null]);
    const refused = [
      () => decodeCursor('orders', c, 6),
      () => decodeCursor('users', c, 3),
      () => decodeCursor('users', 'not a cursor!', 6),
      () => decodeCursor('users', 'bm90LWpzb24', 6),
      () => decodeCursor('users', Buffer.from('["users",{"a":1}]').toString('base64url'), 1),
      () => decodeCursor('users', 'A'.repeat(2000), 6),
    ];
    for (const refuse of refused) {
      try {
        refuse();
        expect.unreachable();
      } catch (err) {
        expect(isReadModelError(err) && err.code).toBe(ReadModelErrorCodes.INVALID_CURSOR);
      }
    }
  });
});

describe('SSE framing', () => {
  it('names an event by its type, else update, and keeps data on one line', () => {
    expect(eventNameOf({ type: 'window-final' })).toBe('window-final');
    expect(eventNameOf({ type: 'bad name\n' })).toBe('update');
    expect(eventNameOf([1])).toBe('update');
    expect(eventNameOf(null)).toBe('update');
    expect(formatEvent('k1-3', 'update', JSON.stringify({ a: 'x\ny' }))).toBe(
      'id: k1-3\nevent: update\ndata: {"a":"x\\ny"}\n\n',
    );
  });
});

describe('CLI formats', () => {
  it('prints minor units exactly, with the currency exponent', () => {
    expect(formatMoney(1234, 'EUR')).toBe('12.34 EUR');
    expect(formatMoney(5, 'USD')).toBe('0.05 USD');
    expect(formatMoney(1234, 'JPY')).toBe('1234 JPY');
    expect(formatMoney(-1050, 'GBP')).toBe('-10.50 GBP');
    expect(formatMoney(9_007_199_254_740_991, 'EUR')).toBe('90071992547409.91 EUR');
    expect(formatAmounts({ USD: 100, EUR: 250 })).toBe('2.50 EUR, 1.00 USD');
    expect(formatAmounts({})).toBe('-');
    // Analytics revenue arrives as decimal strings: exact past 2^53.
    expect(formatMoney('27014398509481981', 'EUR')).toBe('270143985094819.81 EUR');
    expect(formatMoney('9007199254740993', 'JPY')).toBe('9007199254740993 JPY');
    expect(formatMoney(9_007_199_254_740_993n, 'USD')).toBe('90071992547409.93 USD');
    expect(formatMoney('-7', 'BHD')).toBe('-0.007 BHD');
    expect(formatAmounts({ USD: '18014398509481984', EUR: '250' })).toBe('2.50 EUR, 180143985094819.84 USD');
  });

  it('aligns columns, numbers to the right', () => {
    expect(
      formatTable(
        ['USER', 'N'],
        [
          ['a', '5'],
          ['bbbb', '120'],
        ],
      ),
    ).toBe('USER    N\n----  ---\na       5\nbbbb  120');
  });
});
