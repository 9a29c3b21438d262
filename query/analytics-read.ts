/**
 * The analytics reads behind `GET /analytics/*` and `tributary query counts|unique-users|revenue|
 * top-pages`, over the analytics group's windows (lib/read-models/analytics.ts). Each answers, for
 * the windows of one kind that START in `[from, to)`, oldest first, one metric per window, plus the
 * same metric over the whole range (`total`, merged from the tumbling windows, so a user active in
 * several windows counts once):
 *
 * - `counts`: events per type, all events, orders placed and paid.
 * - `unique-users`: distinct users (HyperLogLog estimate, ~0.8% error).
 * - `revenue`: paid amounts per currency (minor units, as decimal integer strings: exact past
 *   2^53, where a JSON number is not), orders paid.
 * - `top-pages` (`limit`): most viewed pages.
 *
 * `from`/`to`: epoch ms, ISO-8601, `now`, `now-15m` (default: the last hour). `window`: `tumbling`
 * (default), `hopping`, or a size (`1m`, `300000`) naming one of the group's window kinds. Before
 * the analytics group has run, every answer is `window: null`, no windows, `total: null`.
 */
import {
  MAX_WINDOWS_PER_READ,
  readAnalyticsTotals,
  readAnalyticsView,
  readWindowValues,
  windowsIn,
} from '../lib/read-models/analytics.js';
import type {
  AnalyticsAggregates,
  AnalyticsLayout,
  AnalyticsWindowView,
  WindowRef,
} from '../lib/read-models/analytics.js';
import type { ReadModelSource } from '../lib/read-models/source.js';
import type { AnalyticsWindowKind } from '../lib/redis-keys.js';
import { invalidParams } from './http-error.js';
import type { FieldError } from './http-error.js';
import { INSTANT_SCHEMA } from './openapi.js';
import type { JsonSchema } from './openapi.js';
import { DURATION_HELP, formatDuration, parseDuration, parseRange } from './params.js';
import type { Parsed } from './params.js';

/** Default span when `from` is left out: one hour. */
export const DEFAULT_SPAN_MS = 3_600_000;
/** Most pages `top-pages` returns per window. */
export const MAX_TOP_PAGES = 100;

/** What `window` asks for: a kind, or a size to match against the group's kinds. */
export type WindowChoice = { readonly kind: AnalyticsWindowKind } | { readonly sizeMs: number };

/** Parses `window`: `tumbling`, `hopping` or a duration ({@link parseDuration}). */
export function parseWindowChoice(text: string | undefined): Parsed<WindowChoice> {
  if (text === undefined || text === 'tumbling') return { ok: true, value: { kind: 'tumbling' } };
  if (text === 'hopping') return { ok: true, value: { kind: 'hopping' } };
  const size = parseDuration(text);
  return size.ok
    ? { ok: true, value: { sizeMs: size.value } }
    : { ok: false, message: `expected tumbling, hopping or a window size (${DURATION_HELP})` };
}

/** `tumbling 1m`, `hopping 5m every 1m`: the group's windows, for messages. */
function describeWindows(layout: AnalyticsLayout): string {
  const { tumbling, hopping } = layout.windows;
  return (
    `tumbling ${formatDuration(tumbling.sizeMs)} and ` +
    `hopping ${formatDuration(hopping.sizeMs)} every ${formatDuration(hopping.advanceMs)}`
  );
}

/** The window kind `choice` names in `layout`, or why there is none (tumbling wins a tie of sizes). */
export function resolveWindowKind(
  layout: AnalyticsLayout,
  choice: WindowChoice,
): Parsed<AnalyticsWindowKind> {
  if ('kind' in choice) return { ok: true, value: choice.kind };
  const kind = (['tumbling', 'hopping'] as const).find((k) => layout.windows[k].sizeMs === choice.sizeMs);
  return kind
    ? { ok: true, value: kind }
    : {
        ok: false,
        message: `no ${formatDuration(choice.sizeMs)} windows: the analytics group keeps ${describeWindows(layout)}`,
      };
}

/** One metric: its name, what it keeps of an aggregate, and the JSON Schema of that. */
export interface Metric {
  readonly route: string;
  readonly summary: string;
  readonly pick: (a: AnalyticsAggregates) => Record<string, unknown>;
  readonly schema: Record<string, JsonSchema>;
}

