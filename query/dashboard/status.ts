/**
 * What `GET /dashboard/status` answers: for every projection (and the analytics group), its live
 * key version, how many records it handled, how far behind the log it is, and whether its
 * consumer group has members. Read-only, from two places:
 *
 * - Redis, through the one key builder (lib/redis-keys.ts): the version pointers
 *   (`<prefix>projection:<name>:current`, found with SCAN and remembered for a minute), and per
 *   partition the fence offset (`…:offset`, the last offset applied) and the `…:progress` counter
 *   that the consumer runtime updates inside each fenced batch.
 * - Kafka, through one admin client that fails fast: each topic's high watermark, and each
 *   group's state and member count.
 *
 * Lag is measured against the offset stored in Redis, not Kafka's commit: Redis is where the
 * exactly-once effect lives, and Kafka's commit may trail it by a batch. The answer is cached for
 * a couple of seconds, so many open dashboards cost Redis and Kafka no more than one.
 */
import type { TributaryConfig } from '../../lib/config.js';
import { createFailFastAdmin } from '../../lib/kafka.js';
import { projectionGroupId } from '../../lib/names.js';
import type { Logger } from '../../lib/logger.js';
import { readAnalyticsView, readLateCounts } from '../../lib/read-models/analytics.js';
import type { ReadModelSource } from '../../lib/read-models/source.js';
import { ProjectionKeys, progressKey } from '../../lib/redis-keys.js';
import type {
  AnalyticsProgress,
  ConsumerHealth,
  DashboardStatusBody,
  PartitionProgress,
  ProjectionProgress,
} from './status-types.js';

/** What the status needs from Kafka; {@link kafkaStatusProbe} is the real one, tests may fake it. */
export interface KafkaStatusProbe {
  /** Per partition of `topic`: the low and high watermarks. */
  watermarks(topic: string): Promise<Map<number, { low: number; high: number }>>;
  /** Per group id: Kafka's state of the group and its member count. */
  groups(groupIds: readonly string[]): Promise<Map<string, { state: string; members: number }>>;
  close(): Promise<void>;
}

export interface StatusReaderOptions {
  /** Redis, key and topic prefixes, partition counts: the query service's read-model source. */
  readonly source: ReadModelSource;
  /** Base names of the app's event topics. */
  readonly topics: readonly string[];
  readonly kafka: KafkaStatusProbe;
  /** A group is `lagging` beyond this many records. Default 1,000. */
  readonly lagThreshold?: number;
  /** How long an answer is reused (ms). Default 2,000. */
  readonly cacheMs?: number;
  /** How long the list of projections found in Redis is reused (ms). Default 60,000. */
  readonly discoveryMs?: number;
  readonly logger?: Logger;
}

/** Escapes Redis glob characters, so a key prefix is matched literally by SCAN MATCH. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Reads, combines and caches the status; one per query service. */
export class StatusReader {
  private cached: { at: number; body: Promise<DashboardStatusBody> } | undefined;
  private names: { at: number; list: string[] } | undefined;
  private readonly lagThreshold: number;

  constructor(private readonly options: StatusReaderOptions) {
    this.lagThreshold = options.lagThreshold ?? 1_000;
  }

