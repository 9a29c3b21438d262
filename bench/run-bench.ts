/**
 * Runs one bench scenario with its references and writes the report. The programmatic entry
 * (the smoke test calls it); `tributary bench` is a thin CLI over it.
 */
import { Redis } from 'ioredis';
import type { TributaryConfig } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import { describeEnvironment, type BenchOptions, type ScenarioResult } from './bench-options.js';
import { runConsume } from './consume-scenario.js';
import { runE2e } from './e2e-scenario.js';
import { runProduce } from './produce-scenario.js';
import { evaluateGoals, writeReport, type BenchReport } from './report.js';

export type { BenchOptions } from './bench-options.js';

/** Defaults of every option but the scenario. */
export const benchDefaults: Omit<BenchOptions, 'scenario' | 'engines' | 'rate'> = {
  warmupSeconds: 5,
  durationSeconds: 30,
  size: 200,
  partitions: 6,
  events: 200_000,
  references: true,
  referenceRecords: undefined,
  redisRequests: 200_000,
  out: 'bench/results',
  progress: true,
  keep: false,
};

const scenarios = { produce: runProduce, consume: runConsume, e2e: runE2e } as const;

/** Runs `options.scenario`, writes `<out>/<timestamp>-<scenario>.{json,md,svg}`; returns the report. */
export async function runBench(
  config: TributaryConfig,
  logger: Logger,
  options: BenchOptions,
  command = `tributary bench ${options.scenario}`,
): Promise<{ report: BenchReport; file: string }> {
  const startedAt = new Date();
  const redis = new Redis(config.redis.url.value, { maxRetriesPerRequest: 3, lazyConnect: true });
  let environment: Record<string, string | number>;
  try {
    await redis.connect();
    environment = await describeEnvironment(config, redis);
  } finally {
    redis.disconnect();
  }
  const result: ScenarioResult = await scenarios[options.scenario]({ config, logger, options });
  const report: BenchReport = {
    schema: 'tributary-bench/1',
    scenario: options.scenario,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command,
    environment,
    options: { ...options },
    runs: result.runs,
    references: result.references,
    ratios: result.ratios,
    goals: evaluateGoals(options.scenario, result.runs, result.ratios),
    notes: result.notes,
  };
  const file = await writeReport(options.out, report);
  return { report, file };
}
