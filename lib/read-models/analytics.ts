/**
 * Readers of the analytics group's windows (consumers/analytics/), for the query service, the
 * dashboard and the group's own finalizer. Every partition of `users`, `orders` and `page-views`
 * keeps partial aggregates of each window under its own hash tag; a read merges them: sums of the
 * per-type and per-currency hashes, PFCOUNT over the partitions' HyperLogLogs (the union's
 * cardinality), ZUNION of the page sorted sets. Key names come from lib/redis-keys.ts.
 *
 * Sums are merged as BigInt, parsed from Redis's replies without passing through a JS number: each
 * partition's stored sum is bounded to a safe integer on the write side (consumers/offset-fence.ts),
 * but a sum over partitions and windows is not (three partitions of 9e15 minor units pass 2^53).
 * Revenue therefore leaves here as a decimal integer string ({@link IntegerString}), exact at any
 * size; counts stay numbers, and a merged count past 2^53 − 1 is an error, never a rounded number.
 *
 * What to read is described by the group itself: its finalizer stores the layout (window sizes,
 * grace, partitions per topic) in the version's meta hash, so a reader needs neither the consumer's
 * configuration nor Kafka. Until the group has run, reads return nothing.
 *
 * PFCOUNT and ZUNION over keys of several partitions need them in one slot: fine on one Redis
 * node; on Redis Cluster they would have to be merged in the client (not done here).
 */
import type { Redis } from 'ioredis';
import {
  AnalyticsGroupKeys,
  ProjectionKeys,
  analyticsKeys,
  analyticsWindowId,
  type AnalyticsWindowKind,
  type PartitionKeys,
} from '../redis-keys.js';

/** The consumer group's name, hence its key namespace (`analytics.<version>`). */
export const ANALYTICS_PROJECTION = 'analytics';

/** Field of the version's meta hash that holds the {@link AnalyticsLayout} as JSON. */
export const ANALYTICS_META_FIELD = 'analytics';

/** Most windows one read may cover. */
export const MAX_WINDOWS_PER_READ = 2_000;

/** Where a reader finds the analytics keys; any `ReadModelSource` of lib/read-models fits. */
export interface AnalyticsSource {
  readonly redis: Redis;
  /** `config.redis.keyPrefix`. */
  readonly keyPrefix: string;
}

/** The shape of the windows of one kind. */
export interface WindowShape {
  readonly sizeMs: number;
  readonly advanceMs: number;
}

/** What the analytics group stores about itself (meta hash, field `analytics`). */
export interface AnalyticsLayout {
  readonly windows: Readonly<Record<AnalyticsWindowKind, WindowShape>>;
  readonly allowedLatenessMs: number;
  readonly graceMs: number;
  readonly topN: number;
  /** Partition count per full topic name. */
  readonly partitions: Readonly<Record<string, number>>;
}

/** A layout resolved for reading: with the key version and the finality frontier now. */
export interface AnalyticsView extends AnalyticsLayout {
  readonly version: string;
  /** Every window whose end plus grace is at or below this is final; null before the first. */
  readonly frontier: number | null;
}

/** Views of one page. */
export interface PageViews {
  readonly path: string;
  readonly views: number;
}

/**
 * An integer as a decimal string (`"27000000000000000"`, `"-5"`): how revenue leaves the readers,
 * and so the HTTP API, the live stream and the CLI's `--json`. A JSON number is exact only up to
 * 2^53 − 1 in most parsers (JavaScript's among them); a string is exact at any size, and keeping it
 * a string at every size means a client cannot work in tests and break on the first large total.
 */
export type IntegerString = string;

/** Aggregates over some span of event time, merged over every partition. */
export interface AnalyticsAggregates {
  /** Events per event type (late events excluded). */
  readonly events: Readonly<Record<string, number>>;
  readonly totalEvents: number;
  /** Distinct user ids (session ids for anonymous page views): a HyperLogLog estimate, ~0.8% error. */
  readonly uniqueUsers: number;
  /** `OrderPaid` amounts per ISO 4217 currency, in minor units, exact ({@link IntegerString}). */
  readonly revenue: Readonly<Record<string, IntegerString>>;
  readonly orders: { readonly placed: number; readonly paid: number };
  /** Most viewed pages, most views first, ties by path. */
  readonly topPages: readonly PageViews[];
}

