/**
 * `tributary stack up | down | status | logs`: the local stack (Kafka, schema registry, Redis)
 * started by the project's own files. Idempotent: `up` starts only what is not already
 * answering, `down` stops only what `up` started (pid files), and a part whose endpoint the user
 * set (`TRIBUTARY_KAFKA_BROKERS`, `TRIBUTARY_SCHEMA_REGISTRY_URL`, `TRIBUTARY_REDIS_URL`) is never
 * started or stopped.
 */
import { existsSync } from 'node:fs';
import type { TributaryConfig } from '../../lib/config.js';
import { ErrorCodes, TributaryError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { ensureDistributions, type Distributions } from './dist.js';
import { kafkaPaths, kafkaReady, prepareKafka } from './kafka-node.js';
import { isAlive, runningPid, startDetached, stopProcess, tailFile, type ProcessSpec } from './process.js';
import { prepareRedis, redisPaths, redisReady } from './redis-node.js';
import { prepareRegistry, registryPaths, registryReady } from './schema-registry.js';
import { waitUntil } from './wait.js';

export type ComponentName = 'kafka' | 'schema-registry' | 'redis';
export const COMPONENTS: readonly ComponentName[] = ['kafka', 'schema-registry', 'redis'];

interface Component {
  readonly name: ComponentName;
  readonly endpoint: string;
  readonly external: boolean;
  readonly logFile: string;
  readonly pidFile: string;
  readonly marker: string;
  ready(): Promise<boolean>;
  /** Writes config, formats storage, returns the process to start. */
  prepare(dist: Distributions | undefined): ProcessSpec;
  readonly needsDist: boolean;
}

function components(config: TributaryConfig): Component[] {
  const marker = `-Dtributary.stack=${config.stateDir}`;
  const kp = kafkaPaths(config.stateDir);
  const rp = registryPaths(config.stateDir);
  const dp = redisPaths(config.stateDir);
  return [
    {
      name: 'kafka',
      endpoint: config.kafka.brokers.value.join(','),
      external: config.kafka.brokers.external,
      logFile: kp.logFile,
      pidFile: kp.pidFile,
      marker,
      ready: () => kafkaReady(config.kafka.brokers.value),
      prepare: (dist) => prepareKafka(config, must(dist)),
      needsDist: true,
    },
    {
      name: 'schema-registry',
      endpoint: config.registry.url.value,
      external: config.registry.url.external,
      logFile: rp.logFile,
      pidFile: rp.pidFile,
      marker,
      ready: () => registryReady(config.registry.url.value),
      prepare: (dist) => prepareRegistry(config, must(dist)),
      needsDist: true,
    },
    {
      name: 'redis',
      endpoint: config.redis.url.value,
      external: config.redis.url.external,
      logFile: dp.logFile,
      pidFile: dp.pidFile,
      marker: `redis-server 127.0.0.1:${config.redis.port}`,
      ready: () => redisReady(config.redis.url.value),
      prepare: () => prepareRedis(config),
      needsDist: false,
    },
  ];
}

function must(dist: Distributions | undefined): Distributions {
  if (!dist) throw new Error('distributions not resolved');
  return dist;
}

export type ComponentState =
  | 'running' // started by this stack, answering
  | 'starting' // started by this stack, not answering yet
  | 'external' // endpoint configured by the user, answering
  | 'existing' // something else answers on our endpoint; used, never stopped
  | 'unreachable' // external or existing endpoint that does not answer
  | 'stopped';

export interface ComponentStatus {
  readonly name: ComponentName;
  readonly state: ComponentState;
  readonly endpoint: string;
  readonly pid?: number;
  readonly logFile?: string;
}

async function probe(c: Component): Promise<boolean> {
  try {
    return await c.ready();
  } catch {
    return false;
  }
}

async function statusOf(c: Component): Promise<ComponentStatus> {
  const answering = await probe(c);
  if (c.external) {
    return { name: c.name, endpoint: c.endpoint, state: answering ? 'external' : 'unreachable' };
  }
  const pid = runningPid(c);
  if (pid !== undefined) {
    return {
      name: c.name,
      endpoint: c.endpoint,
      pid,
      logFile: c.logFile,
      state: answering ? 'running' : 'starting',
    };
  }
  return { name: c.name, endpoint: c.endpoint, state: answering ? 'existing' : 'stopped' };
}

/** The state of each part of the stack. */
export async function stackStatus(config: TributaryConfig): Promise<ComponentStatus[]> {
  return Promise.all(components(config).map(statusOf));
}

export interface StackUpOptions {
  /** Only these parts (default: all). */
  readonly only?: readonly ComponentName[];
  readonly onProgress?: (message: string) => void;
}

/**
 * Starts every part that is neither external nor already answering, then waits until each one
 * is ready (broker metadata, registry HTTP, Redis PING). On timeout or an early exit, throws a
 * {@link TributaryError} naming the part and its log file.
 */
export async function stackUp(
  config: TributaryConfig,
  logger: Logger,
  options: StackUpOptions = {},
): Promise<ComponentStatus[]> {
  const log = logger.child({ component: 'stack' });
  const say = options.onProgress ?? ((m: string) => log.info(m));
  const wanted = components(config).filter((c) => !options.only || options.only.includes(c.name));

  // Decide what to start before resolving jars, so a fully external stack needs no Java at all.
  const toStart: Component[] = [];
  for (const c of wanted) {
    if (c.external) {
      say(`${c.name}: external at ${c.endpoint}, not started`);
      continue;
    }
    if (runningPid(c) !== undefined) {
      say(`${c.name}: already started (pid ${runningPid(c)})`);
      continue;
    }
    if (await probe(c)) {
      say(`${c.name}: something already answers at ${c.endpoint}; using it`);
      continue;
    }
    toStart.push(c);
  }
  const dist = toStart.some((c) => c.needsDist) ? ensureDistributions(config.distDir) : undefined;

  const started = new Map<ComponentName, number>();
  for (const c of toStart) {
    let spec: ProcessSpec;
    try {
      spec = c.prepare(dist);
    } catch (err) {
      if (err instanceof TributaryError) throw err;
      throw new TributaryError(
        ErrorCodes.STACK_START_FAILED,
        `${c.name}: could not prepare: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const pid = startDetached(spec);
    started.set(c.name, pid);
    say(`${c.name}: started (pid ${pid}), log ${c.logFile}`);
  }

  // Wait for every wanted part, failing fast if a process we started dies.
  await Promise.all(
    wanted.map(async (c) => {
      const pid = started.get(c.name) ?? runningPid(c);
      const result = await waitUntil(() => c.ready(), {
        timeoutMs: config.stackTimeoutMs,
        intervalMs: 300,
        abort: () => {
          if (pid !== undefined && !isAlive(pid)) {
            throw new TributaryError(
              ErrorCodes.STACK_START_FAILED,
              `${c.name} exited during start-up; see ${c.logFile}:\n${tailFile(c.logFile)}`,
            );
          }
        },
      });
      if (!result.ok) {
        const where = c.external ? `external endpoint ${c.endpoint}` : `log ${c.logFile}`;
        throw new TributaryError(
          ErrorCodes.STACK_NOT_READY,
          `${c.name} not ready after ${config.stackTimeoutMs} ms (${where}); last error: ` +
            `${(result.lastError as Error | undefined)?.message ?? 'none'}` +
            (c.external || !existsSync(c.logFile) ? '' : `\n${tailFile(c.logFile)}`),
          { cause: result.lastError },
        );
      }
      say(`${c.name}: ready at ${c.endpoint}`);
    }),
  );
  return Promise.all(wanted.map(statusOf));
}

/**
 * Stops what `stackUp` started (pid files), in reverse order so clients go before the broker.
 * External and pre-existing services are left alone. Returns the names stopped.
 */
export async function stackDown(
  config: TributaryConfig,
  logger: Logger,
  options: { only?: readonly ComponentName[]; graceMs?: number } = {},
): Promise<ComponentName[]> {
  const log = logger.child({ component: 'stack' });
  const stopped: ComponentName[] = [];
  const wanted = components(config)
    .filter((c) => !c.external && (!options.only || options.only.includes(c.name)))
    .reverse();
  for (const c of wanted) {
    if (await stopProcess(c, options.graceMs)) {
      stopped.push(c.name);
      log.info({ part: c.name }, `${c.name}: stopped`);
    }
  }
  return stopped;
}

/** Log file of each local part, for `stack logs`. */
export function stackLogFiles(config: TributaryConfig): Record<ComponentName, string> {
  const out = {} as Record<ComponentName, string>;
  for (const c of components(config)) out[c.name] = c.logFile;
  return out;
}