  /** The status, at most `cacheMs` old. */
  read(): Promise<DashboardStatusBody> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= (this.options.cacheMs ?? 2_000)) {
      const body = this.compute();
      this.cached = { at: now, body };
      // A failure is not cached: the next call tries again.
      body.catch(() => (this.cached = undefined));
    }
    return this.cached.body;
  }

  close(): Promise<void> {
    return this.options.kafka.close();
  }

  /** Names of the projections that have a version pointer in Redis. */
  private async projectionNames(): Promise<string[]> {
    const now = Date.now();
    if (this.names && now - this.names.at < (this.options.discoveryMs ?? 60_000)) return this.names.list;
    const { redis, keyPrefix } = this.options.source;
    // The pointer's key with a placeholder name shows where the name sits in it.
    const [head, tail] = new ProjectionKeys(keyPrefix, '\u0000').current().split('\u0000') as [
      string,
      string,
    ];
    const pattern = new ProjectionKeys(escapeGlob(keyPrefix), '*').current();
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
      for (const key of keys) found.add(key.slice(head.length, key.length - tail.length));
      cursor = next;
    } while (cursor !== '0');
    const list = [...found].filter((n) => n !== '' && !n.includes(':')).sort();
    this.names = { at: now, list };
    return list;
  }

  private async compute(): Promise<DashboardStatusBody> {
    const { source, kafka } = this.options;
    const names = await this.projectionNames();
    const topics = this.options.topics.map((t) => `${source.topicPrefix}${t}`);
    const counts = await Promise.all(topics.map((t) => source.partitions.count(t).catch(() => 0)));

    // One pipeline: every projection's version pointer, then its per-partition offsets and counters.
    const pointers =
      names.length === 0
        ? []
        : await source.redis.mget(...names.map((n) => new ProjectionKeys(source.keyPrefix, n).current()));
    const live = names.flatMap((name, i) => (pointers[i] ? [{ name, version: pointers[i] }] : []));
    const reads = source.redis.pipeline();
    for (const { name, version } of live) {
      const keys = new ProjectionKeys(source.keyPrefix, name);
      topics.forEach((topic, t) => {
        for (let p = 0; p < counts[t]!; p++) {
          const k = keys.partition(version, topic, p);
          reads.get(k.offset());
          reads.hget(progressKey(k), 'records');
        }
      });
    }
    const replies = (await reads.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    const values = replies.map(([, v]) => (v === null || v === undefined ? null : Number(v)));

    let kafkaError: string | undefined;
    const watermarks = new Map<string, Map<number, { low: number; high: number }>>();
    let groups = new Map<string, { state: string; members: number }>();
    try {
      const used = topics.filter((_, t) => counts[t]! > 0);
      const marks = await Promise.all(used.map((t) => kafka.watermarks(t)));
      used.forEach((t, i) => watermarks.set(t, marks[i]!));
      groups = await kafka.groups(live.map((l) => projectionGroupId(source.topicPrefix, l.name, l.version)));
    } catch (err) {
      kafkaError = (err as Error).message;
      this.options.logger?.warn({ err: kafkaError }, 'dashboard status: Kafka did not answer');
    }

    let v = 0;
    const projections = live.map(({ name, version }): ProjectionProgress => {
      const partitions: PartitionProgress[] = [];
      topics.forEach((topic, t) => {
        for (let p = 0; p < counts[t]!; p++) {
          const appliedOffset = values[v++] ?? null;
          const records = values[v++] ?? null;
          // A projection reads a topic when it applied something from one of its partitions.
          if (appliedOffset === null && records === null) continue;
          const mark = watermarks.get(topic)?.get(p);
          const next = appliedOffset === null ? 0 : appliedOffset + 1;
          partitions.push({
            topic,
            partition: p,
            appliedOffset,
            endOffset: mark?.high ?? null,
            lag: mark ? Math.max(0, mark.high - Math.max(next, mark.low)) : null,
            records: records ?? 0,
          });
        }
      });
      const groupId = projectionGroupId(source.topicPrefix, name, version);
      const group = groups.get(groupId);
      const lag =
        kafkaError !== undefined || partitions.some((p) => p.lag === null)
          ? null
          : partitions.reduce((sum, p) => sum + p.lag!, 0);
      return {
        name,
        version,
        groupId,
        groupState: group?.state ?? null,
        members: group?.members ?? null,
        records: partitions.reduce((sum, p) => sum + p.records, 0),
        lag,
        health: this.health(kafkaError === undefined, group?.members, lag),
        partitions,
      };
    });
    return {
      at: Date.now(),
      lagThreshold: this.lagThreshold,
      kafka: kafkaError === undefined ? { ok: true } : { ok: false, error: kafkaError },
      projections,
      analytics: await this.analytics(),
    };
  }

  /** The analytics group's layout, finality frontier and late events; null before it ran. */
  private async analytics(): Promise<AnalyticsProgress | null> {
    const { source } = this.options;
    const [view, late] = await Promise.all([readAnalyticsView(source), readLateCounts(source)]);
    if (!view) return null;
    return {
      version: view.version,
      windows: view.windows,
      allowedLatenessMs: view.allowedLatenessMs,
      graceMs: view.graceMs,
      frontier: view.frontier,
      late,
    };
  }

  private health(kafkaOk: boolean, members: number | undefined, lag: number | null): ConsumerHealth {
    if (!kafkaOk || members === undefined) return 'unknown';
    if (members === 0) return 'down';
    if (lag !== null && lag > this.lagThreshold) return 'lagging';
    return 'ok';
  }
}

/** The status's Kafka side through one admin client that fails fast (two retries, 2 s timeouts). */
export function kafkaStatusProbe(config: TributaryConfig, logger: Logger): KafkaStatusProbe {
  const admin = createFailFastAdmin(config, logger, 'dashboard');
  return {
    watermarks: (topic) =>
      admin.call(async (a) => {
        const offsets = await a.fetchTopicOffsets(topic);
        return new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
      }),
    groups: (groupIds) =>
      admin.call(async (a) => {
        if (groupIds.length === 0) return new Map();
        const { groups } = await a.describeGroups([...groupIds]);
        return new Map(groups.map((g) => [g.groupId, { state: g.state, members: g.members.length }]));
      }),
    close: () => admin.close(),
  };
}
