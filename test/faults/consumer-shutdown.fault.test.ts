/**
 * SIGTERM stops `tributary consume` within TRIBUTARY_CONSUMER_SHUTDOWN_TIMEOUT_MS whatever the
 * broker does: here the broker is gone (SIGKILL) while the consumer holds its partitions, so the
 * commit and the leave of a graceful stop get no answer. The consumer ends by itself within the
 * timeout (its own SIGKILL: librdkafka's cleanup would wait for the broker), and what it applied
 * is in Redis. Runs a Kafka of its own, like broker-restart.
 */
import { describe, expect, it } from 'vitest';
import { engineNames } from '../../lib/engines/index.js';
import { Publisher } from '../../producers/publisher.js';
import { spawnConsumer, warnIfStaleBuild } from '../helpers/consumer-process.js';
import { ownKafka, ownKafkaPorts } from '../helpers/own-kafka.js';
import { testLogger } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { publishAll, userEventStream } from '../helpers/user-stream.js';
import { usersFixture } from '../helpers/users-fixture.js';
import { shopCatalog } from '../helpers/shop.js';

const TIMEOUT_MS = 4_000;
const ports = await ownKafkaPorts(engineNames);

describe.each(engineNames.map((engine, i) => ({ engine, ports: ports[i]! })))(
  'consumer stop without a broker ($engine engine)',
  ({ engine, ports }) => {
    const kafka = ownKafka(engine, ports);
    const { config } = kafka;

    it('exits within its shutdown timeout when the broker is gone', { timeout: 120_000 }, async () => {
      warnIfStaleBuild();
      await kafka.up();
      const f = await usersFixture({}, config);
      const events = userEventStream({ seed: 5 }, 2_000);
      const publisher = await Publisher.create(shopCatalog, f.config, testLogger());
      await publishAll(publisher, events);
      await publisher.close();
      const consumer = spawnConsumer(f.config, {
        env: { TRIBUTARY_CONSUMER_SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS) },
      });
      await consumer.ready;
      await until(async () => (await f.progress()) >= events.length, 'every record applied', {
        timeoutMs: 60_000,
        describe: () => consumer.log(),
      });

      await kafka.down();
      const asked = Date.now();
      // Well past the timeout, so that a consumer that ignores it shows as one.
      const exit = await consumer.stop(4 * TIMEOUT_MS);
      const took = Date.now() - asked;
      console.log(`[consumer-shutdown ${engine}] exit ${exit.code ?? exit.signal} after ${took} ms`);
      expect(took, consumer.log()).toBeLessThan(TIMEOUT_MS + 2_500);
      // A clean stop (exit 0), or the bounded one: the process ends itself with SIGKILL, saying so.
      if (exit.code !== 0) {
        expect(exit.signal, consumer.log()).toBe('SIGKILL');
        expect(consumer.log()).toContain('exiting without a clean stop');
      }
      // Nothing it applied is lost; the broker comes back for the test's own cleanup.
      expect(await f.progress()).toBe(events.length);
      await kafka.up();
    });
  },
);
