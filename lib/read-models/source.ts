/**
 * What every read-model reader needs: the Redis that holds the models, the key prefix, the full
 * topic names, and each topic's partition count.
 *
 * Partition counts. Projections keep a partition's keys under that partition's hash tag, so a
 * reader that wants one entity computes its partition from its id ({@link partitionOf}) and
 * needs the topic's partition count for that. It comes from Kafka's topic metadata, fetched once
 * and reused for `ttlMs` (a minute by default; partition counts change only when an operator adds
 * partitions). While Kafka is unreachable the last known count is used; with none known, reads
 * that need it fail with `unavailable`. A topic that does not exist has 0 partitions (and no data)
 * and is asked again after a few seconds. Readers never read Kafka otherwise.
 */
import { Redis } from 'ioredis';
import type { TributaryConfig } from '../config.js';
import { createFailFastAdmin } from '../kafka.js';
import type { Logger } from '../logger.js';
import { ProjectionKeys } from '../redis-keys.js';
import { ReadModelError, ReadModelErrorCodes } from './errors.js';

/** The partition count of a topic (its full name, prefix included). */
export interface PartitionCounts {
  count(topic: string): Promise<number>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Everything a reader needs; built once per process (service or CLI run). */
export interface ReadModelSource {
  readonly redis: Redis;
  /** `config.redis.keyPrefix`: in front of every key. */
  readonly keyPrefix: string;
  /** `config.topics.prefix`: in front of every topic name. */
  readonly topicPrefix: string;
  readonly partitions: PartitionCounts;
}

/** The full name of base topic `base` (`users`, `orders`) in `source`. */
export function topicOf(source: ReadModelSource, base: string): string {
  return `${source.topicPrefix}${base}`;
}

/**
 * The key version readers use now for `projection` (`v1`, `v2` after a rebuild), or null when the
 * projection never ran. Resolve it on every read: a rebuild swaps it at any moment.
 */
export async function currentVersion(
  source: ReadModelSource,
  projection: string,
): Promise<{ keys: ProjectionKeys; version: string | null }> {
  const keys = new ProjectionKeys(source.keyPrefix, projection);
  return { keys, version: await source.redis.get(keys.current()) };
}

/** How long an unknown topic's 0 is believed, at most. */
const MISSING_TOPIC_TTL_MS = 5_000;

/** Partition counts from a fetch function, cached for `ttlMs`, the last known one kept on failure. */
export class CachedPartitionCounts implements PartitionCounts {
  private readonly cache = new Map<string, { count: number; at: number }>();
  private readonly inFlight = new Map<string, Promise<number>>();

  constructor(
    private readonly fetchCount: (topic: string) => Promise<number>,
    private readonly ttlMs: number,
    private readonly logger?: Logger,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {}

  async count(topic: string): Promise<number> {
    const known = this.cache.get(topic);
    const ttl = known?.count === 0 ? Math.min(this.ttlMs, MISSING_TOPIC_TTL_MS) : this.ttlMs;
    if (known && Date.now() - known.at < ttl) return known.count;
    let pending = this.inFlight.get(topic);
    if (!pending) {
      pending = this.refresh(topic, known?.count).finally(() => this.inFlight.delete(topic));
      this.inFlight.set(topic, pending);
    }
    return pending;
  }

  private async refresh(topic: string, stale: number | undefined): Promise<number> {
    try {
      const count = await this.fetchCount(topic);
      if (stale !== undefined && stale !== count) {
        this.logger?.warn({ topic, from: stale, to: count }, 'partition count changed');
      }
      this.cache.set(topic, { count, at: Date.now() });
      return count;
    } catch (err) {
      if (stale !== undefined) {
        this.logger?.warn(
          { topic, err: (err as Error).message },
          'topic metadata unavailable; using last count',
        );
        // Try again on a later read, not on every one.
        this.cache.set(topic, { count: stale, at: Date.now() - this.ttlMs + MISSING_TOPIC_TTL_MS });
        return stale;
      }
      throw new ReadModelError(
        ReadModelErrorCodes.UNAVAILABLE,
        `the partition count of topic ${topic} is unknown: Kafka metadata cannot be fetched`,
        { cause: err },
      );
    }
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/** True for kafkajs's "this topic does not exist" protocol error. */
function isUnknownTopic(err: unknown): boolean {
  return (err as { type?: unknown } | null)?.type === 'UNKNOWN_TOPIC_OR_PARTITION';
}

/**
 * Partition counts from Kafka's topic metadata through one admin client that fails fast (two
 * retries, 2 s timeouts), cached for `ttlMs` (`TRIBUTARY_QUERY_PARTITIONS_TTL_MS`).
 */
export function kafkaPartitionCounts(
  config: TributaryConfig,
  logger: Logger,
  ttlMs: number = config.query.partitionsTtlMs,
): CachedPartitionCounts {
  const admin = createFailFastAdmin(config, logger, 'query');
  const fetchCount = async (topic: string): Promise<number> => {
    try {
      return await admin.call(async (a) => {
        const { topics } = await a.fetchTopicMetadata({ topics: [topic] });
        return topics.find((t) => t.name === topic)?.partitions.length ?? 0;
      });
    } catch (err) {
      if (isUnknownTopic(err)) return 0;
      throw err;
    }
  };
  return new CachedPartitionCounts(fetchCount, ttlMs, logger, () => admin.close());
}

/** Fixed partition counts (one for every topic, or per topic): for tests and offline tools. */
export function fixedPartitionCounts(counts: number | Readonly<Record<string, number>>): PartitionCounts {
  return {
    count: async (topic) => (typeof counts === 'number' ? counts : (counts[topic] ?? 0)),
    close: async () => undefined,
  };
}

/** A {@link ReadModelSource} with its own connections, and how to release them. */
export interface OwnedReadModelSource extends ReadModelSource {
  close(): Promise<void>;
}

/**
 * Connects to the configured Redis (failing fast: one retry per command, 5 s command timeout, so
 * an outage answers 503 instead of hanging) and Kafka metadata; `close()` releases both.
 */
export function openReadModelSource(
  config: TributaryConfig,
  logger: Logger,
  options: { readonly partitions?: PartitionCounts; readonly keyPrefix?: string } = {},
): OwnedReadModelSource {
  const redis = new Redis(config.redis.url.value, {
    maxRetriesPerRequest: 1,
    commandTimeout: 5_000,
    connectTimeout: 2_000,
  });
  let lastLogged = 0;
  redis.on('error', (err: Error) => {
    // ioredis reports every failed reconnect; one line per 10 s is enough.
    if (Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    logger.warn({ component: 'read-models', err: err.message }, 'redis connection error');
  });
  const partitions = options.partitions ?? kafkaPartitionCounts(config, logger);
  return {
    redis,
    keyPrefix: options.keyPrefix ?? config.redis.keyPrefix,
    topicPrefix: config.topics.prefix,
    partitions,
    async close() {
      await partitions.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
