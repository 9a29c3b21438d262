/**
 * Kafka's own perf tools as references, run from the Maven-resolved `kafka-tools` jars on the
 * same broker in the same run: `org.apache.kafka.tools.ProducerPerformance` (what
 * `kafka-producer-perf-test.sh` runs) and `ConsumerPerformance` (`kafka-consumer-perf-test.sh`).
 * Flags are those of Kafka 4.4 (`--bootstrap-server`, `--command-property`, `--num-records`;
 * `--producer-props` and `--messages` still work there but are deprecated).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { distributions, findJava } from '../infra/stack/dist.js';
import type { TributaryConfig } from '../lib/config.js';

/** One reference measurement, as it goes into a report. */
export interface ReferenceResult {
  readonly name: string;
  /** The command line, to rerun it by hand. */
  readonly command: string;
  readonly eventsPerSecond: number;
  readonly megabytesPerSecond?: number;
  readonly records?: number;
  /** Extra figures the tool printed (latencies, fetch rate …). */
  readonly details: Readonly<Record<string, number>>;
  /** The summary line(s) as printed. */
  readonly raw: string;
}

/** Java and the kafka-tools classpath, or the reason they are unavailable. */
export function javaTools(config: TributaryConfig): { java: string; classpath: string } | string {
  const libs = distributions(config.distDir).kafkaLibs;
  if (!existsSync(libs)) return `Kafka jars not found at ${libs} (run \`bash infra/bootstrap.sh deps\`)`;
  const java = findJava(17);
  if (!java) return 'no Java 17+ found for the Kafka perf tools';
  return { java, classpath: `${path.join(libs, '*')}` };
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

async function run(java: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(java, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else
        reject(
          new Error(`${args[2]} exited ${code}: ${(err || out).trim().split('\n').slice(-3).join(' | ')}`),
        );
    });
  });
}

export interface ProducerPerfOptions {
  readonly topic: string;
  readonly records: number;
  readonly recordSize: number;
  /** Producer settings beyond the defaults given here (acks=all, lz4, idempotence). */
  readonly properties?: Readonly<Record<string, string | number>>;
  readonly keyRange?: number;
  readonly timeoutMs?: number;
}

/** Parses ProducerPerformance's final summary line. */
export function parseProducerSummary(text: string): Record<string, number> | undefined {
  const line = text
    .split('\n')
    .reverse()
    .find((l) => /records sent, [\d.]+ records\/sec/.test(l));
  if (!line) return undefined;
  const num = (re: RegExp) => Number(re.exec(line)?.[1] ?? NaN);
  return {
    records: num(/^(\d+) records sent/),
    eventsPerSecond: num(/([\d.]+) records\/sec/),
    megabytesPerSecond: num(/\(([\d.]+) MB\/sec\)/),
    avgLatencyMs: num(/([\d.]+) ms avg latency/),
    maxLatencyMs: num(/([\d.]+) ms max latency/),
    p50LatencyMs: num(/(\d+) ms 50th/),
    p95LatencyMs: num(/(\d+) ms 95th/),
    p99LatencyMs: num(/(\d+) ms 99th/),
    p999LatencyMs: num(/(\d+) ms 99\.9th/),
  };
}

/** Runs ProducerPerformance with `--throughput -1` (as fast as it goes) and parses its summary. */
export async function producerPerformance(
  config: TributaryConfig,
  options: ProducerPerfOptions,
): Promise<ReferenceResult> {
  const tools = javaTools(config);
  if (typeof tools === 'string') throw new Error(tools);
  const props = {
    acks: 'all',
    'compression.type': 'lz4',
    'enable.idempotence': 'true',
    ...options.properties,
  };
  const args = [
    '-cp',
    tools.classpath,
    'org.apache.kafka.tools.ProducerPerformance',
    '--bootstrap-server',
    config.kafka.brokers.value.join(','),
    '--topic',
    options.topic,
    '--num-records',
    String(options.records),
    '--record-size',
    String(options.recordSize),
    '--throughput',
    '-1',
    '--record-key-range',
    String(options.keyRange ?? 10_000),
    '--key-distribution',
    'random',
    '--command-property',
    ...Object.entries(props).map(([k, v]) => `${k}=${v}`),
  ];
  const out = await run(tools.java, args, options.timeoutMs ?? 600_000);
  const summary = parseProducerSummary(out);
  if (!summary) throw new Error(`ProducerPerformance printed no summary: ${out.slice(-500)}`);
  const { eventsPerSecond, megabytesPerSecond, records, ...details } = summary;
  return {
    name: 'Kafka ProducerPerformance (Java)',
    command: ['java', ...args].map(quote).join(' '),
    eventsPerSecond: eventsPerSecond!,
    megabytesPerSecond: megabytesPerSecond!,
    records: records!,
    details,
    raw: out.trim().split('\n').at(-1) ?? '',
  };
}

/** Parses ConsumerPerformance's header + data lines into their named columns. */
export function parseConsumerSummary(text: string): Record<string, number> | undefined {
  const lines = text.split('\n').map((l) => l.trim());
  const h = lines.findIndex((l) => l.startsWith('start.time'));
  const data = lines[h + 1];
  if (h < 0 || !data) return undefined;
  const names = lines[h]!.split(',').map((s) => s.trim());
  const values = data.split(',').map((s) => s.trim());
  const out: Record<string, number> = {};
  names.forEach((n, i) => {
    if (n !== 'start.time' && n !== 'end.time') out[n] = Number(values[i]);
  });
  return out;
}

/** Runs ConsumerPerformance over `records` records of `topic` with a fresh group. */
export async function consumerPerformance(
  config: TributaryConfig,
  options: { topic: string; records: number; group: string; timeoutMs?: number },
): Promise<ReferenceResult> {
  const tools = javaTools(config);
  if (typeof tools === 'string') throw new Error(tools);
  const args = [
    '-cp',
    tools.classpath,
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    config.kafka.brokers.value.join(','),
    '--topic',
    options.topic,
    '--num-records',
    String(options.records),
    '--group',
    options.group,
    '--timeout',
    '30000',
  ];
  const out = await run(tools.java, args, options.timeoutMs ?? 600_000);
  const s = parseConsumerSummary(out);
  if (!s) throw new Error(`ConsumerPerformance printed no summary: ${out.slice(-500)}`);
  return {
    name: 'Kafka ConsumerPerformance (Java)',
    command: ['java', ...args].map(quote).join(' '),
    eventsPerSecond: s['nMsg.sec']!,
    megabytesPerSecond: s['MB.sec']!,
    records: s['data.consumed.in.nMsg']!,
    details: {
      fetchEventsPerSecond: s['fetch.nMsg.sec']!,
      rebalanceMs: s['rebalance.time.ms']!,
      fetchMs: s['fetch.time.ms']!,
    },
    raw: out.trim().split('\n').slice(-2).join('\n'),
  };
}
