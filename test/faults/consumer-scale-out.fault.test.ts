/**
 * Three `tributary consume users` processes of one group share six partitions while events keep
 * arriving. One is killed with `kill -9` mid-stream: the survivors keep applying their partitions,
 * and the dead member's partitions move to them when its session times out (a real crash, nothing
 * evicts it early). Later a new process joins and takes partitions over from live members. At the
 * end the read model equals the oracle and the fenced progress counter equals the record count.
 */
import { engineNames } from '../../lib/engines/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { prng } from '../../examples/shop/generator.js';
import { Publisher } from '../../producers/publisher.js';
import { describeGroup, topicRecordCount } from '../helpers/consumer-group.js';
import { spawnConsumer, warnIfStaleBuild, type ConsumerProcess } from '../helpers/consumer-process.js';
import { faultSeed, fullScale } from '../helpers/fault-seed.js';
import { testLogger } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { diffUsers, readUsers, usersOracle } from '../helpers/users-oracle.js';
import { usersFixture } from '../helpers/users-fixture.js';
import { userEventStream } from '../helpers/user-stream.js';
import { shopCatalog } from '../helpers/shop.js';

const PARTITIONS = 6;
/** Events per second, produced until the new member has been consuming for `TAIL_MS`. */
const RATE = fullScale ? 5_000 : 2_000;
const TAIL_MS = fullScale ? 30_000 : 5_000;
/** At most this long: the kill, the failover and the new member all fall mid-stream. */
const MAX_PRODUCE_MS = 150_000;
const CHUNK = 500;
/**
 * The members' session timeout (`TRIBUTARY_CONSUMER_SESSION_TIMEOUT_MS`): long enough that the
 * dead member visibly still holds its partitions 5 s after the kill, short enough that the test
 * also shows the setting is honoured (the default 30 s would miss the failover deadline below).
 */
const SESSION_MS = 10_000;
const env = { TRIBUTARY_CONSUMER_SESSION_TIMEOUT_MS: String(SESSION_MS) };

describe.each(engineNames)('consumer group scale-out and member failure (%s engine)', (engine) => {
  it(
    'keeps the read model exact across a killed member and a joining one',
    { timeout: 240_000 },
    async () => {
      warnIfStaleBuild();
      const seed = faultSeed('consumer-scale-out');
      const random = prng(seed);
      const t0 = Date.now();
      const f = await usersFixture({
        TRIBUTARY_TOPIC_PARTITIONS: String(PARTITIONS),
        TRIBUTARY_CLIENT_ENGINE: engine,
      });
      const stream = userEventStream({ seed }, Math.round((MAX_PRODUCE_MS / 1000) * RATE));
      const log: string[] = [];
      const note = (m: string) => log.push(`${String(Date.now() - t0).padStart(6)} ms  ${m}`);
      onTestFinished(() => console.log([`[consumer-scale-out] seed ${seed}`, ...log].join('\n')));

      const consumers: ConsumerProcess[] = ['a', 'b', 'c'].map((n) =>
        spawnConsumer(f.config, { name: `consumer ${n}`, env }),
      );
      await Promise.all(consumers.map((c) => c.ready));
      await untilGroup(f.config, f.groupId, 3);
      note('3 consumers joined');

      // Paced production in the background, CHUNK events every CHUNK / RATE seconds, until `stopAt`.
      const publisher = await Publisher.create(shopCatalog, f.config, testLogger());
      let stopAt = Infinity;
      let published = 0;
      const producing = (async () => {
        const start = Date.now();
        while (published < stream.length && Date.now() < stopAt) {
          const chunk = stream.slice(published, published + CHUNK);
          await publisher.publishBatch(chunk);
          published += chunk.length;
          const due = start + (published * 1000) / RATE;
          if (due > Date.now()) await sleep(due - Date.now());
        }
        await publisher.close();
        note(`production done: ${published} events`);
      })();

      await sleep(3_000 + Math.floor(random() * 5_000));
      const victim = consumers[Math.floor(random() * consumers.length)]!;
      await victim.kill9();
      const killedAt = Date.now();
      const atKill = await f.progress();
      note(`kill -9 ${victim.name} at progress ${atKill}`);

      // Survivors keep going while the dead member still holds its partitions.
      await sleep(5_000);
      const during = await f.progress();
      note(`progress ${during} 5 s after the kill, the dead member still in the group`);
      expect(during).toBeGreaterThan(atKill);
      // The session runs from the last heartbeat before the kill; the group then rebalances.
      await untilGroup(f.config, f.groupId, 2, SESSION_MS + 10_000);
      note(`dead member's session expired after ${Date.now() - killedAt} ms; 2 members`);

      await sleep(Math.floor(random() * 3_000));
      const joiner = spawnConsumer(f.config, { name: 'consumer d', env });
      await joiner.ready;
      await untilGroup(f.config, f.groupId, 3);
      note(`consumer d joined at progress ${await f.progress()}`);
      const live = [...consumers.filter((c) => c !== victim), joiner];
      stopAt = Date.now() + TAIL_MS;
      await producing;
      expect(published, 'the stream ran out before the new member had joined').toBeLessThan(stream.length);
      const events = stream.slice(0, published);
      const total = await topicRecordCount(f.config, f.topic);
      expect(total).toBe(events.length);
      let seen = 0;
      await until(async () => (seen = await f.progress()) >= total, 'every record applied', {
        timeoutMs: 60_000,
        describe: () => `progress ${seen}/${total}`,
      });
      note('every record applied');
      await sleep(1_000);
      const exits = await Promise.all(live.map((c) => c.stop()));
      exits.forEach((exit, i) => expect(exit.code, `${live[i]!.name}:\n${live[i]!.log()}`).toBe(0));
      note('SIGTERM: every consumer stopped cleanly');

      const read = await readUsers(f.redis, f.prefix, f.topic, PARTITIONS);
      expect(read.records).toBe(total);
      const oracle = usersOracle(events);
      expect(diffUsers(read.users, oracle)).toEqual([]);
      expect(read.users.size).toBe(oracle.size);
      note('read model equals the oracle');
    },
  );
});

/** Waits until the group is stable with `members` members. */
async function untilGroup(
  config: Parameters<typeof describeGroup>[0],
  groupId: string,
  members: number,
  timeoutMs = 30_000,
): Promise<void> {
  let last = { state: '', members: 0 };
  await until(
    async () => {
      last = await describeGroup(config, groupId);
      return last.state === 'Stable' && last.members === members;
    },
    `group ${groupId} stable with ${members} members`,
    { timeoutMs, intervalMs: 250, describe: () => JSON.stringify(last) },
  );
}
