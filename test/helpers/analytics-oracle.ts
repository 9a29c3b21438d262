/**
 * The analytics group's results computed from the events themselves, independently of the
 * consumer: each event's partition from Kafka's default partitioner, each partition's events in
 * the order they were published, windows and lateness by plain arithmetic. Valid when every event
 * was published before the consumer started (in one sequence, so each partition's order is the
 * publish order): then no partition is ever idle while it still has records, and the finality
 * frontier never decides lateness.
 */
import type { Redis } from 'ioredis';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { eventCatalog, eventKey, type TributaryEvent } from './shop.js';

export interface OracleSettings {
  readonly topicPrefix: string;
  readonly partitions: number;
  readonly tumblingMs: number;
  readonly hoppingSizeMs: number;
  readonly hoppingAdvanceMs: number;
  readonly allowedLatenessMs: number;
  readonly graceMs: number;
  /**
   * Event times past this (epoch ms) are a clock's fault: late for every window of theirs, and
   * they never move a watermark. Default: none.
   */
  readonly aheadOf?: number;
}

export interface OracleWindow {
  readonly id: string;
  readonly kind: 'tumbling' | 'hopping';
  readonly start: number;
  readonly end: number;
  readonly events: Record<string, number>;
  readonly visitors: Set<string>;
  /** Minor units per currency, summed as BigInt, as decimal strings (the readers' representation). */
  readonly revenue: Record<string, string>;
  readonly pages: Map<string, number>;
}

export interface AnalyticsOracle {
  /** Every window that received at least one event, by id. */
  readonly windows: Map<string, OracleWindow>;
  /** Events refused by at least one window: event id → ids of the windows that refused it. */
  readonly late: Map<string, string[]>;
  /** Events refused by at least one window of each kind. */
  readonly lateByKind: { tumbling: number; hopping: number };
  /** The frontier once every partition is idle: the largest partition watermark. */
  readonly finalFrontier: number;
  /** Ids of the windows with data that are final at {@link finalFrontier}, oldest end first. */
  readonly finalWindows: string[];
  /**
   * Payments refused because one of their window's revenue, in their partition, would pass
   * 2^53 − 1 (checked in publish order per partition): dead letters, counted nowhere.
   */
  readonly refused: Set<string>;
  /** Revenue per `<topic>:<partition>|<window id>|<currency>`, exact, of the payments applied. */
  readonly partitionRevenue: Map<string, bigint>;
}

const partitioner = Partitioners.DefaultPartitioner();

