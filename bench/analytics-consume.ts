/**
 * The analytics group's consume-and-apply rate on a pre-filled set of topics: publishes N
 * generated events (users, orders, page views) to fresh topics (in a child process, so that the
 * RSS printed is the consumer's), then runs the analytics group from the earliest offsets until
 * its fenced progress counters reach N, and prints events/s, µs CPU/event and RSS.
 *
 *   npx tsx bench/analytics-consume.ts --events 1000000 [--partitions 6]
 *
 * Uses the endpoints from `TRIBUTARY_*` (default: the local stack) and deletes what it created.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { ConsumerRuntime } from '../consumers/runtime/consumer-runtime.js';
import { desiredTopics, provisionTopics } from '../infra/topics.js';
import { loadConfig } from '../lib/config.js';
import { createKafka } from '../lib/kafka.js';
import { initLogger } from '../lib/logger.js';
import { ProjectionKeys, progressKey } from '../lib/redis-keys.js';
import { benchApp } from './bench-app.js';
import { prefillInChild } from './prefill.js';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '1000000' }, partitions: { type: 'string', default: '6' } },
});
const events = Number(values.events);
const partitions = Number(values.partitions);
const id = Date.now().toString(36);
const base = loadConfig({
  ...process.env,
  TRIBUTARY_TOPIC_PREFIX: `abench-${id}.`,
  TRIBUTARY_REDIS_KEY_PREFIX: `abench-${id}:`,
  TRIBUTARY_TOPIC_PARTITIONS: String(partitions),
});
const config = base;
const logger = initLogger({ level: 'warn', destination: 2 });
const admin = createKafka(config, logger).admin();
await admin.connect();
const app = await benchApp();
await provisionTopics(admin, logger, desiredTopics(config, app.catalog));

// In a child process: the RSS measured below is the consumer's alone.
const t0 = Date.now();
await prefillInChild({ config, events, users: 50_000, size: 0, progress: false, stream: 'generated' });
process.stderr.write(`pre-filled ${events} events in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

const redis = new Redis(config.redis.url.value);
const analytics = app.projections.get('analytics')!;
const keys = new ProjectionKeys(config.redis.keyPrefix, analytics.name);
const counters = analytics.topics.flatMap((t) =>
  Array.from({ length: partitions }, (_, p) =>
    progressKey(keys.partition('v1', `${config.topics.prefix}${t}`, p)),
  ),
);
const rssStart = process.memoryUsage.rss();
const cpu = process.cpuUsage();
const started = Date.now();
const runtime = await ConsumerRuntime.start({
  catalog: app.catalog,
  config,
  logger,
  projection: analytics,
  version: 'v1',
});
let done = 0;
let firstAt: number | undefined;
let rssMax = 0;
let heapTotalMax = 0;
while (done < events) {
  await new Promise((r) => setTimeout(r, 50));
  const replies = await redis.pipeline(counters.map((k) => ['hget', k, 'records'])).exec();
  done = (replies ?? []).reduce((sum, [, v]) => sum + Number(v ?? 0), 0);
  if (done > 0) firstAt ??= Date.now();
  const memory = process.memoryUsage();
  rssMax = Math.max(rssMax, memory.rss);
  heapTotalMax = Math.max(heapTotalMax, memory.heapTotal);
  if (Date.now() - started > 30 * 60_000) throw new Error(`timed out at ${done}/${events}`);
}
const seconds = (Date.now() - started) / 1000;
const steady = (Date.now() - (firstAt ?? started)) / 1000;
const used = process.cpuUsage(cpu);
await runtime.stop();
process.stdout.write(
  `${JSON.stringify({
    events,
    partitions,
    engine: config.kafka.engine,
    seconds: Number(seconds.toFixed(1)),
    eventsPerSecond: Math.round(events / seconds),
    steadyEventsPerSecond: Math.round(events / steady),
    cpuMicrosPerEvent: Number(((used.user + used.system) / events).toFixed(1)),
    rssStartMB: Math.round(rssStart / 1024 / 1024),
    rssMaxMB: Math.round(rssMax / 1024 / 1024),
    heapTotalMaxMB: Math.round(heapTotalMax / 1024 / 1024),
  })}\n`,
);
const mine = (await admin.listTopics()).filter((t) => t.startsWith(config.topics.prefix));
await admin.deleteTopics({ topics: mine }).catch(() => undefined);
await admin.disconnect();
let cursor = '0';
do {
  const [next, found] = await redis.scan(cursor, 'MATCH', `${config.redis.keyPrefix}*`, 'COUNT', 1000);
  if (found.length > 0) await redis.unlink(...found);
  cursor = next;
} while (cursor !== '0');
redis.disconnect();
