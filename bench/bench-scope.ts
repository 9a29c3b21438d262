/**
 * Every bench run works in a scope of its own: fresh topics under a random prefix (so a run
 * never reads another's records and partitions come from `--partitions`), a Redis key prefix of
 * its own, and cleanup of both (and of its consumer groups) when it ends.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Admin } from 'kafkajs';
import { createTopicsAndWait, desiredTopics, provisionTopics } from '../infra/topics.js';
import type { TributaryConfig } from '../lib/config.js';
import type { EngineName } from '../lib/engine.js';
import { createKafka } from '../lib/kafka.js';
import type { Logger } from '../lib/logger.js';
import type { EventCatalog } from '../schemas/catalog.js';

export interface ScopeOptions {
  /** The events whose topics the scope provisions. */
  readonly catalog: EventCatalog;
  readonly partitions: number;
  readonly engine: EngineName;
  /** Keep the topics, keys and groups (to inspect them). Default false. */
  readonly keep?: boolean;
}

/**
 * Waits until every data topic answers ListOffsets: a KRaft broker may still say "not the
 * leader" for a moment after the leaders show in metadata, and a consumer seeking then logs errors.
 */
async function settle(
  admin: Admin,
  config: TributaryConfig,
  catalog: EventCatalog,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const { name: base } of catalog.eventTopics) {
    for (;;) {
      try {
        await admin.fetchTopicOffsets(`${config.topics.prefix}${base}`);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

/** An isolated corner of the stack for one bench run. */
export class BenchScope {
  private constructor(
    /** The config with this scope's topic prefix, key prefix, partitions and engine. */
    readonly config: TributaryConfig,
    readonly id: string,
    readonly admin: Admin,
    readonly redis: Redis,
    /** The events of the app the run drives. */
    readonly catalog: EventCatalog,
    private readonly logger: Logger,
    private readonly keep: boolean,
  ) {}

  /** Creates the scope and provisions every topic under its prefix. */
  static async open(base: TributaryConfig, logger: Logger, options: ScopeOptions): Promise<BenchScope> {
    const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const config: TributaryConfig = {
      ...base,
      kafka: { ...base.kafka, engine: options.engine },
      topics: { ...base.topics, prefix: `${base.topics.prefix}bench-${id}.`, partitions: options.partitions },
      redis: { ...base.redis, keyPrefix: `${base.redis.keyPrefix}bench:${id}:` },
    };
    // kafkajs's admin logs a KRaft broker's brief UNKNOWN_TOPIC after a create as an error.
    const quiet = logger.child({ component: 'bench' }, { level: 'silent' });
    const admin = createKafka(config, quiet).admin();
    await admin.connect();
    await provisionTopics(admin, quiet, desiredTopics(config, options.catalog));
    await settle(admin, config, options.catalog);
    const redis = new Redis(config.redis.url.value, { maxRetriesPerRequest: 3, lazyConnect: true });
    await redis.connect();
    return new BenchScope(config, id, admin, redis, options.catalog, logger, options.keep ?? false);
  }

  /** A topic's full name in this scope (`users` → `<prefix>bench-<id>.users`). */
  topic(base: string): string {
    return `${this.config.topics.prefix}${base}`;
  }

  /** Creates an extra topic (for a reference tool) with this scope's partitions. */
  async createTopic(base: string): Promise<string> {
    const name = this.topic(base);
    await createTopicsAndWait(this.admin, [
      {
        topic: name,
        numPartitions: this.config.topics.partitions,
        replicationFactor: this.config.topics.replicationFactor,
        configEntries: [{ name: 'compression.type', value: 'producer' }],
      },
    ]);
    return name;
  }

  /** Records stored in a topic (sum over partitions of high − low watermark). */
  async storedRecords(topic: string): Promise<number> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  }

  /** Deletes the scope's topics, consumer groups and Redis keys (unless kept), then disconnects. */
  async close(): Promise<void> {
    try {
      if (!this.keep) await this.cleanup();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, scope: this.id }, 'bench cleanup incomplete');
    } finally {
      await this.admin.disconnect().catch(() => undefined);
      this.redis.disconnect();
    }
  }

  private async cleanup(): Promise<void> {
    const prefix = this.config.topics.prefix;
    const topics = (await this.admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await this.admin.deleteTopics({ topics, timeout: 30_000 });
    const groups = (await this.admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((g) => g.startsWith(prefix));
    if (groups.length > 0) await this.admin.deleteGroups(groups).catch(() => undefined);
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${this.config.redis.keyPrefix}*`,
        'COUNT',
        1000,
      );
      if (keys.length > 0) await this.redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
}
