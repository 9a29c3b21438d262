/**
 * Scenario `produce`: the Publisher alone (validate, Avro-encode, key, send; idempotent, acks=all,
 * lz4), typed PageViewed events of about `--size` bytes, for each engine asked for. Latency runs
 * from the intended send time to the broker's acknowledgement. Reference in the same run: Kafka's
 * Java ProducerPerformance with the same record size, record count and producer settings.
 */
import { readFileSync } from 'node:fs';
import { confluentInstalled } from '../lib/engines/index.js';
import { producerDefaults } from '../lib/engines/options.js';
import { Publisher } from '../producers/publisher.js';
import { encodedSize, pageViewFactory } from './bench-events.js';
import { benchApp } from './bench-app.js';
import { BenchScope } from './bench-scope.js';
import { cpuMicrosPerEvent, throughputOf, type BenchContext, type ScenarioResult } from './bench-options.js';
import { producerPerformance, type ReferenceResult } from './kafka-perf-tools.js';
import type { EventCatalog } from '../schemas/catalog.js';
import { LatencyRecorder } from './latency-recorder.js';
import { drive } from './load-driver.js';
import { phaseProgress, RateMeter } from './progress.js';
import { ratio, type Ratio, type RunResult } from './report.js';

/** Average encoded size of the first 1,000 events of a factory. */
export function averageSize(
  catalog: EventCatalog,
  factory: (t: number) => Parameters<typeof encodedSize>[1],
): number {
  let total = 0;
  for (let i = 0; i < 1000; i++) total += encodedSize(catalog, factory(Date.now()));
  return Math.round(total / 1000);
}

/** Linux reports thread CPU times in USER_HZ ticks, 100 a second on every architecture Node runs on. */
const USER_HZ = 100;

/**
 * CPU time of this process's main thread (the one JavaScript runs on) so far, in µs, from /proc;
 * undefined where there is no /proc. `process.cpuUsage` counts every thread, librdkafka's too.
 */
