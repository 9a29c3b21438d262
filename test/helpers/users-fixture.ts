/**
 * The setting of a users-projection fault test: a random topic prefix with its topics provisioned,
 * a random Redis key prefix the consumers write under, cleanup of both when the test finishes.
 */
import type { Admin } from 'kafkajs';
import type { Redis } from 'ioredis';
import type { TributaryConfig } from '../../lib/config.js';
import { projectionGroupId } from '../../lib/names.js';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, testRedis } from './stack.js';
import { readProgress } from './users-oracle.js';
import { shopCatalog } from './shop.js';

export interface UsersFixture {
  readonly config: TributaryConfig;
  readonly admin: Admin;
  readonly redis: Redis;
  /** Redis key prefix of this test (also `config.redis.keyPrefix`). */
  readonly prefix: string;
  /** The full name of the `users` topic. */
  readonly topic: string;
  readonly partitions: number;
  /** The consumer group of the users projection's first key version. */
  readonly groupId: string;
  /** Records the projection handled so far (the fenced `progress` counters). */
  progress(): Promise<number>;
}

/** Provisions the topics of a fresh prefix; `extra` overrides `TRIBUTARY_*` settings. */
export async function usersFixture(
  extra: Record<string, string> = {},
  base: TributaryConfig = testConfig(extra),
): Promise<UsersFixture> {
  const { redis, prefix } = testRedis(base);
  const config: TributaryConfig = { ...base, redis: { ...base.redis, keyPrefix: prefix } };
  const admin = await testAdmin(config);
  cleanupTopics(config, admin);
  await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
  const topic = `${config.topics.prefix}users`;
  const partitions = config.topics.partitions;
  return {
    config,
    admin,
    redis,
    prefix,
    topic,
    partitions,
    groupId: projectionGroupId(config.topics.prefix, 'users', 'v1'),
    progress: () => readProgress(redis, prefix, topic, partitions),
  };
}
