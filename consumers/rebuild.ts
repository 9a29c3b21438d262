/**
 * Rebuilds a read model from the log (DESIGN.md §4): a new key version is filled from the
 * earliest offsets by its own consumer group while the live version keeps serving; once it has
 * caught up with the log as it stood when the rebuild began, the version pointer is swapped in
 * one SET, and live consumers move to the new version (see live-projection.ts).
 *
 * One rebuild of a projection runs at a time (rebuild-lock.ts). A partition has caught up when
 * its stored offset + 1 reaches the target, or when the offsets left below it carry no record (a
 * trailing transaction marker, aborted records: record-probe.ts), checked once it stopped moving.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { TributaryConfig } from '../lib/config.js';
import { createKafka } from '../lib/kafka.js';
import { projectionGroupId } from '../lib/names.js';
import type { Logger } from '../lib/logger.js';
import { topicName, type EventCatalog } from '../schemas/catalog.js';
import { ErrorCodes, TributaryError } from '../lib/errors.js';
import { ProjectionKeys } from './keys.js';
import { RebuildLock } from './rebuild-lock.js';
import { RecordProbe } from './record-probe.js';
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
  /** The app's events. */
  readonly catalog: EventCatalog;
  readonly config: TributaryConfig;
  readonly logger: Logger;
  readonly projection: Projection;
  readonly keyPrefix?: string;
  /** Keep the old version's keys after the swap (default: delete them after `graceMs`). */
  readonly keepOld?: boolean;
  /** Readers that looked up the old version just before the swap finish within this. Default 2 s. */
  readonly graceMs?: number;
  readonly onProgress?: (p: RebuildProgress) => void;
  /** Lifetime of the rebuild lock without renewal (default 30 s; see rebuild-lock.ts). */
  readonly lockTtlMs?: number;
}

/** A partition that has not moved for this long is probed for trailing markers (ms). */
const STALL_PROBE_MS = 1_000;

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

/** A partition to catch up with: its offsets when the rebuild began, and where it stands. */
interface Target {
  readonly topic: string;
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
  /** The next offset to apply, as Redis says, and when that last changed (ms). */
  next: bigint;
  movedAt: number;
}

/**
 * Rebuilds `options.projection` into its next key version and swaps it in.
 *
 * @throws {@link TributaryError} `TRIBUTARY_REBUILD_LOCKED` when another rebuild of it runs.
 */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { config, projection } = options;
  const log = options.logger.child({ component: 'rebuild', projection: projection.name });
  const keys = new ProjectionKeys(options.keyPrefix ?? config.redis.keyPrefix, projection.name);
  const redis = new Redis(config.redis.url.value, { maxRetriesPerRequest: null });
  const kafka = createKafka(config, log);
  const admin = kafka.admin();
  await admin.connect();
  const started = Date.now();
  let lock: RebuildLock | undefined;
  try {
    lock = await RebuildLock.acquire(redis, keys.rebuildLock(), projection.name, log, options.lockTtlMs);
    const from = (await redis.get(keys.current())) ?? undefined;
    const to = nextVersion(from);
    // Leftovers of an interrupted rebuild to the same version start it over cleanly.
    await deleteVersion(redis, keys, to);
    await admin
      .deleteGroups([projectionGroupId(config.topics.prefix, projection.name, to)])
      .catch(() => undefined);

    // The log as it stands now is the target; events that arrive meanwhile are applied as well,
    // and the live consumers carry on from wherever the rebuild stopped.
    const targets: Target[] = [];
    for (const base of projection.topics) {
      const topic = topicName(base, config.topics.prefix);
      for (const o of await admin.fetchTopicOffsets(topic)) {
        const low = BigInt(o.low);
        targets.push({
          topic,
          partition: o.partition,
          low,
          high: BigInt(o.high),
          next: low,
          movedAt: started,
        });
      }
    }
    const probe = new RecordProbe(kafka, admin, log);
    const total = targets.reduce((n, t) => n + Number(t.high - t.low), 0);
    log.info({ from, to, total }, 'rebuild started');

    const runtime = await ConsumerRuntime.start({
      catalog: options.catalog,
      config,
      logger: options.logger,
      projection,
      version: to,
      keyPrefix: keys.prefix,
    });
    try {
      for (;;) {
        const now = Date.now();
        for (const t of targets) {
          const stored = await redis.get(keys.partition(to, t.topic, t.partition).offset());
          const next = stored === null ? t.low : BigInt(stored) + 1n;
          if (next !== t.next) Object.assign(t, { next, movedAt: now });
        }
        // Stalled short of the target: the offsets left may carry no record at all.
        const stalled = targets.filter((t) => t.next < t.high && now - t.movedAt >= STALL_PROBE_MS);
        const empty =
          stalled.length === 0
            ? new Map<string, boolean>()
            : await probe.holdsRecords(stalled.map((t) => ({ ...t, from: t.next, to: t.high })));
        let done = 0;
        let complete = true;
        for (const t of targets) {
          const reached = t.next >= t.high || empty.get(`${t.topic}|${t.partition}`) === false;
          done += Number((reached ? t.high : t.next) - t.low);
          if (!reached) complete = false;
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
      if (lock.lost) {
        throw new TributaryError(
          ErrorCodes.REBUILD_LOCKED,
          `the rebuild lock of ${projection.name} was lost while it ran: ${to} is not swapped in`,
        );
      }
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
    await lock?.release().catch((err: unknown) => log.warn({ err }, 'could not release the rebuild lock'));
    await admin.disconnect();
    redis.disconnect();
  }
}
