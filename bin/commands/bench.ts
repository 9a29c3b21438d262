/**
 * CLI: `tributary bench produce|consume|e2e` — runs a scenario against the configured stack, with
 * Kafka's perf tools and redis-benchmark as references in the same run, and writes
 * `bench/results/<timestamp>-<scenario>.{json,md,svg}`.
 */
import type { Command } from 'commander';
import type { CliContext } from './stack.js';
import type { EngineName } from '../../lib/engine.js';
import { engineNames } from '../../lib/engines/index.js';
import { ms, SCENARIOS, type BenchReport, type Scenario } from '../../bench/report.js';
import { benchDefaults, runBench, type BenchOptions } from '../../bench/run-bench.js';

interface Flags {
  rate?: string;
  max?: boolean;
  warmup: string;
  duration: string;
  size: string;
  partitions: string;
  engine?: string;
  events: string;
  out: string;
  reference: boolean;
  referenceRecords?: string;
  redisRequests: string;
  progress: boolean;
  keep?: boolean;
}

function positive(name: string, raw: string, integer = true): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v)))
    throw new Error(
      `--${name}: expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`,
    );
  return v;
}

function nonNegative(name: string, raw: string): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0)
    throw new Error(`--${name}: expected a number ≥ 0, got ${JSON.stringify(raw)}`);
  return v;
}

/** Validates the flags into {@link BenchOptions}; `defaultEngine` is the configured one. */
export function parseBenchFlags(scenario: string, flags: Flags, defaultEngine: EngineName): BenchOptions {
  if (!(SCENARIOS as readonly string[]).includes(scenario))
    throw new Error(`unknown scenario ${JSON.stringify(scenario)}; one of ${SCENARIOS.join(', ')}`);
  if (flags.rate !== undefined && flags.max) throw new Error('--rate and --max exclude each other');
  const s = scenario as Scenario;
  const engine = flags.engine ?? defaultEngine;
  let engines: EngineName[];
  if (engine === 'both') {
    if (s !== 'produce')
      throw new Error('--engine both runs the produce scenario for each engine; pick one here');
    engines = [...engineNames];
  } else if ((engineNames as readonly string[]).includes(engine)) {
    engines = [engine as EngineName];
  } else {
    throw new Error(`--engine: one of ${[...engineNames, 'both'].join(', ')}, got ${JSON.stringify(engine)}`);
  }
  // Open loop at 10,000 events/s is e2e's default (its latency goal); the others go flat out.
  const rate =
    flags.rate !== undefined
      ? positive('rate', flags.rate, false)
      : flags.max || s !== 'e2e'
        ? undefined
        : 10_000;
  return {
    scenario: s,
    rate,
    warmupSeconds: nonNegative('warmup', flags.warmup),
    durationSeconds: positive('duration', flags.duration, false),
    size: positive('size', flags.size),
    partitions: positive('partitions', flags.partitions),
    engines,
    events: positive('events', flags.events),
    references: flags.reference,
    referenceRecords:
      flags.referenceRecords !== undefined
        ? positive('reference-records', flags.referenceRecords)
        : undefined,
    redisRequests: positive('redis-requests', flags.redisRequests),
    out: flags.out,
    progress: flags.progress,
    keep: Boolean(flags.keep),
  };
}

/** The summary printed after a run. */
export function formatSummary(report: BenchReport, file: string): string {
  const lines = [''];
  for (const r of report.runs) {
    const l = r.latency;
    lines.push(
      `${r.name}: ${r.events.toLocaleString('en-US')} events, ${r.throughput.eventsPerSecond.toLocaleString('en-US')} events/s ` +
        `(${r.throughput.megabytesPerSecond} MB/s); ${r.latencyKind}: p50 ${ms(l.p50)} p90 ${ms(l.p90)} ` +
        `p99 ${ms(l.p99)} p99.9 ${ms(l.p999)} max ${ms(l.max)} ms${r.memory ? `; RSS max ${r.memory.rssMaxMB} MB` : ''}` +
        `; ${r.details.cpuMicrosPerEvent} µs CPU/event`,
    );
  }
  for (const ref of report.references)
    lines.push(`reference ${ref.name}: ${ref.eventsPerSecond.toLocaleString('en-US')} events/s`);
  for (const r of report.ratios) lines.push(`ratio ${r.name}: ${r.ratio}`);
  for (const g of report.goals)
    lines.push(`goal ${g.goal}: ${g.status}${g.value === null ? '' : ` (${g.value} ${g.unit})`}`);
  for (const n of report.notes) lines.push(`note: ${n}`);
  lines.push(`report: ${file} (+ .md, .svg)`);
  return lines.join('\n');
}

export function registerBenchCommand(program: Command, ctx: CliContext): void {
  const d = benchDefaults;
  program
    .command('bench')
    .description(
      'measure events/s and latency (produce, consume, e2e) beside Kafka’s perf tools and redis-benchmark',
    )
    .argument('<scenario>', SCENARIOS.join(' | '))
    .option('--rate <n>', 'open loop at n events/s, latency from the intended send time (e2e default 10000)')
    .option('--max', 'as fast as it goes (closed loop; default for produce)')
    .option('--warmup <s>', 'seconds of warm-up, not measured', String(d.warmupSeconds))
    .option('--duration <s>', 'seconds measured', String(d.durationSeconds))
    .option('--size <bytes>', 'approximate encoded event size', String(d.size))
    .option('--partitions <p>', 'partitions of the bench topics', String(d.partitions))
    .option(
      '--engine <engine>',
      `${engineNames.join(' | ')} | both (produce); default TRIBUTARY_CLIENT_ENGINE`,
    )
    .option('--events <n>', 'consume: events to pre-fill and consume', String(d.events))
    .option('--out <dir>', 'where reports go', d.out)
    .option('--no-reference', 'skip the Java perf tools and redis-benchmark')
    .option('--reference-records <n>', 'cap on the records the Java tools send or read')
    .option('--redis-requests <n>', 'redis-benchmark requests per command', String(d.redisRequests))
    .option('--no-progress', 'no progress bar')
    .option('--keep', 'keep the bench topics, consumer groups and Redis keys')
    .action(async (scenario: string, flags: Flags) => {
      const config = ctx.config();
      const options = parseBenchFlags(scenario, flags, config.kafka.engine);
      const command = `tributary ${process.argv.slice(process.argv.indexOf('bench')).join(' ')}`;
      console.error(
        `bench ${scenario}: ${options.rate === undefined ? 'max rate' : `${options.rate} events/s`}, ` +
          `warm-up ${options.warmupSeconds} s, ${scenario === 'consume' ? `${options.events} events` : `${options.durationSeconds} s`}, ` +
          `~${options.size} B, ${options.partitions} partitions, ${options.engines.join(' + ')}`,
      );
      const { report, file } = await runBench(config, ctx.logger(), options, command);
      console.log(formatSummary(report, file));
    });
}
