/**
 * Rebuilds a read model from the log (DESIGN.md §4): a new key version is filled from the
 * earliest offsets by its own consumer group while the live version keeps serving; once it has
 * caught up with the log as it stood when the rebuild began, the version pointer is swapped in
 * one SET, and live consumers move to the new version (see live-projection.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { TributaryConfig } from '../lib/config.js';
import { createKafka, projectionGroupId } from '../lib/kafka.js';
import type { Logger } from '../lib/logger.js';
import { topicName } from '../schemas/catalog.js';
import { ProjectionKeys } from './keys.js';
import { ConsumerRuntime } from './runtime/consumer-runtime.js';
import type { Projection } from './runtime/types.js';

export interface RebuildProgress {
  readonly done: number;
  readonly total: number;
  readonly eventsPerSecond: number;
  /** Seconds left at the current rate, or undefined before a rate is known. */
  readonly etaSeconds: number | undefined;
}

export interface RebuildOptions {
  readonly config: TributaryConfig;
  readonly logger: Logger;
  readonly projection: Projection;
  readonly keyPrefix?: string;
  /** Keep the old version's keys after the swap (default: delete them after `graceMs`). */
  readonly keepOld?: boolean;
  /** Readers that looked up the old version just before the swap finish within this. Default 2 s. */
  readonly graceMs?: number;
  readonly onProgress?: (p: RebuildProgress) => void;
}

export interface RebuildResult {
  readonly from: string | undefined;
  readonly to: string;
  readonly records: number;
  readonly seconds: number;
}

/** The version after `v<n>`: `v<n+1>` (`v1` when there is none). */
export function nextVersion(current: string | null | undefined): string {
  const n = current ? Number(/^v(\d+)$/.exec(current)?.[1] ?? 0) : 0;
  return `v${n + 1}`;
}

/** Deletes every key of one version of a projection (all partitions, all topics). */
export async function deleteVersion(redis: Redis, keys: ProjectionKeys, version: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  const pattern = `${keys.prefix}{${keys.namespace(version)}:*`;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (found.length > 0) deleted += await redis.unlink(...found);
    cursor = next;
  } while (cursor !== '0');
  await redis.unlink(keys.meta(version));
  return deleted;
}

export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { config, projection } = options;
  const log = options.logger.child({ component: 'rebuild', projection: projection.name });
  const keys = new ProjectionKeys(options.keyPrefix ?? config.redis.keyPrefix, projection.name);
  const redis = new Redis(config.redis.url.value, { maxRetriesPerRequest: null });
  const admin = createKafka(config, log).admin();
  await admin.connect();
  const started = Date.now();
  try {
    const from = (await redis.get(keys.current())) ?? undefined;
    const to = nextVersion(from);
    // Leftovers of an interrupted rebuild to the same version start it over cleanly.
    await deleteVersion(redis, keys, to);
    await admin
      .deleteGroups([projectionGroupId(config.topics.prefix, projection.name, to)])
      .catch(() => undefined);

    // The log as it stands now is the target; events that arrive meanwhile are applied as well,
    // and the live consumers carry on from wherever the rebuild stopped.
    const targets: { topic: string; partition: number; low: bigint; high: bigint }[] = [];
    for (const base of projection.topics) {
      const topic = topicName(base, config.topics.prefix);
      for (const o of await admin.fetchTopicOffsets(topic)) {
        targets.push({ topic, partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) });
      }
    }
    const total = targets.reduce((n, t) => n + Number(t.high - t.low), 0);
    log.info({ from, to, total }, 'rebuild started');

    const runtime = await ConsumerRuntime.start({
      config,
      logger: options.logger,
      projection,
      version: to,
      keyPrefix: keys.prefix,
    });
    try {
      for (;;) {
        let done = 0;
        let complete = true;
        for (const t of targets) {
          const stored = await redis.get(keys.partition(to, t.topic, t.partition).offset());
          const next = stored === null ? t.low : BigInt(stored) + 1n;
          const reached = next > t.high ? t.high : next;
          done += Number(reached - t.low);
          if (next < t.high) complete = false;
        }
        const secs = (Date.now() - started) / 1000;
        const rate = done / Math.max(secs, 0.001);
        options.onProgress?.({
          done,
          total,
          eventsPerSecond: Math.round(rate),
          etaSeconds: rate > 0 ? Math.ceil((total - done) / rate) : undefined,
        });
        if (complete) break;
        await sleep(250);
      }
      await redis.hset(keys.meta(to), {
        builtAt: new Date().toISOString(),
        records: String(total),
        from: from ?? '',
      });
      // The swap: readers and live consumers follow this pointer.
      await redis.set(keys.current(), to);
      log.info({ from, to }, 'version swapped');
    } finally {
      await runtime.stop();
    }
    if (from && !options.keepOld) {
      await sleep(options.graceMs ?? 2_000);
      const deleted = await deleteVersion(redis, keys, from);
      await admin
        .deleteGroups([projectionGroupId(config.topics.prefix, projection.name, from)])
        .catch(() => undefined);
      log.info({ version: from, deleted }, 'old version deleted');
    }
    return { from, to, records: total, seconds: (Date.now() - started) / 1000 };
  } finally {
    await admin.disconnect();
    redis.disconnect();
  }
}
