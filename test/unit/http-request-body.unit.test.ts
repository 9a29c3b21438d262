import { describe, expect, it } from 'vitest';
import {
  completeEvent,
  issuesToFieldErrors,
  onlyUnknownType,
  parseEnvelope,
  parseNdjson,
  parseOccurredAt,
} from '../../producers/http/request-body.js';
import { shopCatalog } from '../helpers/shop.js';

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const SKEW_MS = 300_000;
const CLOCK = { now: NOW, maxClockSkewMs: SKEW_MS };
const user = { userId: 'u-1', email: 'ada@example.com', name: 'Ada', plan: 'FREE', country: 'GB' };

function errorsOf(result: ReturnType<typeof parseEnvelope>) {
  if (result.ok) throw new Error('expected errors');
  return result.errors;
}

describe('parseEnvelope', () => {
  it('fills eventId and occurredAt, and keeps what is given', () => {
    const r = parseEnvelope(shopCatalog, { type: 'UserCreated', data: user }, '', CLOCK);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.type).toBe('UserCreated');
    expect(r.value.data).toMatchObject({ ...user, occurredAt: NOW });
    expect(r.value.data.eventId).toMatch(/^[0-9a-f-]{36}$/);

    const id = '6f1c1d38-54a5-4d8e-a8e8-5b0c4f7f8a11';
    const given = parseEnvelope(
      shopCatalog,
      { type: 'UserCreated', data: { ...user, eventId: id, occurredAt: 42 } },
      '',
      CLOCK,
    );
    expect(given.ok && given.value.data).toMatchObject({ eventId: id, occurredAt: 42 });
  });

  it('accepts occurredAt as an ISO-8601 date-time with a zone', () => {
    const r = parseEnvelope(
      shopCatalog,
      { type: 'UserCreated', data: { ...user, occurredAt: '2026-03-01T13:00:00.250+01:00' } },
      '',
      CLOCK,
    );
    expect(r.ok && r.value.data.occurredAt).toBe(NOW + 250);
  });

  it('names every bad field with its path, using the Avro schema rules', () => {
    const errors = errorsOf(
      parseEnvelope(
        shopCatalog,
        { type: 'UserCreated', data: { ...user, email: 5, plan: 'GOLD', extra: true, name: undefined } },
        '',
        CLOCK,
      ),
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        { path: 'data.email', message: 'expected string, got number 5' },
        { path: 'data.plan', message: expect.stringContaining('one of UNKNOWN, FREE, PRO, ENTERPRISE') },
        { path: 'data.extra', message: 'not a field of UserCreated' },
        { path: 'data.name', message: 'expected string, got nothing (missing)' },
      ]),
    );
  });

  it('prefixes paths inside a batch, down to array items', () => {
    const order = {
      orderId: 'o-1',
      userId: 'u-1',
      items: [{ sku: 'A', quantity: 1.5, unitPrice: 100 }],
      totalAmount: 150,
      currency: 'EUR',
    };
    const errors = errorsOf(parseEnvelope(shopCatalog, { type: 'OrderPlaced', data: order }, '[3]', CLOCK));
    expect(errors).toEqual([
      { path: '[3].data.items[0].quantity', message: 'expected an int (32-bit integer), got number 1.5' },
    ]);
  });

  it('reports envelope problems: unknown type, missing data, extra keys', () => {
    const unknown = errorsOf(parseEnvelope(shopCatalog, { type: 'UserExploded', data: {} }, '', CLOCK));
    expect(unknown).toEqual([
      { path: 'type', message: expect.stringMatching(/^unknown event type "UserExploded"/) },
    ]);
    expect(onlyUnknownType(unknown)).toBe(true);

    const bad = errorsOf(parseEnvelope(shopCatalog, { type: 7, extra: 1 }, '', CLOCK));
    expect(bad.map((e) => e.path).sort()).toEqual(['data', 'extra', 'type']);
    expect(onlyUnknownType(bad)).toBe(false);
    expect(errorsOf(parseEnvelope(shopCatalog, [1, 2], '[0]', CLOCK))).toEqual([
      { path: '[0]', message: expect.any(String) },
    ]);
    expect(errorsOf(parseEnvelope(shopCatalog, null, '', CLOCK))[0]!.path).toBe('');
  });

  it('refuses bad eventIds and occurredAt values', () => {
    const errors = errorsOf(
      parseEnvelope(
        shopCatalog,
        { type: 'UserCreated', data: { ...user, eventId: 'not-a-uuid', occurredAt: '2026-02-30T00:00:00Z' } },
        '',
        CLOCK,
      ),
    );
    expect(errors.map((e) => e.path)).toEqual(['data.eventId', 'data.occurredAt']);
    const fractional = errorsOf(
      parseEnvelope(shopCatalog, { type: 'UserCreated', data: { ...user, occurredAt: 1.5 } }, '', CLOCK),
    );
    expect(fractional).toEqual([
      { path: 'data.occurredAt', message: 'expected a long (integer), got number 1.5' },
    ]);
  });

  it('refuses an occurredAt further ahead of the clock than the allowed skew, naming the field', () => {
    // Exactly at the bound is accepted, one millisecond past it is not; the past is never refused.
    const at = (occurredAt: unknown, prefix = '') =>
      parseEnvelope(shopCatalog, { type: 'UserCreated', data: { ...user, occurredAt } }, prefix, CLOCK);
    expect(at(NOW + SKEW_MS).ok).toBe(true);
    expect(at(new Date(NOW + SKEW_MS).toISOString()).ok).toBe(true);
    expect(at(NOW - 365 * 24 * 3600 * 1000).ok).toBe(true);
    expect(errorsOf(at(NOW + SKEW_MS + 1))).toEqual([
      {
        path: 'data.occurredAt',
        message: `expected an event time at most ${SKEW_MS} ms ahead of the clock (TRIBUTARY_MAX_CLOCK_SKEW_MS), got one ${SKEW_MS + 1} ms ahead`,
      },
    ]);
    // A year ahead, given as a date-time, inside a batch, beside another bad field: both named.
    const yearAhead = new Date(NOW + 365 * 24 * 3600 * 1000).toISOString();
    const errors = errorsOf(
      parseEnvelope(
        shopCatalog,
        { type: 'UserCreated', data: { ...user, email: 5, occurredAt: yearAhead } },
        '[2]',
        CLOCK,
      ),
    );
    expect(errors.map((e) => e.path).sort()).toEqual(['[2].data.email', '[2].data.occurredAt']);
    expect(errors.find((e) => e.path === '[2].data.occurredAt')!.message).toContain(
      `got one ${365 * 24 * 3600 * 1000} ms ahead`,
    );
    // A resource body (no data. prefix); the bound follows the configured skew.
    const tight = completeEvent(
      shopCatalog,
      'UserDeleted',
      { userId: 'u-1', reason: 'OTHER', occurredAt: NOW + 2 },
      '',
      {
        now: NOW,
        maxClockSkewMs: 1,
      },
    );
    expect(tight).toEqual({ ok: false, errors: [{ path: 'occurredAt', message: expect.any(String) }] });
  });

  it('refuses an empty partition key', () => {
    const errors = errorsOf(
      parseEnvelope(shopCatalog, { type: 'UserCreated', data: { ...user, userId: '' } }, '', CLOCK),
    );
    expect(errors).toEqual([{ path: 'data.userId', message: expect.stringContaining('partition key') }]);
    const view = { sessionId: '', url: 'https://x/', path: '/' };
    const viewErrors = errorsOf(parseEnvelope(shopCatalog, { type: 'PageViewed', data: view }, '', CLOCK));
    expect(viewErrors).toEqual([
      { path: 'data.sessionId', message: expect.stringContaining('userId, sessionId') },
    ]);
  });
});

