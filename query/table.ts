/** Plain-text tables and value formats for `tributary query` (pure; unit-tested). */
import { currencyDigits } from '../lib/currency.js';
import type { Metric, MetricAnswer } from './analytics-read.js';

/** Rows under a header, columns padded to their widest cell; numbers (and money) right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map(
    (_, i) => rows.length > 0 && rows.every((r) => /^-?[\d.,]+( [A-Z]{3})?$|^$/.test(r[i] ?? '')),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `key  value` lines, keys padded. */
export function formatPairs(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** Epoch ms as an ISO-8601 UTC date-time, or `-` for none. */
export function formatTime(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? '-' : new Date(ms).toISOString();
}

/**
 * An amount in minor units as `12.34 EUR`, exact at any size: the digits are moved, never divided.
 * `minor` is an integer: a number (read models' per-order amounts), a bigint, or a decimal integer
 * string (analytics revenue, which may pass 2^53).
 */
export function formatMoney(minor: number | bigint | string, currency: string): string {
  const digits = currencyDigits(currency);
  const n = typeof minor === 'number' ? BigInt(Math.trunc(minor)) : BigInt(minor);
  const negative = n < 0n;
  const text = (negative ? -n : n).toString().padStart(digits + 1, '0');
  const units = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
  return `${negative ? '-' : ''}${units} ${currency}`;
}

/** Per-currency amounts as `12.34 EUR, 5.00 USD` (or `-`); values as {@link formatMoney} takes them. */
export function formatAmounts(amounts: Readonly<Record<string, number | bigint | string>>): string {
  const entries = Object.entries(amounts).sort(([a], [b]) => (a < b ? -1 : 1));
  return entries.length === 0 ? '-' : entries.map(([c, v]) => formatMoney(v, c)).join(', ');
}

/** A window or total of an analytics answer. */
type Row = Record<string, unknown>;

/** The metric's columns: header and cell of a window (or of the total). */
const COLUMNS: Readonly<Record<string, readonly [string, (r: Row) => string][]>> = {
  counts: [
    ['EVENTS', (r) => String(r.totalEvents)],
    ['PLACED', (r) => String((r.orders as { placed: number }).placed)],
    ['PAID', (r) => String((r.orders as { paid: number }).paid)],
    [
      'BY TYPE',
      (r) =>
        Object.entries(r.events as Record<string, number>)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([t, n]) => `${t}=${n}`)
          .join(' ') || '-',
    ],
  ],
  'unique-users': [['USERS', (r) => String(r.uniqueUsers)]],
  revenue: [
    ['PAID ORDERS', (r) => String(r.ordersPaid)],
    ['REVENUE', (r) => formatAmounts(r.revenue as Record<string, string>)],
  ],
  'top-pages': [
    [
      'TOP PAGES',
      (r) =>
        (r.topPages as { path: string; views: number }[]).map((p) => `${p.path} (${p.views})`).join(', ') ||
        '-',
    ],
  ],
};

/** The answer as text: a table of the windows, then the total. */
export function formatMetric(metric: Metric, answer: MetricAnswer): string {
  if (answer.window === null) return 'no analytics yet: the analytics consumer group has not run';
  const columns = COLUMNS[metric.route] ?? [];
  const header = ['START', 'END', 'FINAL', ...columns.map(([h]) => h)];
  const rows = answer.windows.map((w) => [
    formatTime(w.start),
    formatTime(w.end),
    w.final ? 'yes' : 'no',
    ...columns.map(([, cell]) => cell(w)),
  ]);
  const { kind, sizeMs, advanceMs } = answer.window;
  const lines = [
    `${kind} windows of ${sizeMs} ms${kind === 'hopping' ? ` every ${advanceMs} ms` : ''} starting in ` +
      `[${formatTime(answer.from)}, ${formatTime(answer.to)})`,
    '',
    formatTable(header, rows),
  ];
  if (answer.total) {
    const t = answer.total;
    lines.push(
      '',
      `total [${formatTime(t.from)}, ${formatTime(t.to)})${t.final ? ' (final)' : ''}: ` +
        columns.map(([h, cell]) => `${h.toLowerCase()} ${cell(t)}`).join(' · '),
    );
  }
  return lines.join('\n');
}
