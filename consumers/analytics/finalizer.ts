/**
 * The finalizer: the analytics group's periodic task. Each run it
 *
 * 1. reads every partition's progress (applied offset, largest event time, last batch time) and
 *    the log end offsets, and computes the finality frontier: the smallest watermark among the
 *    partitions that are not idle (windows.ts `finalityFrontier`). A partition is idle when it is
 *    fully consumed and had no batch for `TRIBUTARY_ANALYTICS_IDLE_TIMEOUT_MS`, or has no records
 *    at all: it no longer holds finality back;
 * 2. raises this process's frontier (batches built from now on treat windows up to it as closed,
 *    also in idle partitions that wake up), and, if it holds the lease, stores the new frontier;
 * 3. waits for the batches in hand (built with the old frontier) to be fenced, then emits every
 *    window with data whose end plus grace is at or below the frontier, oldest first: reads its
 *    merged result, produces it to `analytics.windows` keyed by window id, marks it emitted,
 *    removes it from the partitions' indexes and publishes it on the live-updates channel.
 *
 * Emission guarantees. A normal run emits each final window exactly once: one process holds the
 * lease, and a window is produced only while it has no emitted mark. A crash never loses a final
 * window: it stays in the partitions' indexes until it is marked, so the next lease holder emits
 * it. A crash after the produce and before the mark emits it again (at least once): the same key
 * and the same aggregates (the window is final, its keys no longer change); compaction keeps one.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { AnalyticsSettings } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import {
  ANALYTICS_META_FIELD,
  readWindowValues,
  type AnalyticsFinalUpdate,
  type AnalyticsLayout,
  type AnalyticsWindowView,
} from '../../lib/read-models/analytics.js';
import {
  AnalyticsGroupKeys,
  analyticsKeys,
  analyticsUpdatesChannel,
  type PartitionKeys,
} from '../../lib/redis-keys.js';
import { WindowResultCodec, type WindowResult } from '../../schemas/analytics-window.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { luaScript } from '../offset-fence.js';
import type { PeriodicContext } from '../runtime/types.js';
import type { AnalyticsMetrics } from './analytics-metrics.js';
import type { AnalyticsState } from './analytics-state.js';
import { NO_WATERMARK, finalityFrontier, isIdle, watermarkOf, windowOfId } from './windows.js';

/** Most windows one run emits, so that a run (and a lease renewal) stays short. */
const MAX_EMIT_PER_RUN = 500;

export interface FinalizerOptions {
  readonly settings: AnalyticsSettings;
  /** Full names of the topics the group reads. */
  readonly topics: readonly string[];
  /** Full name of the output topic. */
  readonly windowsTopic: string;
  readonly state: AnalyticsState;
  readonly logger: Logger;
  readonly metrics?: AnalyticsMetrics;
}

interface PartitionInfo {
  readonly keys: PartitionKeys;
  readonly low: bigint;
  readonly high: bigint;
}

type Lease = (key: string, owner: string, ms: number) => Promise<number>;