const COUNTS: JsonSchema = { type: 'object', additionalProperties: { type: 'integer' } };
/** Money per currency: integers as decimal strings, always (see lib/read-models `IntegerString`). */
const AMOUNTS: JsonSchema = {
  type: 'object',
  description:
    'Minor units per ISO 4217 currency code (`"EUR": "1250"` is 12.50 EUR), each a decimal integer ' +
    'string at every size: sums over partitions and windows may exceed 2^53, beyond which a JSON ' +
    'number is not exact in most parsers. Parse with BigInt or a decimal type.',
  additionalProperties: { type: 'string', pattern: '^-?(0|[1-9][0-9]*)$' },
};
const ORDERS: JsonSchema = {
  type: 'object',
  required: ['placed', 'paid'],
  properties: { placed: { type: 'integer' }, paid: { type: 'integer' } },
};

/** The analytics metrics, by route name. */
export const METRICS: readonly Metric[] = [
  {
    route: 'counts',
    summary: 'Events per type, per window and over the range',
    pick: (a) => ({ events: a.events, totalEvents: a.totalEvents, orders: a.orders }),
    schema: { events: COUNTS, totalEvents: { type: 'integer' }, orders: ORDERS },
  },
  {
    route: 'unique-users',
    summary: 'Distinct users (HyperLogLog estimate), per window and over the range',
    pick: (a) => ({ uniqueUsers: a.uniqueUsers }),
    schema: { uniqueUsers: { type: 'integer' } },
  },
  {
    route: 'revenue',
    summary: 'Paid amounts per currency (minor units, decimal strings), per window and over the range',
    pick: (a) => ({ revenue: a.revenue, ordersPaid: a.orders.paid }),
    schema: { revenue: AMOUNTS, ordersPaid: { type: 'integer' } },
  },
  {
    route: 'top-pages',
    summary: 'Most viewed pages, per window and over the range',
    pick: (a) => ({ topPages: a.topPages }),
    schema: {
      topPages: {
        type: 'array',
        items: {
          type: 'object',
          required: ['path', 'views'],
          properties: { path: { type: 'string' }, views: { type: 'integer' } },
        },
      },
    },
  },
];

/** The JSON Schema of a metric's answer. */
export function responseSchema(metric: Metric): JsonSchema {
  const fields = Object.keys(metric.schema);
  return {
    type: 'object',
    required: ['from', 'to', 'window', 'windows', 'total'],
    properties: {
      from: { type: 'integer', description: 'Windows starting at or after this (epoch ms)' },
      to: { type: 'integer', description: 'Windows starting before this (epoch ms)' },
      window: {
        type: ['object', 'null'],
        description: 'The window kind read; null before the analytics group has run',
        required: ['kind', 'sizeMs', 'advanceMs'],
        properties: {
          kind: { type: 'string', enum: ['tumbling', 'hopping'] },
          sizeMs: { type: 'integer' },
          advanceMs: { type: 'integer' },
        },
      },
      windows: {
        type: 'array',
        description: 'Oldest first; `final`: the window is closed everywhere and will not change',
        items: {
          type: 'object',
          required: ['start', 'end', 'final', ...fields],
          properties: {
            start: { type: 'integer' },
            end: { type: 'integer', description: 'Exclusive' },
            final: { type: 'boolean' },
            ...metric.schema,
          },
        },
      },
      total: {
        type: ['object', 'null'],
        description: 'Over the whole range, merged from tumbling windows (rounded out to whole ones)',
        required: ['from', 'to', 'final', ...fields],
        properties: {
          from: { type: 'integer' },
          to: { type: 'integer' },
          final: { type: 'boolean' },
          ...metric.schema,
        },
      },
    },
  };
}

/** The query parameters of an analytics read, as they come in. */
export interface AnalyticsQuery {
  readonly from?: string;
  readonly to?: string;
  readonly window?: string;
  readonly limit?: number;
}

/** The JSON Schema of a metric's query parameters. */
export function querySchema(metric: Metric, defaultTopN: number): JsonSchema {
  return {
    type: 'object',
    properties: {
      from: INSTANT_SCHEMA('Start of the range (inclusive); default `to` minus one hour'),
      to: INSTANT_SCHEMA('End of the range (exclusive); default now'),
      window: {
        type: 'string',
        minLength: 1,
        maxLength: 32,
        default: 'tumbling',
        description: `\`tumbling\`, \`hopping\`, or the size of one of them: ${DURATION_HELP}`,
      },
      ...(metric.route === 'top-pages'
        ? {
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_TOP_PAGES,
              default: Math.min(defaultTopN, MAX_TOP_PAGES),
              description: 'Pages per window',
            },
          }
        : {}),
    },
  };
}

