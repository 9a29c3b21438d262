/**
 * Records a projection handled, summed over its topics' partitions: each partition's `progress`
 * counter is written in the same fenced script as the batch, so it counts each record exactly
 * once (more than the topics hold means a record was applied twice, fewer means one was lost).
 */
import type { Redis } from 'ioredis';
import { ProjectionKeys, progressKey } from '../../lib/redis-keys.js';

export async function projectionRecords(
  redis: Redis,
  prefix: string,
  projection: string,
  topics: readonly string[],
  partitions: number,
  version = 'v1',
): Promise<number> {
  const keys = new ProjectionKeys(prefix, projection);
  const pipeline = redis.pipeline();
  for (const topic of topics) {
    for (let p = 0; p < partitions; p++)
      pipeline.hget(progressKey(keys.partition(version, topic, p)), 'records');
  }
  let records = 0;
  for (const [err, v] of (await pipeline.exec()) ?? []) {
    if (err) throw err;
    records += Number(v ?? 0);
  }
  return records;
}
