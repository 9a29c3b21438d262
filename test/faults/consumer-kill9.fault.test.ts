/**
 * `kill -9` of the consumer at random points (DESIGN.md §4): the users topic is filled first, then
 * `tributary consume users` runs as a child process and is killed without warning again and again
 * (mid-stream at random record counts plus a random delay, and a few times during start-up),
 * restarted each time, and finally left to finish. The read model must equal the oracle computed
 * from the produced events, and the fenced `progress` counter must equal the number of records
 * on the topic exactly: more means a batch was applied twice, fewer that one was lost.
 *
 * CI: 100,000 events, 10 mid-stream kills + 2 start-up kills. `TRIBUTARY_FAULT_SCALE=full`:
 * 1,000,000 events, 20 + 4 kills. `TRIBUTARY_FAULT_SEED` replays a run (stream and kill plan).
 */
import { engineNames } from '../../lib/engines/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ProjectionKeys } from '../../lib/redis-keys.js';
import { prng } from '../../examples/shop/generator.js';
import { Publisher } from '../../producers/publisher.js';
import { evictGroupMembers, topicRecordCount } from '../helpers/consumer-group.js';
import { spawnConsumer, warnIfStaleBuild, type ConsumerProcess } from '../helpers/consumer-process.js';
import { faultSeed, fullScale } from '../helpers/fault-seed.js';
import { testLogger } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { diffUsers, readUsers, usersOracle } from '../helpers/users-oracle.js';
import { usersFixture, type UsersFixture } from '../helpers/users-fixture.js';
import { publishAll, userEventStream } from '../helpers/user-stream.js';
import { shopCatalog } from '../helpers/shop.js';

const EVENTS = fullScale ? 1_000_000 : 100_000;
const MID_STREAM_KILLS = fullScale ? 20 : 10;
const STARTUP_KILLS = fullScale ? 4 : 2;
const PARTITIONS = 3;

interface Kill {
  /** Kill once the progress counter reached this many records (mid-stream), else during start-up. */
  readonly afterRecords?: number;
  /** Then wait this long (ms) before the kill. */
  readonly delayMs: number;
}

/** The kill plan of a seed: mid-stream kills at sorted random record counts, start-up kills among them. */
function killPlan(random: () => number): Kill[] {
  const counts = Array.from({ length: MID_STREAM_KILLS }, () => Math.floor(random() * EVENTS * 0.95));
  const plan: Kill[] = counts
    .sort((a, b) => a - b)
    .map((afterRecords) => ({ afterRecords, delayMs: Math.floor(random() * 40) }));
  for (let i = 0; i < STARTUP_KILLS; i++) {
    plan.splice(Math.floor(random() * (plan.length + 1)), 0, { delayMs: Math.floor(random() * 700) });
  }
  return plan;
}

