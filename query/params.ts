/**
 * Parsing of the query parameters that JSON Schema cannot check alone: instants (`from`, `to`),
 * durations and window choices. Pure functions; each returns the value or why it is wrong, and the
 * routes turn the reasons into one 400 with a field error per bad parameter.
 */
import type { FieldError } from './http-error.js';

/** A parse result: the value, or a message saying what is wrong (for a field error). */
export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(message: string): Parsed<T> => ({ ok: false, message });

/** Latest instant accepted: 9999-12-31T23:59:59.999Z. */
export const MAX_INSTANT = 253_402_300_799_999;

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d{1,12})(ms|s|m|h|d)?$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** What `from`/`to` accept, for error messages and the OpenAPI document. */
export const INSTANT_HELP =
  'epoch milliseconds, an ISO-8601 date-time with a time zone (2026-03-01T12:00:00Z), `now`, or `now-<duration>` (now-15m)';

/** What a duration looks like, for error messages and the OpenAPI document. */
export const DURATION_HELP = 'milliseconds, or a number with a unit ms, s, m, h or d (90s, 5m, 1h)';

/**
 * A duration in milliseconds: `90000`, `500ms`, `90s`, `5m`, `1h`, `7d`. Positive, at most 10 years.
 */
export function parseDuration(text: string): Parsed<number> {
  const m = DURATION.exec(text.trim());
  if (!m) return bad(`expected a duration: ${DURATION_HELP}`);
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
  if (ms <= 0) return bad('must be longer than 0');
  if (ms > 3650 * UNIT_MS.d!) return bad('must be at most 3650 days');
  return ok(ms);
}

/** An instant as epoch milliseconds; see {@link INSTANT_HELP}. `now` is the request's time. */
export function parseInstant(text: string, now: number): Parsed<number> {
  const value = text.trim();
  if (value === 'now') return ok(now);
  if (value.startsWith('now-')) {
    const d = parseDuration(value.slice(4));
    return d.ok ? ok(Math.max(0, now - d.value)) : bad(`after "now-": ${d.message}`);
  }
  if (/^\d{1,15}$/.test(value)) {
    const ms = Number(value);
    return ms <= MAX_INSTANT ? ok(ms) : bad('epoch milliseconds must be at most 253402300799999 (year 9999)');
  }
  const m = ISO.exec(value);
  if (!m) return bad(`expected ${INSTANT_HELP}`);
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(
    Number,
  ) as [number, number, number, number, number, number];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (
    month < 1 ||
    month > 12 ||
    calendar.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    year < 1970
  ) {
    return bad(`${value} is not a valid date-time (from 1970 on)`);
  }
  const ms = Date.parse(value.toUpperCase());
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_INSTANT) return bad(`${value} is out of range`);
  return ok(ms);
}

/** A time range `[from, to)` in epoch milliseconds. */
export interface TimeRange {
  readonly from: number;
  readonly to: number;
}

export interface RangeRules {
  /** Span used when `from` is left out (`from = to - defaultSpanMs`). */
  readonly defaultSpanMs: number;
  /** Longest span accepted. */
  readonly maxSpanMs: number;
}

/**
 * `from` and `to` from a query string (`to` defaults to now, `from` to `to - defaultSpanMs`),
 * or the field errors: unparseable, `from` not before `to`, span longer than `maxSpanMs`.
 */
export function parseRange(
  query: { readonly from?: string | undefined; readonly to?: string | undefined },
  now: number,
  rules: RangeRules,
): Parsed<TimeRange> & { readonly fields?: FieldError[] } {
  const fields: FieldError[] = [];
  const to = query.to === undefined ? ok(now) : parseInstant(query.to, now);
  if (!to.ok) fields.push({ path: 'querystring.to', message: to.message });
  const from =
    query.from === undefined
      ? ok(Math.max(0, (to.ok ? to.value : now) - rules.defaultSpanMs))
      : parseInstant(query.from, now);
  if (!from.ok) fields.push({ path: 'querystring.from', message: from.message });
  if (from.ok && to.ok) {
    if (from.value >= to.value) {
      fields.push({ path: 'querystring.from', message: 'must be before `to`' });
    } else if (to.value - from.value > rules.maxSpanMs) {
      fields.push({
        path: 'querystring.from',
        message: `the range may span at most ${formatDuration(rules.maxSpanMs)}`,
      });
    }
  }
  if (fields.length > 0 || !from.ok || !to.ok) {
    return { ok: false, message: fields[0]?.message ?? 'invalid range', fields };
  }
  return ok({ from: from.value, to: to.value });
}

/** `90000` → `90s`, `3600000` → `1h`: the largest unit that divides the duration. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
