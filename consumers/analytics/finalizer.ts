/**
 * The finalizer: the analytics group's periodic task. Each run it
 *
 * 1. reads every partition's progress (applied offset, largest event time, last batch time) and
 *    the log end offsets, and computes the finality frontier: the smallest watermark among the
 *    partitions that are not idle (windows.ts `finalityFrontier`). A partition is idle when it is
 *    fully consumed and had no batch for `TRIBUTARY_ANALYTICS_IDLE_TIMEOUT_MS`, or has no records
 *    at all: it no longer holds finality back;
 * 2. raises this process's frontier (batches built from now on treat windows up to it as closed,
 *    also in idle partitions that wake up), waits for this process's batches built before (so
 *    they are not refused by the fence and built again), and, if it holds the lease, stores the
 *    new frontier: first in every partition's slot (`analyticsKeys.frontier`), then the group's;
 * 3. emits every window with data whose end plus grace is at or below the frontier, oldest first:
 *    reads its merged result, produces it to `analytics.windows` keyed by window id, marks it
 *    emitted, removes it from the partitions' indexes and publishes it on the live-updates channel.
 *
 * Fencing. The lease carries a fencing token, new each time it changes hands
 * (finalizer-lease.lua); every write of a run (frontiers, emitted marks, index removals) goes
 * through finalizer-fenced.lua with the run's token and is refused once a newer token wrote, so a
 * leader that paused past its lease (GC, network) cannot move a frontier or mark a window after
 * another took over: it logs that it lost the lease and stops. Frontiers are only raised.
 *
 * Late events cannot slip into a final window, whatever frontier a batch was built with (each
 * process builds its batches on its own in-memory frontier, which may lag): a batch carries the
 * frontier it was built with to the offset fence, which refuses it, atomically with its writes,
 * when the partition's stored frontier is higher; the runtime builds it again on that frontier
 * (apply-batch.lua, `SliceFloor`). Since a partition's frontier is raised before the group's, and
 * a window is emitted only after both: any batch applied before the raise is in the emitted
 * result, any applied after was built on the raised frontier and treats the window as closed.
 *
 * Emission guarantees. A normal run emits each final window exactly once: one process holds the
 * lease, and a window is produced only while it has no emitted mark. A crash never loses a final
 * window: it stays in the partitions' indexes until it is marked, so the next lease holder emits
 * it. A crash (or a lost lease) after the produce and before the mark emits it again (at least
 * once): the same key and the same aggregates (the window is final, its keys no longer change);
 * compaction keeps one.
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
import { createKafka } from '../../lib/kafka.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { luaScript } from '../offset-fence.js';
import { RecordProbe } from '../record-probe.js';
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

type Lease = (key: string, tokenKey: string, owner: string, ms: number) => Promise<[number, string]>;
type Fenced = (numKeys: number, ...args: string[]) => Promise<[number, string?]>;

/** The writes of a run to one hash slot, applied by finalizer-fenced.lua behind `fence`. */
class FencedWrite {
  readonly keys = new Set<string>();
  /** For each operation its argc, then argc words. */
  readonly words: string[] = [];

  constructor(readonly fence: string) {}

  /**
   * A Redis command, `RAISE key value` (stores a number only if it is greater), or `AT_LEAST key
   * value` (a precondition: nothing is written unless the number at key is at least value).
   */
  command(name: string, key: string, ...args: string[]): this {
    this.keys.add(key);
    this.words.push(String(args.length + 2), name, key, ...args);
    return this;
  }

