/**
 * Redis goes away mid-stream, and comes back having lost writes the consumers made: `tributary
 * consume users orders analytics` keeps running through it all, notices that Redis is behind
 * (the fence compares the stored offset with the one it expects), replays from what Redis holds,
 * and at the end every read model and every analytics window equals the oracle, each record
 * applied exactly once. Three outages, at seeded points of the stream:
 *
 * 1. `kill -9` of redis-server (AOF with `appendfsync everysec`: up to a second of writes lost);
 * 2. `SHUTDOWN NOSAVE` (AOF flushed on the way down: nothing lost, connections cut);
 * 3. `SHUTDOWN NOSAVE`, then the AOF replaced by a copy taken early in the stream: Redis comes
 *    back far behind, as after a failover to a lagging replica. This one must lose data, and the
 *    consumers must say so, also those whose partitions have no new record to apply.
 *
 * Runs a Redis of its own (same code as `tributary stack up`, its own state dir and port); Kafka
 * and the registry are the shared test stack's.
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { stackDown, stackUp } from '../../infra/stack/stack.js';
import { redisPaths, redisReady } from '../../infra/stack/redis-node.js';
import { engineNames } from '../../lib/engines/index.js';
import { readAnalyticsView } from '../../lib/read-models/analytics.js';
import { prng } from '../../examples/shop/generator.js';
import { shopCatalog, eventCatalog } from '../helpers/shop.js';
import { Publisher } from '../../producers/publisher.js';
import {
  ANALYTICS_ENV,
  T0,
  expectWindowsAsOracle,
  analyticsStream,
  analyticsTestOracle,
} from '../helpers/analytics-fixture.js';
import { spawnConsumer, warnIfStaleBuild } from '../helpers/consumer-process.js';
import { faultSeed } from '../helpers/fault-seed.js';
import { freePort } from '../helpers/free-port.js';
import { ordersOracle, readOrders } from '../helpers/orders-oracle.js';
import { projectionRecords } from '../helpers/progress.js';
import { testConfig, testLogger, uid } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { usersFixture } from '../helpers/users-fixture.js';
import { diffUsers, readUsers, usersOracle } from '../helpers/users-oracle.js';

const EVENTS = 60_000;
const ports = await Promise.all(engineNames.map(() => freePort()));

describe.each(engineNames.map((engine, i) => ({ engine, port: ports[i]! })))(
  'consumers through Redis outages that lose writes ($engine engine)',
  ({ engine, port }) => {
    const stateDir = path.resolve(`.tributary/test-redis-${uid()}`);
    const config = testConfig({
      // Empty: this Redis is local (started and stopped here), unlike the shared stack's.
      TRIBUTARY_REDIS_URL: '',
      TRIBUTARY_REDIS_PORT: String(port),
      TRIBUTARY_STATE_DIR: stateDir,
      TRIBUTARY_TOPIC_PARTITIONS: '3',
      TRIBUTARY_CLIENT_ENGINE: engine,
      ...ANALYTICS_ENV,
    });
    const aofDir = path.join(redisPaths(stateDir).dir, 'appendonlydir');
    afterAll(async () => {
      await stackDown(config, testLogger(), { only: ['redis'], graceMs: 0 });
      rmSync(stateDir, { recursive: true, force: true });
    });

    it('replays what Redis lost and ends equal to the oracle', { timeout: 300_000 }, async () => {
      expect(config.redis.url.external).toBe(false);
      warnIfStaleBuild();
      const seed = faultSeed('redis-loss');
      const random = prng(seed);
      const t0 = Date.now();
      const log: string[] = [];
      const note = (m: string) => log.push(`${String(Date.now() - t0).padStart(6)} ms  ${m}`);
      onTestFinished(() => console.log([`[redis-loss ${engine}] seed ${seed}`, ...log].join('\n')));

      const redisUp = async () => {
        await stackUp(config, testLogger(), { only: ['redis'], onProgress: () => undefined });
        // No AOF rewrite during the test: the copy of the AOF taken in outage 3 must stay loadable.
        const admin = new Redis(config.redis.url.value, { maxRetriesPerRequest: 1 });
        await admin.config('SET', 'auto-aof-rewrite-percentage', '0');
        admin.disconnect();
      };
      await redisUp();
      const f = await usersFixture({}, config);
      const events = analyticsStream(seed, 400, 40, EVENTS);
      const publisher = await Publisher.create(shopCatalog, f.config, testLogger());
      for (let i = 0; i < events.length; i += 5_000) await publisher.publishBatch(events.slice(i, i + 5_000));
      await publisher.close();
      const prefix = f.config.topics.prefix;
      const topics = ['users', 'orders', 'page-views'].map((t) => `${prefix}${t}`);
      const counts: Record<string, number> = { users: 0, orders: 0, 'page-views': 0 };
      for (const e of events) counts[eventCatalog[e.type].topic]!++;
      note(`${EVENTS} events published (${JSON.stringify(counts)}); own Redis at ${config.redis.url.value}`);

      // Progress as the fenced counters in Redis tell it; 0 while Redis is down.
      const progress = async () => {
        try {
          return {
            analytics: await projectionRecords(f.redis, f.prefix, 'analytics', topics, 3),
            users: await projectionRecords(f.redis, f.prefix, 'users', [topics[0]!], 3),
            orders: await projectionRecords(f.redis, f.prefix, 'orders', [topics[1]!], 3),
          };
        } catch {
          return { analytics: 0, users: 0, orders: 0 };
        }
      };
      const total = (p: { analytics: number; users: number; orders: number }) =>
        p.analytics + p.users + p.orders;
      const all = EVENTS + counts.users! + counts.orders!;

      const consumer = spawnConsumer(f.config, {
        projections: ['users', 'orders', 'analytics'],
        env: { ...ANALYTICS_ENV, TRIBUTARY_LOG_LEVEL: 'warn' },
      });
      await consumer.ready;
      const untilApplied = (fraction: number, timeoutMs = 120_000) =>
        until(
          async () => total(await progress()) >= fraction * all,
          `${Math.round(fraction * 100)}% applied`,
          {
            timeoutMs,
            intervalMs: 10,
            describe: () =>
              `consumer ${consumer.alive ? 'running' : 'exited'}:\n${consumer.log().slice(-4_000)}`,
          },
        );
      const down = async (how: 'kill -9' | 'SHUTDOWN NOSAVE') => {
        if (how === 'kill -9') {
          await stackDown(config, testLogger(), { only: ['redis'], graceMs: 0 });
        } else {
          const admin = new Redis(config.redis.url.value, { maxRetriesPerRequest: 0 });
          admin.on('error', () => undefined);
          await admin.shutdown('NOSAVE').catch(() => undefined);
          admin.disconnect();
          await until(
            async () => !(await redisReady(config.redis.url.value).catch(() => false)),
            'redis-server to exit',
            { timeoutMs: 10_000 },
          );
        }
      };
      const outage = async (how: 'kill -9' | 'SHUTDOWN NOSAVE', restore?: string) => {
        const before = await progress();
        await down(how);
        if (restore) {
          rmSync(aofDir, { recursive: true, force: true });
          cpSync(restore, aofDir, { recursive: true });
        }
        const downMs = 300 + Math.floor(random() * 1_500);
        await sleep(downMs);
        expect(consumer.alive, `the consumer exited while Redis was down:\n${consumer.log()}`).toBe(true);
        await redisUp();
        const after = await progress();
        note(
          `${how}${restore ? ' + an older AOF' : ''} at ${JSON.stringify(before)}; ${downMs} ms down; ` +
            `back with ${JSON.stringify(after)}`,
        );
        return { before, after };
      };

      // A copy of Redis's AOF early in the stream (users and orders applied in part at most):
      // outage 3 brings Redis back to it, when users and orders are long done and idle, with no
      // new record that would make the fence notice.
      const points = [
        0.03 + 0.05 * random(),
        0.2 + 0.1 * random(),
        0.4 + 0.1 * random(),
        0.6 + 0.15 * random(),
      ];
      await untilApplied(points[0]!);
      const copiedAt = await progress();
      const copy = path.join(stateDir, 'aof-copy');
      expect(existsSync(aofDir)).toBe(true);
      cpSync(aofDir, copy, { recursive: true });
      note(`AOF copied at ${JSON.stringify(copiedAt)} (or later: the consumers ran on meanwhile)`);
      await untilApplied(points[1]!);
      await outage('kill -9');
      await untilApplied(points[2]!);
      await outage('SHUTDOWN NOSAVE');
      await untilApplied(points[3]!);
      const lagging = await outage('SHUTDOWN NOSAVE', copy);
      // Redis came back behind what the consumers had applied: the case the fence must catch.
      expect(total(lagging.after)).toBeLessThan(total(lagging.before));
      expect(total(lagging.after)).toBeGreaterThanOrEqual(total(copiedAt));

      const want = { analytics: EVENTS, users: counts.users!, orders: counts.orders! };
      await until(
        async () => {
          const p = await progress();
          return p.analytics >= want.analytics && p.users >= want.users && p.orders >= want.orders;
        },
        'every record applied',
        { timeoutMs: 120_000, intervalMs: 50, describe: () => consumer.log().slice(-4_000) },
      );
      note(`every record applied: ${JSON.stringify(await progress())}`);
      const oracle = analyticsTestOracle(events, prefix, 3);
      await until(
        async () =>
          (await readAnalyticsView({ redis: f.redis, keyPrefix: f.prefix }))?.frontier ===
          oracle.finalFrontier,
        'the final frontier',
        { timeoutMs: 30_000 },
      );
      expect(consumer.alive, consumer.log()).toBe(true);
      // The consumer saw Redis behind it, and said so.
      expect(consumer.log()).toContain('Redis is behind this consumer');
      const exit = await consumer.stop();
      expect(exit.code, consumer.log()).toBe(0);

      // Exactly once: each record counted once by each projection.
      expect(await progress()).toEqual(want);
      // Users and orders read models equal their oracles.
      const read = await readUsers(f.redis, f.prefix, f.topic, 3);
      const users = usersOracle(events);
      expect(diffUsers(read.users, users)).toEqual([]);
      expect(read.users.size).toBe(users.size);
      const orders = ordersOracle(events);
      const { model, misplaced, scratchLeft } = await readOrders(f.redis, f.prefix, topics[1]!, 3);
      expect(misplaced).toEqual([]);
      expect(scratchLeft).toBe(0);
      expect(model.stats).toEqual(orders.stats);
      expect(model.users.size).toBe(orders.users.size);
      for (const [userId, o] of orders.users) expect(model.users.get(userId), userId).toEqual(o);
      // Every analytics window equals the oracle's.
      const span = { from: T0 - 30_000, to: T0 + 605_000 };
      const source = { redis: f.redis, keyPrefix: f.prefix };
      await expectWindowsAsOracle(source, oracle, span);
      note(`users, orders and ${oracle.windows.size} windows equal the oracle`);
    });
  },
);