/** The partition the producers put `key` in (murmur2, as every engine does). */
export function partitionFor(key: string, partitions: number): number {
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, p) => ({
    partitionErrorCode: 0,
    partitionId: p,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  return partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
}

function startsContaining(t: number, size: number, advance: number): number[] {
  const starts: number[] = [];
  for (let s = Math.floor(t / advance) * advance; s + size > t; s -= advance) starts.unshift(s);
  return starts;
}

/** The oracle of `events`, published in this order. */
export function analyticsOracle(events: readonly TributaryEvent[], o: OracleSettings): AnalyticsOracle {
  const maxByPartition = new Map<string, number>();
  const windows = new Map<string, OracleWindow>();
  const late = new Map<string, string[]>();
  const lateByKind = { tumbling: 0, hopping: 0 };
  const refusedPayments = new Set<string>();
  const partitionRevenue = new Map<string, bigint>();
  const kinds = [
    { kind: 'tumbling' as const, size: o.tumblingMs, advance: o.tumblingMs },
    { kind: 'hopping' as const, size: o.hoppingSizeMs, advance: o.hoppingAdvanceMs },
  ];
  for (const e of events) {
    const tp = `${eventCatalog[e.type].topic}:${partitionFor(eventKey(e), o.partitions)}`;
    const t = e.data.occurredAt;
    const ahead = o.aheadOf !== undefined && t > o.aheadOf;
    const max = ahead
      ? (maxByPartition.get(tp) ?? -Infinity)
      : Math.max(maxByPartition.get(tp) ?? -Infinity, t);
    const watermark = max - o.allowedLatenessMs;
    const refused: string[] = [];
    const open: { kind: 'tumbling' | 'hopping'; id: string; start: number; end: number }[] = [];
    const lateKinds = new Set<'tumbling' | 'hopping'>();
    for (const { kind, size, advance } of kinds) {
      for (const start of startsContaining(t, size, advance)) {
        const id = `${kind}:${size}:${advance}:${start}`;
        if (ahead || watermark >= start + size + o.graceMs) {
          refused.push(id);
          lateKinds.add(kind);
        } else open.push({ kind, id, start, end: start + size });
      }
    }
    if (e.type === 'OrderPaid') {
      const amount = BigInt(e.data.amount);
      const keys = open.map((w) => `${tp}|${w.id}|${e.data.currency}`);
      if (keys.some((k) => (partitionRevenue.get(k) ?? 0n) + amount > BigInt(Number.MAX_SAFE_INTEGER))) {
        // A dead letter: nothing of it counts, not even its lateness or its event time.
        refusedPayments.add(e.data.eventId);
        continue;
      }
      for (const k of keys) partitionRevenue.set(k, (partitionRevenue.get(k) ?? 0n) + amount);
    }
    maxByPartition.set(tp, max);
    for (const kind of lateKinds) lateByKind[kind]++;
    for (const { kind, id, start, end } of open) {
      let w = windows.get(id);
      if (!w) {
        w = { id, kind, start, end, events: {}, visitors: new Set(), revenue: {}, pages: new Map() };
        windows.set(id, w);
      }
      w.events[e.type] = (w.events[e.type] ?? 0) + 1;
      if (e.type === 'PageViewed') {
        w.visitors.add(e.data.userId ?? `session:${e.data.sessionId}`);
        w.pages.set(e.data.path, (w.pages.get(e.data.path) ?? 0) + 1);
      } else {
        w.visitors.add(e.data.userId);
      }
      if (e.type === 'OrderPaid') {
        const sum = BigInt(w.revenue[e.data.currency] ?? 0) + BigInt(e.data.amount);
        w.revenue[e.data.currency] = sum.toString();
      }
    }
    if (refused.length > 0) late.set(e.data.eventId, refused);
  }
  const finalFrontier = Math.max(...[...maxByPartition.values()].map((m) => m - o.allowedLatenessMs));
  const finalWindows = [...windows.values()]
    .filter((w) => w.end + o.graceMs <= finalFrontier)
    .sort((a, b) => a.end - b.end || a.start - b.start || (a.id < b.id ? -1 : 1))
    .map((w) => w.id);
  return {
    windows,
    late,
    lateByKind,
    finalFrontier,
    finalWindows,
    refused: refusedPayments,
    partitionRevenue,
  };
}

/** Per-currency amounts (numbers or decimal strings) added up as BigInt, as decimal strings. */
export function addAmounts(
  parts: Iterable<Readonly<Record<string, string | number>>>,
): Record<string, string> {
  const sums = new Map<string, bigint>();
  for (const part of parts) {
    for (const [currency, n] of Object.entries(part))
      sums.set(currency, (sums.get(currency) ?? 0n) + BigInt(n));
  }
  return Object.fromEntries([...sums].map(([c, n]) => [c, n.toString()]));
}

/** The `n` most viewed pages of a window: most views first, ties by path. */
export function topPages(pages: ReadonlyMap<string, number>, n: number): { path: string; views: number }[] {
  return [...pages]
    .map(([path, views]) => ({ path, views }))
    .sort((a, b) => b.views - a.views || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .slice(0, n);
}

/** A HyperLogLog estimate is within ~3 standard errors (Redis: 0.81%) of the exact count, or 1 off. */
export function closeToExact(estimate: number, exact: number): boolean {
  // HyperLogLog's 0.81% standard error holds for large sets; Redis has been seen 3 off on 75.
  return Math.abs(estimate - exact) <= Math.max(3, Math.ceil(exact * 0.03));
}

/**
 * What Redis's own HyperLogLog estimates for exactly `members`: PFADD into a scratch key, PFCOUNT,
 * delete. The union of per-partition HLLs equals the HLL of the union, so the analytics group's
 * merged estimate must equal this number exactly.
 */
export async function hllEstimate(
  redis: Redis,
  scratchKey: string,
  members: Iterable<string>,
): Promise<number> {
  const list = [...members];
  if (list.length === 0) return 0;
  await redis.del(scratchKey);
  for (let i = 0; i < list.length; i += 1000) await redis.pfadd(scratchKey, ...list.slice(i, i + 1000));
  const n = await redis.pfcount(scratchKey);
  await redis.del(scratchKey);
  return n;
}
