/**
 * The analytics consumer group (DESIGN.md §5): windowed aggregates of `users`, `orders` and
 * `page-views` in event time, run by the consumer runtime like a projection, so every batch's
 * writes go through the offset fence (a kill -9 never counts anything twice).
 *
 * Per partition batch: each event (by its `occurredAt`) is added to every tumbling and hopping
 * window that contains it and is still open for its partition; windows already closed refuse it,
 * and it is then counted as late and sent to the late-events topic (late-events.ts). The batch
 * writes the merged window aggregates (window-batch.ts), the partition's largest event time (its
 * watermark's source) and last-batch time, and publishes a live-update message; the finalizer
 * (finalizer.ts) later emits windows that became final.
 *
 * The late rule reads state across batches: the partition's largest event time, restored from
 * Redis before the first batch of an assignment and committed in memory only once the fence
 * applied the batch, and the finality frontier this process knows (a floor; see AnalyticsState).
 * That frontier may lag the stored one (another process's finalizer raised it): each batch hands
 * the frontier it was built with to the fence, which refuses it when the partition's stored
 * frontier is higher, and the batch is built again on that one (finalizer.ts, "Late events").
 */
import type { Redis } from 'ioredis';
import type { AnalyticsBatchUpdate } from '../../lib/read-models/analytics.js';
import {
  AnalyticsGroupKeys,
  analyticsKeys,
  analyticsUpdatesChannel,
  type PartitionKeys,
} from '../../lib/redis-keys.js';
import { topicName } from '../../schemas/catalog.js';
import type { AnyEvent } from '../../examples/shop/generated/events.js';
import type { WriteBatch } from '../offset-fence.js';
import type {
  AppliedRecord,
  BatchOutcome,
  PeriodicContext,
  Projection,
  ProjectionSetup,
} from '../runtime/types.js';
import { analyticsMetrics } from './analytics-metrics.js';
import { AnalyticsState } from './analytics-state.js';
import { Finalizer } from './finalizer.js';
import { lateEventRecord } from './late-events.js';
import { WindowBatch, factsOf } from './window-batch.js';
import {
  NO_WATERMARK,
  hopping,
  isAhead,
  splitByLateness,
  tumbling,
  watermarkOf,
  windowsContaining,
  type TimeWindow,
} from './windows.js';

/** The group's name: `tributary consume analytics`, keys `analytics.<version>`. */
export const ANALYTICS_NAME = 'analytics';

/** The topics it reads. */
export const ANALYTICS_TOPICS: readonly string[] = ['users', 'orders', 'page-views'];

/** The topics it writes: late events, and final windows (keyed by window id, compacted). */
export const ANALYTICS_OUTPUT_TOPICS = {
  lateEvents: 'analytics.late-events',
  windows: 'analytics.windows',
} as const;

/** A batch being built for one partition. */
interface Working {
  max: number;
  /** The frontier when the batch began: windows up to it are closed for this batch. */
  readonly floor: number;
  readonly batch: WindowBatch;
}

