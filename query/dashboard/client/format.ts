/**
 * Number, money and time formatting for the page. Money arrives as integer minor units with an
 * ISO 4217 code (DESIGN.md §3) and is shown in major units with the currency: the number of minor
 * digits comes from Intl (2 for EUR, 0 for JPY, 3 for BHD), never from a guess.
 */

import { currencyDigits } from '../../../lib/currency.js';

/** An amount in minor units: a number, or a decimal integer string (the API's revenue, exact at any size). */
export type MinorUnits = number | string;

/**
 * `amount` minor units of `currency` in major units as a number (12345 EUR → 123.45), for charts
 * and ordering: a double, so approximate past 2^53 minor units. Shown figures use {@link formatMoney}.
 */
export function toMajor(amount: MinorUnits, currency: string): number {
  return Number(amount) / 10 ** currencyDigits(currency);
}

/** `amount` in major units as an exact decimal string (`"123.45"`): digits moved, never divided. */
export function majorDecimal(amount: MinorUnits, currency: string): string {
  const digits = currencyDigits(currency);
  const n = BigInt(typeof amount === 'number' ? Math.trunc(amount) : amount);
  const negative = n < 0n;
  const text = (negative ? -n : n).toString().padStart(digits + 1, '0');
  const units = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
  return `${negative ? '-' : ''}${units}`;
}

/**
 * Whether this engine's Intl formats a decimal string exactly (Intl.NumberFormat v3, 2022+) rather
 * than through a double; checked once, with a value a double cannot hold.
 */
let exactIntl: boolean | undefined;
function intlIsExact(): boolean {
  exactIntl ??=
    new Intl.NumberFormat('en', { useGrouping: false }).format('9007199254740993') === '9007199254740993';
  return exactIntl;
}

/**
 * `12345, 'EUR'` → `€123.45`; an unknown code is shown after the number (`123.45 XTS`). Exact at any
 * size: Intl is given the major units as a decimal string. `compact` abbreviates large amounts
 * (`€27T`) on purpose; without it every digit is shown.
 */
export function formatMoney(
  amount: MinorUnits,
  currency: string,
  options: { compact?: boolean } = {},
): string {
  const major = majorDecimal(amount, currency);
  const compactNotation = options.compact && Math.abs(toMajor(amount, currency)) >= 100_000;
  if (!compactNotation && !intlIsExact()) return `${major} ${currency}`;
  try {
    return new Intl.NumberFormat(undefined, {
      style: 'currency',
      currency,
      ...(compactNotation ? { notation: 'compact', maximumFractionDigits: 1 } : {}),
    }).format(major as Intl.StringNumericLiteral);
  } catch {
    return `${major} ${currency}`;
  }
}

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const rate = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** A count with grouping (`12,345`). */
export function formatCount(n: number): string {
  return integer.format(n);
}

/** A count, compact beyond 100,000 (`1.2M`). */
export function formatCompact(n: number): string {
  return Math.abs(n) >= 100_000 ? compact.format(n) : integer.format(n);
}

/** A rate per second with one decimal (`12.5`). */
export function formatRate(n: number): string {
  return rate.format(n);
}

/** `300000` → `5m`, `10000` → `10s`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const clockSeconds = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** A time of day on the 24-hour clock, `14:05` or with seconds `14:05:09`. */
export function formatClock(ms: number, seconds = false): string {
  return (seconds ? clockSeconds : clock).format(ms);
}

/** A wall-clock time of day with seconds (`14:05:09`). */
export function formatTime(ms: number): string {
  return formatClock(ms, true);
}