describe.each(engineNames)('consumer runtime under kill -9 (%s engine)', (engine) => {
  it(
    `applies ${EVENTS.toLocaleString('en')} user events exactly once across ${MID_STREAM_KILLS + STARTUP_KILLS} kills`,
    { timeout: fullScale ? 1_200_000 : 180_000 },
    async () => {
      warnIfStaleBuild();
      const seed = faultSeed('consumer-kill9');
      const random = prng(seed);
      const t0 = Date.now();
      const f = await usersFixture({
        TRIBUTARY_TOPIC_PARTITIONS: String(PARTITIONS),
        TRIBUTARY_CLIENT_ENGINE: engine,
      });

      const events = userEventStream({ seed }, EVENTS);
      const publisher = await Publisher.create(shopCatalog, f.config, testLogger());
      await publishAll(publisher, events);
      await publisher.close();
      expect(await topicRecordCount(f.config, f.topic)).toBe(EVENTS);
      const produced = Date.now();

      const plan = killPlan(random);
      const keys = new ProjectionKeys(f.prefix, 'users');
      const timeline: string[] = [`[consumer-kill9] seed ${seed}: ${EVENTS} events`];
      onTestFinished(() => console.log(timeline.join('\n')));
      // Kills that left records applied in Redis but not committed to Kafka: the restart must not
      // apply them again (the seek to the stored offset, and the fence behind it).
      let killsInCommitWindow = 0;
      let midStreamKills = 0;
      for (const [i, kill] of plan.entries()) {
        const before = await f.progress();
        const consumer = spawnConsumer(f.config, { name: `consumer #${i + 1}` });
        const spawned = Date.now();
        if (kill.afterRecords !== undefined) {
          // Mid-stream means while this consumer applies: past the planned count and its own start.
          await untilProgress(f.progress, Math.max(kill.afterRecords, before + 1), consumer);
        }
        await sleep(kill.delayMs);
        const exit = await consumer.kill9();
        const at = await f.progress();
        expect(exit.signal, `${consumer.name} died before the kill:\n${consumer.log()}`).toBe('SIGKILL');
        const ahead = await redisAheadOfKafka(f, keys);
        if (ahead > 0) killsInCommitWindow++;
        if (kill.afterRecords !== undefined && at < EVENTS) midStreamKills++;
        timeline.push(
          `kill ${String(i + 1).padStart(2)}: ${kill.afterRecords === undefined ? 'start-up ' : 'mid-stream'} ` +
            `${Date.now() - spawned} ms after spawn, progress ${before} -> ${at}/${EVENTS}, ` +
            `Redis ahead of the Kafka commit by ${ahead}`,
        );
        // Every member is dead: let the next one join now instead of after their session timeout.
        await evictGroupMembers(f.config, f.groupId);
      }

      const last = spawnConsumer(f.config, { name: 'consumer (final)' });
      await untilProgress(f.progress, EVENTS, last);
      // A replayed batch would push the counter past the total; give it a moment to show.
      await sleep(1_000);
      const stopped = await last.stop();
      expect(stopped.code, last.log()).toBe(0);
      // On SIGTERM the CLI prints its stats: records it skipped because they were applied before.
      timeline.push(`final consumer: ${/\{"consumed".*\}/.exec(last.log())?.[0] ?? 'no stats printed'}`);
      const consumed = Date.now();

      const read = await readUsers(f.redis, f.prefix, f.topic, PARTITIONS);
      expect(read.records).toBe(EVENTS);
      const oracle = usersOracle(events);
      expect(diffUsers(read.users, oracle)).toEqual([]);
      expect(read.users.size).toBe(oracle.size);
      // Each partition's fence stands at its last record.
      const offsets = await f.admin.fetchTopicOffsets(f.topic);
      for (const o of offsets) {
        const stored = await f.redis.get(keys.partition('v1', f.topic, o.partition).offset());
        expect(stored, `partition ${o.partition}`).toBe(String(BigInt(o.high) - 1n));
      }
      expect(midStreamKills).toBeGreaterThanOrEqual(MID_STREAM_KILLS);
      timeline.push(
        `${killsInCommitWindow} kill(s) left applied records uncommitted in Kafka; ${oracle.size} users`,
        `produce ${produced - t0} ms, kills and recovery ${consumed - produced} ms, ` +
          `verify ${Date.now() - consumed} ms, total ${Date.now() - t0} ms`,
      );
    },
  );
});

/** Records applied in Redis (fence offsets) past the group's commits in Kafka, over all partitions. */
async function redisAheadOfKafka(f: UsersFixture, keys: ProjectionKeys): Promise<number> {
  const [committed] = await f.admin.fetchOffsets({ groupId: f.groupId, topics: [f.topic] });
  let ahead = 0n;
  for (const { partition, offset } of committed?.partitions ?? []) {
    const stored = await f.redis.get(keys.partition('v1', f.topic, partition).offset());
    // Kafka's commit is the next offset to read; Redis stores the last one applied.
    const next = stored === null ? 0n : BigInt(stored) + 1n;
    const commit = BigInt(offset) < 0n ? 0n : BigInt(offset);
    if (next > commit) ahead += next - commit;
  }
  return Number(ahead);
}

/** Waits until the progress counter reaches `target`; fails early if the consumer died. */
async function untilProgress(
  progress: () => Promise<number>,
  target: number,
  consumer: ConsumerProcess,
): Promise<void> {
  let seen = 0;
  await until(
    async () => {
      if (!consumer.alive) throw new Error(`${consumer.name} exited:\n${consumer.log()}`);
      seen = await progress();
      return seen >= target;
    },
    `${target} records applied`,
    {
      timeoutMs: 90_000,
      intervalMs: 5,
      describe: () => `at ${seen}; ${consumer.name} log:\n${consumer.log()}`,
    },
  );
}