function mainThreadCpuMicros(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

export async function runProduce(ctx: BenchContext): Promise<ScenarioResult> {
  const { options, logger } = ctx;
  const app = await benchApp();
  const scope = await BenchScope.open(ctx.config, logger, {
    catalog: app.catalog,
    partitions: options.partitions,
    engine: options.engines[0]!,
    keep: options.keep,
  });
  const runs: RunResult[] = [];
  const references: ReferenceResult[] = [];
  const ratios: Ratio[] = [];
  const notes: string[] = [];
  const bytes = averageSize(scope.catalog, pageViewFactory(scope.catalog, options.size, 10_000, 99));
  try {
    for (const engine of options.engines) {
      if (engine === 'confluent' && !confluentInstalled()) {
        notes.push('confluent engine skipped: @confluentinc/kafka-javascript is not installed');
        continue;
      }
      runs.push(await produceOnce(ctx, scope, engine, bytes));
    }
    if (options.references) {
      const records = Math.min(
        Math.max(...runs.map((r) => r.events), 1000),
        options.referenceRecords ?? Infinity,
      );
      try {
        const topic = await scope.createTopic('java-producer-perf');
        const java = await producerPerformance(scope.config, {
          topic,
          records,
          recordSize: bytes,
          properties: { 'linger.ms': producerDefaults.lingerMs, 'batch.size': producerDefaults.batchBytes },
        });
        references.push(java);
        for (const r of runs)
          ratios.push(ratio(`produce ${r.name} / Java`, r.throughput.eventsPerSecond, java.eventsPerSecond));
      } catch (err) {
        notes.push(`Java ProducerPerformance did not run: ${(err as Error).message}`);
      }
    }
    for (const r of runs) {
      const { mainThreadBusyPercent: busy, mainThreadMicrosPerEvent: us, cpuMicrosPerEvent: all } = r.details;
      if (busy === undefined) continue;
      notes.push(
        `${r.name}: the JavaScript thread was busy ${busy} % of the measured time (${us} of ${all} µs CPU per ` +
          'event; the rest ran on other threads: GC helpers, librdkafka for confluent). publishBatch runs on that one ' +
          'thread: near 100 % it is the limit, well below it the broker or the machine is.',
      );
    }
    const [a, b] = runs;
    if (a && b)
      ratios.push(ratio(`${b.name} / ${a.name}`, b.throughput.eventsPerSecond, a.throughput.eventsPerSecond));
    notes.push(
      `Our records are Avro PageViewed events of ${bytes} bytes on average (Confluent wire format), keyed by ` +
        'user id over 10,000 users; the Java tool sends random payloads of the same size keyed over 10,000 ' +
        `integers, with the same producer settings (acks=all, idempotent, lz4, linger.ms=${producerDefaults.lingerMs}, ` +
        `batch.size=${producerDefaults.batchBytes}).`,
      'Events are built as the Java tool builds its payloads, ahead of the hot loop: each is an object literal ' +
        'of pre-built strings with a fresh eventId and occurredAt; every one is still validated, Avro-encoded and ' +
        'sent by Publisher.publishBatch (500 per call). (Objects built as `{ ...template, newKey }` each get a V8 ' +
        'hidden class of their own, which makes avsc several times slower on them; createEvent avoids that.)',
    );
  } finally {
    await scope.close();
  }
  return { runs, references, ratios, notes };
}

async function produceOnce(
  ctx: BenchContext,
  scope: BenchScope,
  engine: RunResult['engine'],
  bytes: number,
): Promise<RunResult> {
  const { options, logger } = ctx;
  const config = { ...scope.config, kafka: { ...scope.config.kafka, engine } };
  const publisher = await Publisher.create(scope.catalog, config, logger);
  const acks = new LatencyRecorder();
  const total = options.warmupSeconds + options.durationSeconds;
  const bar = phaseProgress(options.progress, `produce ${engine}`, total, 's');
  const meter = new RateMeter();
  let cpu = process.cpuUsage();
  let main = { micros: mainThreadCpuMicros(), at: Date.now() };
  try {
    const state = await drive({
      rate: options.rate,
      warmupMs: options.warmupSeconds * 1000,
      durationMs: options.durationSeconds * 1000,
      next: pageViewFactory(scope.catalog, options.size),
      publish: (events) => publisher.publishBatch(events),
      acks,
      onStart: (from) =>
        setTimeout(
          () => {
            cpu = process.cpuUsage();
            main = { micros: mainThreadCpuMicros(), at: Date.now() };
          },
          Math.max(0, from - Date.now()),
        ),
      maxInFlight: options.rate === undefined ? 50_000 : 500_000,
      onTick: (s) => {
        acks.sampleMemory();
        bar.update((Date.now() - s.startedAt) / 1000, meter.rate(s.acked), () => acks.recentP99());
      },
    });
    await publisher.close();
    if (state.firstError) throw new Error(`publishing failed: ${state.firstError}`);
    const seconds = ((acks.last ?? state.measureFrom) - state.measureFrom) / 1000;
    return {
      name: engine,
      engine,
      mode: options.rate === undefined ? 'max' : 'rate',
      ...(options.rate !== undefined && { targetRate: options.rate }),
      events: acks.count,
      seconds: Number(seconds.toFixed(3)),
      throughput: throughputOf(acks.count, seconds, bytes),
      latencyKind: options.rate === undefined ? 'send → broker ack' : 'intended send → broker ack',
      latency: acks.summary(),
      timeline: acks.timeline(),
      details: {
        sentTotal: state.sent,
        warmupEvents: state.sent - state.measuredSent,
        averageBytes: bytes,
        cpuMicrosPerEvent: cpuMicrosPerEvent(cpu, acks.count),
        ...mainThreadDetails(main, acks.count),
      },
    };
  } finally {
    bar.stop();
    acks.destroy();
    await publisher.close().catch(() => undefined);
  }
}

/**
 * The JavaScript thread's share: µs of it per event, and how busy it was (100 % = it is the limit,
 * as Node runs `publishBatch` on one thread).
 */
function mainThreadDetails(
  from: { micros: number | undefined; at: number },
  events: number,
): Record<string, number> {
  const now = mainThreadCpuMicros();
  if (now === undefined || from.micros === undefined || events === 0) return {};
  const used = now - from.micros;
  const wall = (Date.now() - from.at) * 1000;
  return {
    mainThreadMicrosPerEvent: Number((used / events).toFixed(1)),
    mainThreadBusyPercent: Math.round((100 * used) / Math.max(1, wall)),
  };
}