/** The analytics group for one runtime: a fresh instance, with its own state and finalizer. */
export function createAnalyticsProjection(setup: ProjectionSetup): Projection<AnyEvent> {
  const { config, groupId } = setup;
  const s = config.analytics;
  const specs = [tumbling(s.tumblingMs), hopping(s.hoppingSizeMs, s.hoppingAdvanceMs)];
  const maxSkewMs = config.events.maxClockSkewMs;
  const state = new AnalyticsState();
  const metrics = setup.metrics ? analyticsMetrics(setup.metrics.registry) : undefined;
  const lateTopic = `${config.topics.prefix}${ANALYTICS_OUTPUT_TOPICS.lateEvents}`;
  const working = new Map<string, Working>();
  let finalizer: Finalizer | undefined;
  const finalize = (ctx: PeriodicContext): Promise<void> => {
    finalizer ??= new Finalizer({
      settings: s,
      topics: ANALYTICS_TOPICS.map((t) => topicName(t, config.topics.prefix)),
      windowsTopic: `${config.topics.prefix}${ANALYTICS_OUTPUT_TOPICS.windows}`,
      state,
      logger: setup.logger.child({ component: 'analytics-finalizer' }),
      ...(metrics && { metrics }),
    });
    return finalizer.run(ctx);
  };

  const begin = (keys: PartitionKeys): Working => {
    const w = {
      max: state.maxEventTime.get(keys.tag) ?? NO_WATERMARK,
      floor: state.frontier,
      batch: new WindowBatch(),
    };
    working.set(keys.tag, w);
    return w;
  };

  return {
    name: ANALYTICS_NAME,
    topics: ANALYTICS_TOPICS,

    async restore(keys: PartitionKeys, redis: Redis): Promise<void> {
      const group = new AnalyticsGroupKeys(keys.prefix, keys.namespace);
      const [max, frontier, floor] = await Promise.all([
        redis.hget(analyticsKeys.state(keys), 'maxEventTime'),
        redis.get(group.frontier()),
        redis.get(analyticsKeys.frontier(keys)),
      ]);
      state.maxEventTime.set(keys.tag, max === null ? NO_WATERMARK : Number(max));
      if (frontier !== null) state.raiseFrontier(Number(frontier));
      if (floor !== null) state.raiseFrontier(Number(floor));
    },

    reset(): void {
      // Redis went back in time: so does what this process knew of it.
      state.reset();
    },

    begin(keys: PartitionKeys): void {
      begin(keys);
    },

    apply(record: AppliedRecord<AnyEvent>, _writes: WriteBatch, keys: PartitionKeys): void {
      const w = working.get(keys.tag) ?? begin(keys);
      // Validate first: a refused event must leave the batch as it was.
      const facts = factsOf(record.event);
      const t = record.event.data.occurredAt;
      // An event time further ahead than the allowed clock skew is a clock's fault, not news: it
      // is late for its windows and never moves the watermark (one such event would otherwise
      // make every later event of its partition late, and the frontier jump ahead).
      const ahead = isAhead(t, record.timestamp, Date.now(), maxSkewMs);
      const max = ahead ? w.max : Math.max(w.max, t);
      const watermark = Math.max(watermarkOf(max, s.allowedLatenessMs), w.floor);
      const open: TimeWindow[] = [];
      const refused: TimeWindow[] = [];
      for (const spec of specs) {
        if (ahead) {
          refused.push(...windowsContaining(spec, t));
          continue;
        }
        const split = splitByLateness(spec, t, watermark, s.graceMs);
        open.push(...split.open);
        refused.push(...split.late);
      }
      w.max = max;
      for (const window of open) w.batch.add(window, facts, record.offset);
      w.batch.seen(facts.type);
      w.batch.lastOffset = record.offset;
      if (refused.length > 0) {
        const why = ahead ? 'clock-skew' : 'watermark';
        w.batch.late(refused, lateEventRecord(record, refused, watermark, groupId, why));
      }
    },

    finish(writes: WriteBatch, keys: PartitionKeys): BatchOutcome | undefined {
      const w = working.get(keys.tag);
      working.delete(keys.tag);
      if (!w) return undefined;
      const { batch, max } = w;
      batch.writeTo(writes, keys, s.retentionMs);
      const stateKey = analyticsKeys.state(keys);
      if (max !== NO_WATERMARK) writes.command('HSET', stateKey, 'maxEventTime', max);
      writes.command('HSET', stateKey, 'activeAt', Date.now());
      const watermark = watermarkOf(max, s.allowedLatenessMs);
      const update: AnalyticsBatchUpdate = {
        type: 'batch',
        topic: keys.topic,
        partition: keys.partition,
        offset: batch.lastOffset,
        events: batch.events,
        late: batch.lateEvents,
        watermark: watermark === NO_WATERMARK ? null : watermark,
        windows: batch.windowIds(),
      };
      writes.publish(analyticsUpdatesChannel(keys.prefix), JSON.stringify(update));
      return {
        sideOutputs: [{ topic: lateTopic, records: batch.lateRecords }],
        // Refused by the fence if a window this batch adds to became final meanwhile.
        floor: { key: analyticsKeys.frontier(keys), builtWith: w.floor },
        onFloorRaised: (floor) => state.raiseFrontier(floor),
        onApplied: () => {
          state.maxEventTime.set(keys.tag, max);
          if (!metrics) return;
          for (const [type, n] of batch.eventsByType) metrics.events.inc({ group: groupId, type }, n);
          for (const [kind, n] of batch.lateByKind) metrics.late.inc({ group: groupId, kind }, n);
        },
      };
    },

    periodic: { intervalMs: s.finalizeIntervalMs, run: finalize },
  };
}

/**
 * The analytics group as an app registers it. A runtime calls `configure` and runs the instance
 * it returns, with the window sizes of its config (`TRIBUTARY_ANALYTICS_*`); the object itself
 * only names the group and its topics. Its writes are made in `finish`: `apply` only adds to the
 * batch in memory.
 */
export const analyticsProjection: Projection<AnyEvent> = {
  name: ANALYTICS_NAME,
  topics: ANALYTICS_TOPICS,
  apply(): void {
    throw new Error('the analytics group runs the instance configure() makes (through the consumer runtime)');
  },
  configure: createAnalyticsProjection,
};