/** One window's aggregates. */
export interface AnalyticsWindowView extends AnalyticsAggregates {
  readonly id: string;
  readonly kind: AnalyticsWindowKind;
  readonly sizeMs: number;
  readonly advanceMs: number;
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  /** The window is closed everywhere and its result no longer changes (it is, or is about to be, emitted). */
  readonly final: boolean;
}

/**
 * The message the group publishes on its updates channel (lib/redis-keys.ts
 * `analyticsUpdatesChannel`) for each applied batch, from inside the batch's fenced script.
 */
export interface AnalyticsBatchUpdate {
  readonly type: 'batch';
  /** Full topic name and partition of the batch. */
  readonly topic: string;
  readonly partition: number;
  /** Offset of the batch's last record. */
  readonly offset: string;
  /** Events in the batch (late ones included) and, of those, late ones. */
  readonly events: number;
  readonly late: number;
  /** The partition's watermark after the batch (epoch ms of event time), null before any event. */
  readonly watermark: number | null;
  /** Ids of the windows the batch added to: re-read these. */
  readonly windows: readonly string[];
}

/** The message published once a window's final result was emitted. */
export interface AnalyticsFinalUpdate {
  readonly type: 'final';
  readonly window: AnalyticsWindowView;
}

/** Any message on the analytics updates channel. */
export type AnalyticsUpdate = AnalyticsBatchUpdate | AnalyticsFinalUpdate;

/** A window to read: its kind, shape and start. */
export interface WindowRef extends WindowShape {
  readonly kind: AnalyticsWindowKind;
  readonly start: number;
}

/** The keys of one key version of the group. */
export function analyticsProjectionKeys(keyPrefix: string): ProjectionKeys {
  return new ProjectionKeys(keyPrefix, ANALYTICS_PROJECTION);
}

/** The partition keys of every partition in `layout`. */
export function layoutPartitions(
  keyPrefix: string,
  version: string,
  layout: AnalyticsLayout,
): PartitionKeys[] {
  const keys = analyticsProjectionKeys(keyPrefix);
  return Object.entries(layout.partitions).flatMap(([topic, n]) =>
    Array.from({ length: n }, (_, p) => keys.partition(version, topic, p)),
  );
}

/**
 * The group's layout, key version and frontier, or null when it has not run yet. Resolve it on
 * every read: a rebuild swaps the version at any moment.
 */
export async function readAnalyticsView(source: AnalyticsSource): Promise<AnalyticsView | null> {
  const keys = analyticsProjectionKeys(source.keyPrefix);
  const version = await source.redis.get(keys.current());
  if (!version) return null;
  const group = new AnalyticsGroupKeys(source.keyPrefix, keys.namespace(version));
  const [meta, frontier] = await Promise.all([
    source.redis.hget(keys.meta(version), ANALYTICS_META_FIELD),
    source.redis.get(group.frontier()),
  ]);
  if (!meta) return null;
  const layout = JSON.parse(meta) as AnalyticsLayout;
  return { ...layout, version, frontier: frontier === null ? null : Number(frontier) };
}

function floorDiv(a: number, b: number): number {
  const q = Math.floor(a / b);
  return q * b > a ? q - 1 : q;
}

function assertRange(from: number, to: number): void {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from >= to) {
    throw new RangeError(`time range must be integers (epoch ms) with from < to, got ${from} .. ${to}`);
  }
}

/** The windows of `kind` in `view` that start in [from, to). @throws RangeError for a bad range. */
export function windowsIn(
  view: AnalyticsLayout,
  kind: AnalyticsWindowKind,
  from: number,
  to: number,
): WindowRef[] {
  assertRange(from, to);
  const { sizeMs, advanceMs } = view.windows[kind];
  const first = floorDiv(from + advanceMs - 1, advanceMs) * advanceMs;
  const count = Math.max(0, Math.ceil((to - first) / advanceMs));
  if (count > MAX_WINDOWS_PER_READ) {
    throw new RangeError(`${count} ${kind} windows in the range; at most ${MAX_WINDOWS_PER_READ} per read`);
  }
  return Array.from({ length: count }, (_, i) => ({ kind, sizeMs, advanceMs, start: first + i * advanceMs }));
}

function idOf(w: WindowRef): string {
  return analyticsWindowId(w.kind, w.sizeMs, w.advanceMs, w.start);
}

