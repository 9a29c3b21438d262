/**
 * Test isolation: every test names its own topics, consumer groups and Redis key prefix, and
 * the factory that creates them registers their cleanup.
 */
import { randomBytes } from 'node:crypto';
import type { Admin } from 'kafkajs';
import { Redis } from 'ioredis';
import { inject, onTestFinished } from 'vitest';
import { loadConfig, type TributaryConfig } from '../../lib/config.js';
import { createKafka } from '../../lib/kafka.js';
import { initLogger, type Logger } from '../../lib/logger.js';

export interface StackEndpoints {
  kafkaBrokers: string[];
  registryUrl: string;
  redisUrl: string;
  stateDir: string;
}

/** A short random id for names. */
export function uid(): string {
  return randomBytes(5).toString('hex');
}

let logger: Logger | undefined;
export function testLogger(): Logger {
  return (logger ??= initLogger({
    level: (process.env.TRIBUTARY_TEST_LOG_LEVEL as 'warn') ?? 'error',
    destination: 2,
  }));
}

/**
 * A configuration pointing at the test stack, with a random topic prefix so this test's topics
 * are its own. `extra` overrides any `TRIBUTARY_*` variable.
 */
export function testConfig(extra: Record<string, string> = {}): TributaryConfig {
  const stack = inject('stack');
  return loadConfig({
    TRIBUTARY_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    TRIBUTARY_SCHEMA_REGISTRY_URL: stack.registryUrl,
    TRIBUTARY_REDIS_URL: stack.redisUrl,
    TRIBUTARY_STATE_DIR: stack.stateDir,
    TRIBUTARY_TOPIC_PREFIX: `t${uid()}.`,
    TRIBUTARY_TOPIC_PARTITIONS: '3',
    ...extra,
  });
}

/** A connected admin client, disconnected when the test finishes. */
export async function testAdmin(config: TributaryConfig): Promise<Admin> {
  const admin = createKafka(config, testLogger()).admin();
  await admin.connect();
  onTestFinished(async () => {
    await admin.disconnect();
  });
  return admin;
}

/** Deletes every topic starting with the config's prefix when the test finishes. */
export function cleanupTopics(config: TributaryConfig, admin: Admin): void {
  onTestFinished(async () => {
    const prefix = config.topics.prefix;
    if (!prefix) return;
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 }).catch(() => undefined);
  });
}

/** A Redis client with a random key prefix; every key under it is deleted when the test finishes. */
export function testRedis(config: TributaryConfig): { redis: Redis; prefix: string } {
  const prefix = `test:${uid()}:`;
  const redis = new Redis(config.redis.url.value, { maxRetriesPerRequest: 3 });
  onTestFinished(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  });
  return { redis, prefix };
}
