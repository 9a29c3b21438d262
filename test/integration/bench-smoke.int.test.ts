/**
 * The bench harness as CI runs it: each scenario for a couple of seconds at a small rate against
 * the test stack, through the `tributary bench` command, with tiny reference runs (the Java perf
 * tools need the dist jars, which the stack resolves anyway). Checks the reports, not the speed:
 * every field present, throughput above zero, percentiles in order, a chart and a Markdown page.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { registerBenchCommand } from '../../bin/commands/bench.js';
import { parseConsumerSummary, parseProducerSummary } from '../../bench/kafka-perf-tools.js';
import { parseCsvRps } from '../../bench/redis-ceiling.js';
import type { BenchReport } from '../../bench/report.js';
import { renderSection, replaceSection, START, END } from '../../bench/update-readme.js';
import { testConfig, testLogger } from '../helpers/stack.js';
import { shopApp } from '../helpers/shop.js';

async function bench(args: string[]): Promise<{ report: BenchReport; dir: string; files: string[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tributary-bench-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '2' });
  const program = new Command('tributary').exitOverride();
  registerBenchCommand(program, {
    config: () => config,
    logger: () => testLogger(),
    app: () => Promise.resolve(shopApp),
  });
  // The command prints its summary; keep the test output quiet.
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  onTestFinished(() => {
    vi.restoreAllMocks();
  });
  await program.parseAsync(
    ['bench', ...args, '--out', dir, '--no-progress', '--partitions', '2', '--reference-records', '2000'],
    { from: 'user' },
  );
  const files = readdirSync(dir);
  const json = files.find((f) => f.endsWith('.json'));
  expect(json, `a JSON report in ${files.join(', ')}`).toBeDefined();
  return { report: JSON.parse(readFileSync(path.join(dir, json!), 'utf8')) as BenchReport, dir, files };
}

function expectValid(report: BenchReport, files: string[]): void {
  expect(report.schema).toBe('tributary-bench/1');
  for (const field of [
    'startedAt',
    'finishedAt',
    'command',
    'environment',
    'options',
    'goals',
    'notes',
  ] as const)
    expect(report[field], field).toBeDefined();
  expect(report.runs.length).toBeGreaterThan(0);
  for (const run of report.runs) {
    expect(run.events, run.name).toBeGreaterThan(0);
    expect(run.throughput.eventsPerSecond, run.name).toBeGreaterThan(0);
    const l = run.latency;
    expect(l.count, run.name).toBeGreaterThan(0);
    expect(l.p50).toBeLessThanOrEqual(l.p90);
    expect(l.p90).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.p999);
    expect(l.p999).toBeLessThanOrEqual(l.max);
    expect(run.timeline.length).toBeGreaterThan(0);
    expect(run.timeline.some((s) => s.eventsPerSecond > 0)).toBe(true);
  }
  for (const ref of report.references) expect(ref.eventsPerSecond, ref.name).toBeGreaterThan(0);
  for (const r of report.ratios) expect(r.ratio, r.name).toBeGreaterThan(0);
  expect(files.some((f) => f.endsWith('.md'))).toBe(true);
  expect(files.some((f) => f.endsWith('.svg'))).toBe(true);
}

describe('tributary bench (smoke)', () => {
  it('produce: both engines, typed events, beside Java ProducerPerformance', async () => {
    const { report, files } = await bench([
      'produce',
      '--engine',
      'both',
      '--rate',
      '1000',
      '--warmup',
      '0.5',
      '--duration',
      '2',
    ]);
    expectValid(report, files);
    expect(report.runs.map((r) => r.engine)).toContain('kafkajs');
    expect(report.runs.every((r) => r.mode === 'rate' && r.targetRate === 1000)).toBe(true);
    expect(report.references.map((r) => r.name)).toContain('Kafka ProducerPerformance (Java)');
    expect(report.ratios.some((r) => r.name.startsWith('produce kafkajs / Java'))).toBe(true);
    expect(report.goals.some((g) => g.id.startsWith('produce-vs-java'))).toBe(true);
    if (process.platform === 'linux') {
      for (const run of report.runs) {
        // The JavaScript thread's CPU is part of the process's: at most all of it, give or take
        // one 10 ms tick of /proc's clock.
        const main = Number(run.details.mainThreadMicrosPerEvent);
        const tick = 10_000 / run.events;
        expect(main, run.name).toBeGreaterThan(0);
        expect(main, run.name).toBeLessThanOrEqual(Number(run.details.cpuMicrosPerEvent) + tick + 0.1);
        expect(report.notes.some((n) => n.startsWith(`${run.name}: the JavaScript thread was busy`))).toBe(
          true,
        );
      }
    }
  });

  // Its phases have limits of their own (pre-fill, consume, the Java reference), which fail with
  // a message naming what did not finish: the test's limit is above their sum.
  it(
    'consume: the users projection through the runtime, with RSS, beside ConsumerPerformance',
    { timeout: 300_000 },
    async () => {
      const { report, files } = await bench(['consume', '--events', '3000', '--redis-requests', '2000']);
      expectValid(report, files);
      const run = report.runs[0]!;
      expect(run.events).toBe(3000);
      expect(run.memory!.rssMaxMB).toBeGreaterThan(0);
      expect(report.references.map((r) => r.name)).toEqual(
        expect.arrayContaining([
          'Kafka ConsumerPerformance (Java)',
          expect.stringContaining('redis-benchmark'),
        ]),
      );
      expect(report.goals.find((g) => g.id === 'consumer-rss')?.status).toMatch(/met|missed/);
    },
  );

  it('e2e: publisher to Redis, one process per group, at a small open-loop rate, latency from the intended send time', async () => {
    const { report, files } = await bench([
      'e2e',
      '--rate',
      '500',
      '--warmup',
      '0.5',
      '--duration',
      '2',
      '--redis-requests',
      '2000',
    ]);
    expectValid(report, files);
    const run = report.runs[0]!;
    expect(run.mode).toBe('rate');
    expect(run.details.groups).toContain('users');
    // Every event of the window was applied: the throughput counts events, not broker acks.
    expect(run.events).toBeGreaterThanOrEqual(900);
    // Each group ran in a process of its own, and every event was joined over all its groups.
    for (const group of String(run.details.groups).split(', ')) {
      expect(run.details[`${group}.cpuMicrosPerEvent`], group).toBeGreaterThan(0);
    }
    expect(run.details.incomplete).toBe(0);
    expect(run.details.completed).toBeGreaterThanOrEqual(run.events);
  });

  it('parses the reference tools and renders the README section', () => {
    const producer =
      '200000 records sent, 86058.519793 records/sec (16.41 MB/sec), 62.89 ms avg latency, 471.00 ms max ' +
      'latency, 47 ms 50th, 147 ms 95th, 161 ms 99th, 170 ms 99.9th.';
    expect(parseProducerSummary(producer)).toMatchObject({
      records: 200000,
      eventsPerSecond: 86058.519793,
      p99LatencyMs: 161,
    });
    const consumer =
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, ' +
      'fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n2026-11-26 06:19:36:246, 2026-11-26 06:19:37:954, 38.8888, ' +
      '22.7686, 200000, 117096.0187, 616, 1092, 35.6124, 183150.1832';
    expect(parseConsumerSummary(consumer)).toMatchObject({
      'nMsg.sec': 117096.0187,
      'fetch.nMsg.sec': 183150.1832,
    });
    expect(parseCsvRps('"test","rps"\n"SADD k __rand_int__","1470588.12","2.050"\n')).toBe(1470588.12);
    const section = renderSection(new Map(), 'bench/results');
    expect(replaceSection(`a\n${START}\nold\n${END}\nb`, section)).toBe(`a\n${START}\n${section}\n${END}\nb`);
    expect(replaceSection('no markers', section)).toBeUndefined();
  });
});
