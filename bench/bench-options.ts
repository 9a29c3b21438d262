/** The options of a bench run, shared by every scenario, and what a scenario hands back. */
import os from 'node:os';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { stackVersions } from '../infra/stack/dist.js';
import type { TributaryConfig } from '../lib/config.js';
import type { EngineName } from '../lib/engine.js';
import type { Logger } from '../lib/logger.js';
import type { ReferenceResult } from './kafka-perf-tools.js';
import type { Ratio, RunResult, Scenario } from './report.js';

export interface BenchOptions {
  readonly scenario: Scenario;
  /** Open-loop rate in events/s; undefined runs at the maximum (`--max`). */
  readonly rate: number | undefined;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  /** Approximate encoded event size, bytes. */
  readonly size: number;
  readonly partitions: number;
  /** Engines to run (produce runs each; the others use the first). */
  readonly engines: readonly EngineName[];
  /** consume: events to pre-fill and consume. */
  readonly events: number;
  /** Run the reference tools (Kafka perf tools, redis-benchmark). */
  readonly references: boolean;
  /** Cap on the records the Java tools send or read (small in smoke tests). */
  readonly referenceRecords: number | undefined;
  /** redis-benchmark requests per command. */
  readonly redisRequests: number;
  readonly out: string;
  readonly progress: boolean;
  /** Keep the bench's topics, groups and keys. */
  readonly keep: boolean;
}

/** What a scenario needs to run. */
export interface BenchContext {
  readonly config: TributaryConfig;
  readonly logger: Logger;
  readonly options: BenchOptions;
}

/** What a scenario measured. */
export interface ScenarioResult {
  readonly runs: RunResult[];
  readonly references: ReferenceResult[];
  readonly ratios: Ratio[];
  readonly notes: string[];
}

/** Where the numbers were taken: machine, runtime, versions, endpoints. */
export async function describeEnvironment(
  config: TributaryConfig,
  redis: Redis,
): Promise<Record<string, string | number>> {
  const require = createRequire(import.meta.url);
  const version = (pkg: string): string => {
    try {
      return (require(`${pkg}/package.json`) as { version: string }).version;
    } catch {
      return 'not installed';
    }
  };
  const info = await redis.info('server').catch(() => '');
  const cpus = os.cpus();
  return {
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}`,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    // Other work on the machine skews the numbers: say how busy it was when the run began.
    loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)),
    kafka: config.kafka.brokers.external ? 'external' : stackVersions().kafka,
    brokers: config.kafka.brokers.value.join(','),
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    kafkajs: version('kafkajs'),
    '@confluentinc/kafka-javascript': version('@confluentinc/kafka-javascript'),
  };
}

/** Events/s and MB/s of `events` of `bytes` each over `seconds`. */
export function throughputOf(
  events: number,
  seconds: number,
  bytes: number,
): { eventsPerSecond: number; megabytesPerSecond: number } {
  if (!(seconds > 0)) return { eventsPerSecond: 0, megabytesPerSecond: 0 };
  return {
    eventsPerSecond: Math.round(events / seconds),
    megabytesPerSecond: Number(((events * bytes) / seconds / 1e6).toFixed(2)),
  };
}

/**
 * CPU time this process spent per event between `from` (a `process.cpuUsage()`) and now, in µs.
 * Unlike events/s it hardly moves when other work competes for the cores, and `1e6 / it` is
 * the rate one core could sustain.
 */
export function cpuMicrosPerEvent(from: NodeJS.CpuUsage, events: number): number {
  const used = process.cpuUsage(from);
  return events > 0 ? Number(((used.user + used.system) / events).toFixed(1)) : 0;
}