const INTEGER_REPLY = /^-?[0-9]+$/;

/**
 * A Redis integer reply (an HGETALL value written by HINCRBY) as a BigInt, never through a JS
 * number. Strict: `BigInt('')` is 0 and `BigInt('0x1f')` is 31, neither of which Redis writes.
 *
 * @throws RangeError naming `what` for anything but a decimal integer.
 */
export function parseRedisInteger(reply: string, what: string): bigint {
  if (!INTEGER_REPLY.test(reply))
    throw new RangeError(`${what}: not an integer in Redis: ${JSON.stringify(reply)}`);
  return BigInt(reply);
}

/** `n` as a number when that is exact. @throws RangeError naming `what` past 2^53 − 1. */
export function exactNumber(n: bigint, what: string): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`${what}: ${n} is past 2^53 - 1 and cannot be a number without rounding`);
  }
  return Number(n);
}

/**
 * Merges per-partition (and per-window) counter hashes, `field → integer reply`, into one sum per
 * field, exactly: BigInt addition, whatever the number of partials and their size.
 */
export function mergeSums(hashes: Iterable<Readonly<Record<string, string>>>): Map<string, bigint> {
  const into = new Map<string, bigint>();
  for (const hash of hashes) {
    for (const [field, value] of Object.entries(hash)) {
      into.set(field, (into.get(field) ?? 0n) + parseRedisInteger(value, field));
    }
  }
  return into;
}

/**
 * The aggregates of merged sums ({@link mergeSums}): revenue as exact {@link IntegerString}s,
 * counts as numbers (checked: a count past 2^53 − 1 throws rather than rounds).
 */
export function aggregatesOf(
  sums: ReadonlyMap<string, bigint>,
  uniqueUsers: number,
  pages: readonly string[],
  topN: number,
): AnalyticsAggregates {
  const events: Record<string, number> = {};
  const revenue: Record<string, IntegerString> = {};
  let totalEvents = 0n;
  for (const [field, n] of sums) {
    const colon = field.indexOf(':');
    const [kind, name] = [field.slice(0, colon), field.slice(colon + 1)];
    if (kind === 'event') {
      events[name] = exactNumber(n, field);
      totalEvents += n;
    } else if (kind === 'revenue') revenue[name] = n.toString();
  }
  const all: PageViews[] = [];
  for (let i = 0; i < pages.length; i += 2) all.push({ path: pages[i]!, views: Number(pages[i + 1]) });
  all.sort((a, b) => b.views - a.views || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    events,
    totalEvents: exactNumber(totalEvents, 'totalEvents'),
    uniqueUsers,
    revenue,
    orders: { placed: events.OrderPlaced ?? 0, paid: events.OrderPaid ?? 0 },
    topPages: all.slice(0, topN),
  };
}