function replies(results: [Error | null, unknown][] | null): unknown[] {
  return (results ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

export class Finalizer {
  /** This process's id in the lease. */
  readonly owner = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
  private codec: WindowResultCodec | undefined;
  private leader = false;

  constructor(private readonly options: FinalizerOptions) {}

  /** One run (see the module comment). */
  async run(ctx: PeriodicContext): Promise<void> {
    const { settings, state, metrics } = this.options;
    const now = Date.now();
    const group = new AnalyticsGroupKeys(ctx.keys.prefix, ctx.keys.namespace(ctx.version));
    const parts = await this.partitions(ctx);
    const layout = await this.storeLayout(ctx, parts);

    const pipe = ctx.redis.pipeline();
    for (const p of parts) {
      pipe.get(p.keys.offset());
      pipe.hmget(analyticsKeys.state(p.keys), 'maxEventTime', 'activeAt');
    }
    pipe.get(group.frontier());
    const out = replies(await pipe.exec());
    const progress = parts.map((p, i) => {
      const stored = out[2 * i] as string | null;
      const [max, activeAt] = out[2 * i + 1] as [string | null, string | null];
      const watermark = watermarkOf(max === null ? NO_WATERMARK : Number(max), settings.allowedLatenessMs);
      const caughtUp = (stored === null ? p.low : BigInt(stored) + 1n) >= p.high;
      const lastActiveAt = activeAt === null ? undefined : Number(activeAt);
      if (metrics && watermark !== NO_WATERMARK) {
        const labels = { group: ctx.groupId, topic: p.keys.topic, partition: String(p.keys.partition) };
        metrics.watermark.set(labels, watermark / 1000);
      }
      return { watermark, idle: isIdle({ watermark, caughtUp, lastActiveAt }, now, settings.idleTimeoutMs) };
    });
    const storedFrontier = out.at(-1) === null ? NO_WATERMARK : Number(out.at(-1));
    // Another process may hold the lease and have moved the frontier on: follow it.
    state.raiseFrontier(storedFrontier);
    if (!(await this.holdLease(ctx, group))) return;

    const frontier = finalityFrontier(progress, storedFrontier);
    state.raiseFrontier(frontier);
    if (frontier === NO_WATERMARK) return;
    if (frontier > storedFrontier) await ctx.redis.set(group.frontier(), String(frontier));
    metrics?.frontier.set({ group: ctx.groupId }, frontier / 1000);
    await this.emit(ctx, group, parts, frontier, layout);
  }

  /** The partitions of the group's topics and their log offsets now. */
  private async partitions(ctx: PeriodicContext): Promise<PartitionInfo[]> {
    const all = await Promise.all(
      this.options.topics.map(async (topic) =>
        (await ctx.admin.fetchTopicOffsets(topic)).map((o) => ({
          keys: ctx.keys.partition(ctx.version, topic, o.partition),
          low: BigInt(o.low),
          high: BigInt(o.high),
        })),
      ),
    );
    return all.flat().sort((a, b) => a.keys.tag.localeCompare(b.keys.tag));
  }

  /** Stores the layout readers need in the version's meta hash; answers it. */
  private async storeLayout(ctx: PeriodicContext, parts: readonly PartitionInfo[]): Promise<AnalyticsLayout> {
    const s = this.options.settings;
    const partitions: Record<string, number> = {};
    for (const p of parts) partitions[p.keys.topic] = (partitions[p.keys.topic] ?? 0) + 1;
    const layout: AnalyticsLayout = {
      windows: {
        tumbling: { sizeMs: s.tumblingMs, advanceMs: s.tumblingMs },
        hopping: { sizeMs: s.hoppingSizeMs, advanceMs: s.hoppingAdvanceMs },
      },
      allowedLatenessMs: s.allowedLatenessMs,
      graceMs: s.graceMs,
      topN: s.topN,
      partitions,
    };
    // Stored on every run, not only when it changed: Redis may have lost it (a restart that lost
    // its last writes), and readers find nothing without it.
    await ctx.redis.hset(ctx.keys.meta(ctx.version), ANALYTICS_META_FIELD, JSON.stringify(layout));
    return layout;
  }

  /** Takes or renews the lease; true while this process is the one that emits. */
  private async holdLease(ctx: PeriodicContext, group: AnalyticsGroupKeys): Promise<boolean> {
    const redis = ctx.redis as Redis & { tributaryFinalizerLease?: Lease };
    if (!redis.tributaryFinalizerLease) {
      redis.defineCommand('tributaryFinalizerLease', {
        numberOfKeys: 1,
        lua: luaScript('finalizer-lease.lua'),
      });
    }
    const ms = Math.max(1_000, 10 * this.options.settings.finalizeIntervalMs);
    const held = (await redis.tributaryFinalizerLease!(group.leader(), this.owner, ms)) === 1;
    if (held !== this.leader) {
      this.options.logger.info(
        { owner: this.owner, held },
        held ? 'finalizer lease taken' : 'finalizer lease lost',
      );
      this.leader = held;
    }
    return held;
  }

  /** Emits the final windows up to `frontier` that are not emitted yet (see the module comment). */
  private async emit(
    ctx: PeriodicContext,
    group: AnalyticsGroupKeys,
    parts: readonly PartitionInfo[],
    frontier: number,
    view: AnalyticsLayout,
  ): Promise<void> {
    const { settings, metrics } = this.options;
    const cutoff = frontier - settings.graceMs;
    const pipe = ctx.redis.pipeline();
    for (const p of parts) {
      pipe.zrangebyscore(analyticsKeys.windows(p.keys), '-inf', cutoff, 'LIMIT', 0, MAX_EMIT_PER_RUN);
    }
    const holders = new Map<string, PartitionKeys[]>();
    replies(await pipe.exec()).forEach((ids, i) => {
      for (const id of ids as string[]) {
        const list = holders.get(id) ?? [];
        list.push(parts[i]!.keys);
        holders.set(id, list);
      }
    });
    if (holders.size === 0) return;
    const windows = [...holders.keys()]
      .map(windowOfId)
      .sort((a, b) => a.end - b.end || a.start - b.start || (a.id < b.id ? -1 : 1))
      .slice(0, MAX_EMIT_PER_RUN);
    // Batches built before this process raised its frontier may still add to these windows.
    await ctx.drain();

    const check = ctx.redis.pipeline();
    for (const w of windows) check.exists(group.emitted(w.id));
    const marked = replies(await check.exec());
    const due = windows.filter((_, i) => marked[i] === 0);
    const results = await readWindowValues(
      { redis: ctx.redis, keyPrefix: ctx.keys.prefix },
      { ...view, version: ctx.version, frontier },
      due,
    );
    const now = Date.now();
    const codec = await this.codecFor(ctx);
    const records = results.map((r) => ({
      key: r.id,
      value: codec.encode(windowResult(r, frontier, now)),
      headers: { 'window-kind': r.kind },
    }));
    if (records.length > 0) await ctx.producer.send(this.options.windowsTopic, records);

    const done = ctx.redis.pipeline();
    const channel = analyticsUpdatesChannel(ctx.keys.prefix);
    for (const r of results) {
      done.set(group.emitted(r.id), String(now), 'PX', settings.retentionMs);
      const update: AnalyticsFinalUpdate = { type: 'final', window: r };
      done.publish(channel, JSON.stringify(update));
    }
    for (const w of windows) for (const k of holders.get(w.id)!) done.zrem(analyticsKeys.windows(k), w.id);
    replies(await done.exec());
    for (const r of results) metrics?.windowsEmitted.inc({ group: ctx.groupId, kind: r.kind });
    if (results.length > 0) {
      this.options.logger.debug({ windows: results.length, frontier }, 'final windows emitted');
    }
  }

  private async codecFor(ctx: PeriodicContext): Promise<WindowResultCodec> {
    if (!this.codec) {
      const codec = new WindowResultCodec(createSchemaRegistryClient(ctx.config), this.options.windowsTopic);
      await codec.prepare();
      this.codec = codec;
    }
    return this.codec;
  }
}

/** The output record of a final window. */
export function windowResult(r: AnalyticsWindowView, frontier: number, emittedAt: number): WindowResult {
  return {
    windowId: r.id,
    kind: r.kind === 'tumbling' ? 'TUMBLING' : 'HOPPING',
    sizeMs: r.sizeMs,
    advanceMs: r.advanceMs,
    start: r.start,
    end: r.end,
    events: r.events,
    totalEvents: r.totalEvents,
    uniqueUsers: r.uniqueUsers,
    revenue: r.revenue,
    ordersPlaced: r.orders.placed,
    ordersPaid: r.orders.paid,
    topPages: r.topPages,
    frontier,
    emittedAt,
  };
}