describe('completeEvent on a resource body', () => {
  it('reports paths without the data prefix', () => {
    const r = completeEvent(shopCatalog, 'UserUpdated', { userId: 'u-1', email: 3 }, '', CLOCK);
    expect(r).toEqual({
      ok: false,
      errors: [{ path: 'email', message: expect.stringContaining('got number 3') }],
    });
  });
});

describe('parseOccurredAt', () => {
  it('takes integers and zoned date-times, nothing else', () => {
    expect(parseOccurredAt(0)).toBe(0);
    expect(parseOccurredAt('2026-03-01T12:00:00Z')).toBe(NOW);
    expect(parseOccurredAt('2026-03-01T12:00:00')).toBeUndefined(); // no zone: ambiguous
    expect(parseOccurredAt('2026-03-01')).toBeUndefined();
    expect(parseOccurredAt('1')).toBeUndefined();
    expect(parseOccurredAt('2026-13-01T00:00:00Z')).toBeUndefined();
    expect(parseOccurredAt('2026-03-01T24:00:00Z')).toBeUndefined();
    expect(parseOccurredAt(true)).toBeUndefined();
    // Years below 100 are years, not 1900 + n.
    expect(parseOccurredAt('0011-05-16T19:29:08-20:56')).toBe(Date.parse('0011-05-16T19:29:08-20:56'));
  });
});

describe('issuesToFieldErrors', () => {
  it('splits at the path even when the message holds a colon', () => {
    expect(issuesToFieldErrors(['data.plan: expected one of A, B, got string "x: y"'], '')).toEqual([
      { path: 'plan', message: 'expected one of A, B, got string "x: y"' },
    ]);
  });
});

describe('parseNdjson', () => {
  it('reads one value per non-blank line', () => {
    expect(parseNdjson('{"a":1}\n\n  {"b":2}  \n', 10)).toEqual({ ok: true, value: [{ a: 1 }, { b: 2 }] });
  });

  it('names the line that is not JSON', () => {
    expect(parseNdjson('{"a":1}\n{oops\n', 10)).toEqual({
      ok: false,
      errors: [{ path: '[1]', message: 'line 2 is not valid JSON' }],
    });
  });

  it('stops reading one past the limit', () => {
    const r = parseNdjson('1\n2\n3\n4\n{bad', 2);
    expect(r).toEqual({ ok: true, value: [1, 2, 3] });
  });
});