function replies(results: [Error | null, unknown][] | null): unknown[] {
  return (results ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/**
 * Reads `windows` merged over every partition of `view`: one pipelined round trip (per window,
 * one HGETALL per partition, one PFCOUNT and one ZUNION over all of them).
 */
export async function readWindowValues(
  source: AnalyticsSource,
  view: AnalyticsView,
  windows: readonly WindowRef[],
  topN: number = view.topN,
): Promise<AnalyticsWindowView[]> {
  if (windows.length === 0) return [];
  const parts = layoutPartitions(source.keyPrefix, view.version, view);
  const pipe = source.redis.pipeline();
  for (const w of windows) {
    const id = idOf(w);
    for (const k of parts) pipe.hgetall(analyticsKeys.sums(k, id));
    pipe.pfcount(...parts.map((k) => analyticsKeys.visitors(k, id)));
    pipe.zunion(parts.length, ...parts.map((k) => analyticsKeys.pages(k, id)), 'WITHSCORES');
  }
  const out = replies(await pipe.exec());
  const per = parts.length + 2;
  return windows.map((w, i) => {
    const sums = mergeSums(out.slice(i * per, i * per + parts.length) as Record<string, string>[]);
    const unique = Number(out[i * per + parts.length]);
    const pages = out[i * per + parts.length + 1] as string[];
    const end = w.start + w.sizeMs;
    return {
      id: idOf(w),
      kind: w.kind,
      sizeMs: w.sizeMs,
      advanceMs: w.advanceMs,
      start: w.start,
      end,
      final: view.frontier !== null && view.frontier >= end + view.graceMs,
      ...aggregatesOf(sums, unique, pages, topN),
    };
  });
}

/** A query over a time range for one window size. */
export interface AnalyticsWindowQuery {
  readonly kind: AnalyticsWindowKind;
  /** Windows that start in [from, to), epoch ms of event time. */
  readonly from: number;
  readonly to: number;
  /** Pages per window; default the group's configured top N. */
  readonly topN?: number;
}

/**
 * Counts, unique users, revenue, orders and top pages of each window of `kind` that starts in
 * [from, to), oldest first, with each window's finality. Empty before the group has run.
 *
 * @throws RangeError for a bad range or one of more than {@link MAX_WINDOWS_PER_READ} windows.
 */
export async function readAnalyticsWindows(
  source: AnalyticsSource,
  query: AnalyticsWindowQuery,
): Promise<AnalyticsWindowView[]> {
  assertRange(query.from, query.to);
  const view = await readAnalyticsView(source);
  if (!view) return [];
  return readWindowValues(source, view, windowsIn(view, query.kind, query.from, query.to), query.topN);
}

/** Totals over a time range: see {@link readAnalyticsTotals}. */
export interface AnalyticsTotals extends AnalyticsAggregates {
  /** The tumbling windows merged: [from, to) rounded out to whole windows. */
  readonly from: number;
  readonly to: number;
  /** True when every window merged is final. */
  readonly final: boolean;
}

/**
 * Aggregates over [from, to), merged from the tumbling windows that start in it (so the range is
 * in whole tumbling windows): sums of counts and revenue, PFCOUNT over every window's and
 * partition's HyperLogLog (users active in several windows count once), ZUNION of the pages.
 * Null before the group has run.
 */
export async function readAnalyticsTotals(
  source: AnalyticsSource,
  query: { readonly from: number; readonly to: number; readonly topN?: number },
): Promise<AnalyticsTotals | null> {
  assertRange(query.from, query.to);
  const view = await readAnalyticsView(source);
  if (!view) return null;
  const windows = windowsIn(view, 'tumbling', query.from, query.to);
  const first = windows[0];
  const last = windows.at(-1);
  const parts = layoutPartitions(source.keyPrefix, view.version, view);
  const empty = { events: {}, totalEvents: 0, uniqueUsers: 0, revenue: {}, orders: { placed: 0, paid: 0 } };
  if (!first || !last || parts.length === 0) {
    return { ...empty, topPages: [], from: query.from, to: query.from, final: false };
  }
  const ids = windows.map(idOf);
  const pipe = source.redis.pipeline();
  for (const id of ids) for (const k of parts) pipe.hgetall(analyticsKeys.sums(k, id));
  pipe.pfcount(...ids.flatMap((id) => parts.map((k) => analyticsKeys.visitors(k, id))));
  const pageKeys = ids.flatMap((id) => parts.map((k) => analyticsKeys.pages(k, id)));
  pipe.zunion(pageKeys.length, ...pageKeys, 'WITHSCORES');
  const out = replies(await pipe.exec());
  const sums = mergeSums(out.slice(0, ids.length * parts.length) as Record<string, string>[]);
  const unique = Number(out[ids.length * parts.length]);
  const pages = out[ids.length * parts.length + 1] as string[];
  const to = last.start + last.sizeMs;
  return {
    ...aggregatesOf(sums, unique, pages, query.topN ?? view.topN),
    from: first.start,
    to,
    final: view.frontier !== null && view.frontier >= to + view.graceMs,
  };
}

/**
 * Late events so far, per window kind: events that arrived after a window they belong to had
 * closed for their partition (they are also on the `analytics.late-events` topic).
 */
export async function readLateCounts(source: AnalyticsSource): Promise<Record<AnalyticsWindowKind, number>> {
  const view = await readAnalyticsView(source);
  if (!view) return { tumbling: 0, hopping: 0 };
  const pipe = source.redis.pipeline();
  for (const k of layoutPartitions(source.keyPrefix, view.version, view)) pipe.hgetall(analyticsKeys.late(k));
  const late = mergeSums(replies(await pipe.exec()) as Record<string, string>[]);
  return {
    tumbling: exactNumber(late.get('tumbling') ?? 0n, 'late tumbling'),
    hopping: exactNumber(late.get('hopping') ?? 0n, 'late hopping'),
  };
}