/**
 * The windows to read, checked first so that a range too long for one read (of either the chosen
 * kind or the tumbling windows the total merges) is a 400 naming `from`, not an error deep down.
 */
function windowRefs(view: AnalyticsLayout, kind: AnalyticsWindowKind, from: number, to: number): WindowRef[] {
  const span = to - from;
  for (const k of new Set<AnalyticsWindowKind>([kind, 'tumbling'])) {
    const advance = view.windows[k].advanceMs;
    if (Math.ceil(span / advance) > MAX_WINDOWS_PER_READ) {
      throw invalidParams([
        {
          path: 'querystring.from',
          message:
            `the range holds more than ${MAX_WINDOWS_PER_READ} ${k} windows ` +
            `(one every ${formatDuration(advance)}): at most ${formatDuration(MAX_WINDOWS_PER_READ * advance)}`,
        },
      ]);
    }
  }
  return windowsIn(view, kind, from, to);
}

/** The answer of an analytics read (see the module comment). */
export interface MetricAnswer {
  readonly from: number;
  readonly to: number;
  readonly window: {
    readonly kind: AnalyticsWindowKind;
    readonly sizeMs: number;
    readonly advanceMs: number;
  } | null;
  readonly windows: readonly ({
    readonly start: number;
    readonly end: number;
    readonly final: boolean;
  } & Record<string, unknown>)[];
  readonly total:
    | ({ readonly from: number; readonly to: number; readonly final: boolean } & Record<string, unknown>)
    | null;
}

/**
 * Checks the parameters (400 {@link QueryHttpError} naming each bad one), then reads `metric`.
 * `now` is the time `now` and the defaults refer to.
 */
export function checkAnalyticsQuery(
  q: AnalyticsQuery,
  now: number,
): { readonly from: number; readonly to: number; readonly choice: WindowChoice; readonly topN?: number } {
  const fields: FieldError[] = [];
  const range = parseRange(q, now, { defaultSpanMs: DEFAULT_SPAN_MS, maxSpanMs: Number.MAX_SAFE_INTEGER });
  if (!range.ok) fields.push(...(range.fields ?? []));
  const choice = parseWindowChoice(q.window);
  if (!choice.ok) fields.push({ path: 'querystring.window', message: choice.message });
  if (q.limit !== undefined && (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_TOP_PAGES)) {
    fields.push({ path: 'querystring.limit', message: `must be an integer from 1 to ${MAX_TOP_PAGES}` });
  }
  if (!range.ok || !choice.ok || fields.length > 0) throw invalidParams(fields);
  return { ...range.value, choice: choice.value, ...(q.limit === undefined ? {} : { topN: q.limit }) };
}

/** Reads `metric` for checked parameters ({@link checkAnalyticsQuery}). */
export async function readMetric(
  source: ReadModelSource,
  metric: Metric,
  query: ReturnType<typeof checkAnalyticsQuery>,
): Promise<MetricAnswer> {
  const { from, to, topN } = query;
  const view = await readAnalyticsView(source);
  if (!view) return { from, to, window: null, windows: [], total: null };
  const kind = resolveWindowKind(view, query.choice);
  if (!kind.ok) throw invalidParams([{ path: 'querystring.window', message: kind.message }]);
  const refs = windowRefs(view, kind.value, from, to);
  const [windows, total] = await Promise.all([
    readWindowValues(source, view, refs, topN),
    readAnalyticsTotals(source, { from, to, ...(topN === undefined ? {} : { topN }) }),
  ]);
  const shape = view.windows[kind.value];
  return {
    from,
    to,
    window: { kind: kind.value, sizeMs: shape.sizeMs, advanceMs: shape.advanceMs },
    windows: windows.map((w: AnalyticsWindowView) => ({
      start: w.start,
      end: w.end,
      final: w.final,
      ...metric.pick(w),
    })),
    total: total && { from: total.from, to: total.to, final: total.final, ...metric.pick(total) },
  };
}
