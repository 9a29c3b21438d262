/**
 * Starts the real stack once per test run with the same code as `tributary stack up`, on ports
 * and a state directory of its own so it never collides with a developer's running demo.
 * Endpoints set in `TRIBUTARY_*` (an existing cluster, or containers) are used instead.
 * Tests receive the endpoints with `inject('stack')`.
 */
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../lib/config.js';
import { initLogger } from '../../lib/logger.js';
import { stackDown, stackUp } from '../../infra/stack/stack.js';
import type { StackEndpoints } from '../helpers/stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackEndpoints;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = {
    TRIBUTARY_STATE_DIR: path.resolve('.tributary/test-stack'),
    TRIBUTARY_KAFKA_PORT: '39092',
    TRIBUTARY_KAFKA_CONTROLLER_PORT: '39093',
    TRIBUTARY_REGISTRY_PORT: '38081',
    TRIBUTARY_REGISTRY_MANAGEMENT_PORT: '39000',
    TRIBUTARY_REDIS_PORT: '36379',
    TRIBUTARY_STACK_TIMEOUT_MS: '180000',
    ...process.env,
  };
  const config = loadConfig(env);
  const logger = initLogger({ level: 'warn', destination: 2 });
  const started = Date.now();
  await stackUp(config, logger, {
    onProgress: (m) => process.stderr.write(`[stack] ${m}\n`),
  });
  process.stderr.write(`[stack] ready in ${Date.now() - started} ms\n`);
  project.provide('stack', {
    kafkaBrokers: config.kafka.brokers.value,
    registryUrl: config.registry.url.value,
    redisUrl: config.redis.url.value,
    stateDir: config.stateDir,
  });
  return async () => {
    if (process.env.TRIBUTARY_TEST_KEEP_STACK === '1') return;
    await stackDown(config, logger);
  };
}
