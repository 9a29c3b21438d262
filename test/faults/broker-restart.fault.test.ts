/**
 * The broker goes away mid-stream and comes back: `tributary consume users` keeps running through
 * the outage, resumes by itself, and the read model equals the oracle with every record applied
 * exactly once. Runs a Kafka of its own (same code as `tributary stack up`, its own state dir and
 * ports), so the shared test stack is never disturbed; the registry and Redis are the shared ones.
 */
import { engineNames } from '../../lib/engines/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { prng } from '../../examples/shop/generator.js';
import { Publisher } from '../../producers/publisher.js';
import { describeGroup, topicRecordCount } from '../helpers/consumer-group.js';
import { spawnConsumer, warnIfStaleBuild } from '../helpers/consumer-process.js';
import { faultSeed } from '../helpers/fault-seed.js';
import { ownKafka, ownKafkaPorts } from '../helpers/own-kafka.js';
import { testLogger } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { diffUsers, readUsers, usersOracle } from '../helpers/users-oracle.js';
import { usersFixture } from '../helpers/users-fixture.js';
import { publishAll, userEventStream } from '../helpers/user-stream.js';
import { shopCatalog } from '../helpers/shop.js';

const EVENTS = 50_000;
const ports = await ownKafkaPorts(engineNames);

describe.each(engineNames.map((engine, i) => ({ engine, ports: ports[i]! })))(
  'consumer through broker outages ($engine engine)',
  ({ engine, ports }) => {
    const kafka = ownKafka(engine, ports);
    const { config } = kafka;

    it(
      'resumes by itself after the broker is killed, and after it is stopped, mid-stream',
      { timeout: 240_000 },
      async () => {
        expect(config.kafka.brokers.external).toBe(false);
        warnIfStaleBuild();
        const seed = faultSeed('broker-restart');
        const random = prng(seed);
        const t0 = Date.now();
        const log: string[] = [];
        const note = (m: string) => log.push(`${String(Date.now() - t0).padStart(6)} ms  ${m}`);
        onTestFinished(() => console.log([`[broker-restart] seed ${seed}`, ...log].join('\n')));

        await kafka.up();
        note(`own Kafka up at ${config.kafka.brokers.value.join(',')}`);
        const f = await usersFixture({}, config);
        const events = userEventStream({ seed }, EVENTS);
        const parts = [0, 0.4, 0.7, 1].map((x) => Math.floor(x * EVENTS));
        const produce = async (from: number, to: number) => {
          const publisher = await Publisher.create(shopCatalog, f.config, testLogger());
          await publishAll(publisher, events.slice(from, to));
          await publisher.close();
          produced = to;
          note(`events ${from}..${to - 1} produced`);
        };
        let produced = 0;
        let seen = 0;
        const consumer = spawnConsumer(f.config);
        // After the broker is back, KafkaJS rejoins as a new member and waits out the old member's
        // session (30 s): allow for that.
        const untilApplied = (target: number, timeoutMs = 90_000) =>
          until(async () => (seen = await f.progress()) >= target, `${target} records applied`, {
            timeoutMs,
            intervalMs: 5,
            describe: () =>
              `at ${seen}; consumer ${consumer.alive ? 'running' : 'exited'}:\n${consumer.log()}`,
          });
        /** Stops the broker once `target` records are applied, keeps it down a while, starts it again. */
        const outage = async (target: number, how: 'crash' | 'stop') => {
          await untilApplied(target);
          // A crash is SIGKILL at once; a stop is SIGTERM and Kafka's controlled shutdown.
          await kafka.down(how === 'crash' ? 0 : 20_000);
          const at = await f.progress();
          const downMs = 1_000 + Math.floor(random() * 4_000);
          note(`broker ${how === 'crash' ? 'killed (SIGKILL)' : 'stopped (SIGTERM)'} at progress ${at}`);
          await sleep(downMs);
          expect(consumer.alive, `the consumer exited while the broker was down:\n${consumer.log()}`).toBe(
            true,
          );
          await kafka.up();
          const back = Date.now();
          const group = await describeGroup(f.config, f.groupId);
          note(
            `broker back after ${downMs} ms down plus its start-up; group ${group.state}, ${group.members} member(s)`,
          );
          // Watched in the background (after a clean stop, only the next events show the recovery):
          // when has the consumer applied what was there before the outage, and one record more?
          const caughtUp = Math.max(produced, at + 1);
          watchers.push(
            until(async () => (await f.progress()) >= caughtUp, 'the consumer to catch up', {
              timeoutMs: 120_000,
            }).then(() => {
              note(`consumer applied record ${caughtUp} ${Date.now() - back} ms after the broker was back`);
            }),
          );
          return at;
        };
        const watchers: Promise<void>[] = [];

        // 1. A backlog is being applied when the broker dies: batches in hand, commits in flight.
        await produce(parts[0]!, parts[1]!);
        const atCrash = await outage(Math.floor(parts[1]! * (0.1 + 0.6 * random())), 'crash');
        expect(atCrash, 'the crash came after the backlog was applied').toBeLessThan(parts[1]!);
        // 2. New events arrive and are being applied when the broker is shut down cleanly.
        await produce(parts[1]!, parts[2]!);
        await outage(parts[1]! + Math.floor((parts[2]! - parts[1]!) * 0.2 * random()), 'stop');
        // 3. The stream goes on after the broker is back.
        await produce(parts[2]!, parts[3]!);
        expect(await topicRecordCount(f.config, f.topic)).toBe(EVENTS);

        await untilApplied(EVENTS, 120_000);
        await Promise.all(watchers);
        note('every record applied');
        await sleep(1_000);
        expect(consumer.alive, consumer.log()).toBe(true);
        const exit = await consumer.stop();
        expect(exit.code, consumer.log()).toBe(0);

        const read = await readUsers(f.redis, f.prefix, f.topic, f.partitions);
        expect(read.records).toBe(EVENTS);
        const oracle = usersOracle(events);
        expect(diffUsers(read.users, oracle)).toEqual([]);
        expect(read.users.size).toBe(oracle.size);
        note('read model equals the oracle');
      },
    );
  },
);