  /** Publishes on a channel (not a key: no slot) if the writes are applied. */
  publish(channel: string, message: string): this {
    this.words.push('3', 'PUBLISH', channel, message);
    return this;
  }
}

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
  private probe: RecordProbe | undefined;
  /** The lease's token while this process holds it (as of its last run). */
  private token: string | undefined;

  constructor(private readonly options: FinalizerOptions) {}

  /** One run (see the module comment). */
  async run(ctx: PeriodicContext): Promise<void> {
    const { settings, state, metrics } = this.options;
    const now = Date.now();
    const epoch = state.epoch;
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
    const read = parts.map((p, i) => {
      const stored = out[2 * i] as string | null;
      const [max, activeAt] = out[2 * i + 1] as [string | null, string | null];
      const watermark = watermarkOf(max === null ? NO_WATERMARK : Number(max), settings.allowedLatenessMs);
      const next = stored === null ? p.low : BigInt(stored) + 1n;
      const lastActiveAt = activeAt === null ? undefined : Number(activeAt);
      if (metrics && watermark !== NO_WATERMARK) {
        const labels = { group: ctx.groupId, topic: p.keys.topic, partition: String(p.keys.partition) };
        metrics.watermark.set(labels, watermark / 1000);
      }
      return { p, watermark, next, lastActiveAt, stored };
    });
    const markersOnly = await this.markersOnly(ctx, read, now);
    const progress = read.map(({ p, watermark, next, lastActiveAt }) => {
      const caughtUp = next >= p.high || markersOnly.has(p.keys.tag);
      return { watermark, idle: isIdle({ watermark, caughtUp, lastActiveAt }, now, settings.idleTimeoutMs) };
    });
    const storedFrontier = out.at(-1) === null ? NO_WATERMARK : Number(out.at(-1));
    // Another process may hold the lease and have moved the frontier on: follow it.
    state.raiseFrontier(storedFrontier, epoch);
    const token = await this.holdLease(ctx, group);
    if (token === undefined) return;

    const frontier = finalityFrontier(progress, storedFrontier);
    state.raiseFrontier(frontier, epoch);
    if (frontier === NO_WATERMARK) return;
    // This process's batches built before the raise apply first, on the floor stored now: they are
    // not refused and built again (which would produce their late events twice). Another
    // process's may be; their late events are at least once.
    await ctx.drain();
    const offsets = new Map(read.map(({ p, stored }) => [p.keys.tag, stored]));
    if (!(await this.storeFrontier(ctx, group, parts, offsets, frontier, token))) return;
    metrics?.frontier.set({ group: ctx.groupId }, frontier / 1000);
    await this.emit(ctx, group, parts, frontier, layout, token);
  }

  /**
   * The partitions (by hash tag) whose stored offset is below the log end only by offsets that
   * carry no record (a trailing transaction marker, aborted records): caught up, though
   * `stored + 1 < high`. Only partitions that would otherwise be idle are probed (no batch for the
   * idle timeout), and a verdict is remembered until the offsets change (see record-probe.ts).
   */
  private async markersOnly(
    ctx: PeriodicContext,
    read: readonly { p: PartitionInfo; next: bigint; lastActiveAt: number | undefined }[],
    now: number,
  ): Promise<Set<string>> {
    const { idleTimeoutMs } = this.options.settings;
    const suspects = read.filter(
      ({ p, next, lastActiveAt }) =>
        next < p.high && (lastActiveAt === undefined || now - lastActiveAt >= idleTimeoutMs),
    );
    if (suspects.length === 0) return new Set();
    this.probe ??= new RecordProbe(
      createKafka(ctx.config, this.options.logger, { clientId: `${ctx.groupId}-probe` }),
      ctx.admin,
      this.options.logger,
    );
    const verdicts = await this.probe.holdsRecords(
      suspects.map(({ p, next }) => ({
        topic: p.keys.topic,
        partition: p.keys.partition,
        from: next,
        to: p.high,
      })),
    );
    const tags = new Set<string>();
    for (const { p } of suspects) {
      if (verdicts.get(`${p.keys.topic}|${p.keys.partition}`) === false) tags.add(p.keys.tag);
    }
    return tags;
  }

  /**
   * Raises the stored frontier to `frontier` (never lowers it): first in every partition's slot,
   * which the fence checks batches against, then the group's. False when the lease was lost.
   */
  private async storeFrontier(
    ctx: PeriodicContext,
    group: AnalyticsGroupKeys,
    parts: readonly PartitionInfo[],
    offsets: ReadonlyMap<string, string | null>,
    frontier: number,
    token: string,
  ): Promise<boolean> {
    const writes = parts.map((p) => {
      const key = analyticsKeys.frontier(p.keys);
      const write = new FencedWrite(analyticsKeys.finalizerToken(p.keys));
      // The frontier was worked out from these offsets: if Redis lost writes since, it may be
      // ahead of what Redis holds now, and must not be stored.
      const stored = offsets.get(p.keys.tag);
      if (stored != null) write.command('AT_LEAST', p.keys.offset(), stored);
      return write.command('RAISE', key, String(frontier));
    });
    if (!(await this.fenced(ctx, writes, token))) return false;
    const own = new FencedWrite(group.leaderToken()).command('RAISE', group.frontier(), String(frontier));
    return this.fenced(ctx, [own], token);
  }

  /**
   * Runs fenced writes (one script per slot, pipelined) with the run's token. False, logged,
   * when one was refused: a newer lease holder wrote there, this process lost the lease.
   */
  private async fenced(
    ctx: PeriodicContext,
    writes: readonly FencedWrite[],
    token: string,
  ): Promise<boolean> {
    const redis = ctx.redis as Redis & { tributaryFinalizerFenced?: Fenced };
    if (!redis.tributaryFinalizerFenced) {
      redis.defineCommand('tributaryFinalizerFenced', { lua: luaScript('finalizer-fenced.lua') });
    }
    const pipe = ctx.redis.pipeline() as unknown as { tributaryFinalizerFenced: Fenced } & ReturnType<
      Redis['pipeline']
    >;
    for (const w of writes) {
      const keys = [...w.keys];
      void pipe.tributaryFinalizerFenced(1 + keys.length, w.fence, ...keys, token, JSON.stringify(w.words));
    }
    const answers = replies(await pipe.exec()) as [number, string?][];
    const refused = answers.find(([applied]) => Number(applied) !== 1);
    if (refused === undefined) return true;
    if (Number(refused[0]) === 2) {
      this.options.logger.info(
        { key: refused[1] },
        'Redis holds less than this finalizer run read (it lost writes): the run stops, the next one reads again',
      );
      return false;
    }
    this.options.logger.warn(
      { owner: this.owner, token, newer: refused[1] },
      'finalizer lease lost: a newer holder wrote; this run stops',
    );
    this.token = undefined;
    return false;
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

  /**
   * Takes or renews the lease; answers its fencing token while this process is the one that
   * emits, undefined while another is.
   */
  private async holdLease(ctx: PeriodicContext, group: AnalyticsGroupKeys): Promise<string | undefined> {
    const redis = ctx.redis as Redis & { tributaryFinalizerLease?: Lease };
    if (!redis.tributaryFinalizerLease) {
      redis.defineCommand('tributaryFinalizerLease', {
        numberOfKeys: 2,
        lua: luaScript('finalizer-lease.lua'),
      });
    }
    const ms = Math.max(1_000, 10 * this.options.settings.finalizeIntervalMs);
    const [held, value] = await redis.tributaryFinalizerLease!(
      group.leader(),
      group.leaderToken(),
      this.owner,
      ms,
    );
    const token = Number(held) === 1 ? String(value) : undefined;
    if (token !== this.token) {
      if (token !== undefined)
        this.options.logger.info({ owner: this.owner, token }, 'finalizer lease taken');
      else this.options.logger.info({ owner: this.owner, holder: value }, 'finalizer lease lost');
    }
    this.token = token;
    return token;
  }

  /** Emits the final windows up to `frontier` that are not emitted yet (see the module comment). */
  private async emit(
    ctx: PeriodicContext,
    group: AnalyticsGroupKeys,
    parts: readonly PartitionInfo[],
    frontier: number,
    view: AnalyticsLayout,
    token: string,
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
    // No batch can add to these windows any more, in any process: every partition's stored
    // frontier closes them, and the fence refuses a batch built on a lower one (module comment).

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

    const marks = new FencedWrite(group.leaderToken());
    const channel = analyticsUpdatesChannel(ctx.keys.prefix);
    for (const r of results) {
      marks.command('SET', group.emitted(r.id), String(now), 'PX', String(settings.retentionMs));
      const update: AnalyticsFinalUpdate = { type: 'final', window: r };
      marks.publish(channel, JSON.stringify(update));
    }
    if (results.length > 0 && !(await this.fenced(ctx, [marks], token))) return;
    const removals = new Map<string, FencedWrite>();
    for (const w of windows) {
      for (const k of holders.get(w.id)!) {
        let write = removals.get(k.tag);
        if (!write) removals.set(k.tag, (write = new FencedWrite(analyticsKeys.finalizerToken(k))));
        write.command('ZREM', analyticsKeys.windows(k), w.id);
      }
    }
    if (!(await this.fenced(ctx, [...removals.values()], token))) return;
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
