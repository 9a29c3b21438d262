/**
 * A Kafka of a fault test's own (same code as `tributary stack up`, its own state dir and ports),
 * which the test may kill and restart without disturbing the shared test stack; the registry and
 * Redis stay the shared ones. Call inside `describe`: the broker is stopped and its state removed
 * after the suite.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import { stackDown, stackUp } from '../../infra/stack/stack.js';
import type { TributaryConfig } from '../../lib/config.js';
import type { EngineName } from '../../lib/engine.js';
import { freePort } from './free-port.js';
import { testConfig, testLogger, uid } from './stack.js';

/** Two free ports (broker, controller) per engine, taken from the OS up front (at import time). */
export async function ownKafkaPorts(engines: readonly EngineName[]): Promise<(readonly [number, number])[]> {
  return Promise.all(engines.map(async () => [await freePort(), await freePort()] as const));
}

/** The config of a test whose Kafka is its own, on `ports`, with `engine` as the client engine. */
export function ownKafka(engine: EngineName, [kafkaPort, controllerPort]: readonly [number, number]) {
  const stateDir = path.resolve(`.tributary/test-broker-${uid()}`);
  const config: TributaryConfig = testConfig({
    // Empty: this Kafka is local (started and stopped here), unlike the shared stack's.
    TRIBUTARY_KAFKA_BROKERS: '',
    TRIBUTARY_STATE_DIR: stateDir,
    TRIBUTARY_KAFKA_PORT: String(kafkaPort),
    TRIBUTARY_KAFKA_CONTROLLER_PORT: String(controllerPort),
    TRIBUTARY_KAFKA_HEAP: '512m',
    TRIBUTARY_TOPIC_PARTITIONS: '3',
    TRIBUTARY_CLIENT_ENGINE: engine,
  });
  afterAll(async () => {
    await stackDown(config, testLogger(), { only: ['kafka'], graceMs: 0 });
    rmSync(stateDir, { recursive: true, force: true });
  });
  return {
    config,
    /** Starts (or starts again) the broker. */
    up: () => stackUp(config, testLogger(), { only: ['kafka'], onProgress: () => undefined }),
    /** Stops the broker: SIGKILL at once (`graceMs` 0) or SIGTERM and a controlled shutdown. */
    down: (graceMs = 0) => stackDown(config, testLogger(), { only: ['kafka'], graceMs }),
  };
}
