/**
 * Scenario `consume`: pre-fill a fresh `users` topic with `--events` typed events, then time the
 * users projection through the ConsumerRuntime (fetch, decode, build writes, apply behind the
 * offset fence) from `ConsumerRuntime.start` until the per-partition progress counters in Redis
 * add up to every record. Latency here is the runtime's own per-batch decode + apply time. RSS is
 * sampled throughout. References: Kafka's ConsumerPerformance over the same records, and the
 * redis-benchmark ceiling of the projection's command mix.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { ConsumerRuntime } from '../consumers/runtime/consumer-runtime.js';
import { createMetricsRegistry } from '../lib/metrics.js';
import { ProjectionKeys, progressKey } from '../lib/redis-keys.js';
import { userEventFactory } from './bench-events.js';
import { cpuMicrosPerEvent, throughputOf, type BenchContext, type ScenarioResult } from './bench-options.js';
import { benchApp } from './bench-app.js';
import { BenchScope } from './bench-scope.js';
import { StackCpu } from './e2e-stack-cpu.js';
import { consumerPerformance, type ReferenceResult } from './kafka-perf-tools.js';
import { LatencyRecorder, type TimelineSample } from './latency-recorder.js';
import { prefillInChild } from './prefill.js';
import { ObservedConsumerMetrics } from './observed-metrics.js';
import { averageSize } from './produce-scenario.js';
import { phaseProgress, RateMeter } from './progress.js';
import { commandMix, redisCeiling } from './redis-ceiling.js';
import { ratio, type Ratio, type RunResult } from './report.js';

/**
 * A full garbage collection before the RSS baseline (the scope's setup and the reference sample
 * leave garbage). `--expose-gc` set at run time takes effect for new contexts only.
 */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** Marks of the monotonic clock (µs, as in a `.cpuprofile`) around the measured phase. */
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

export async function runConsume(ctx: BenchContext): Promise<ScenarioResult> {
  const { options, logger } = ctx;
  const app = await benchApp();
  const scope = await BenchScope.open(ctx.config, logger, {
    catalog: app.catalog,
    partitions: options.partitions,
    engine: options.engines[0]!,
    keep: options.keep,
  });
  const n = options.events;
  const users = Math.max(1000, Math.round(n / 10));
  const references: ReferenceResult[] = [];
  const ratios: Ratio[] = [];
  const notes: string[] = [];
  try {
    const topic = scope.topic('users');
    const bytes = averageSize(scope.catalog, userEventFactory(scope.catalog, options.size, users, 99));
    await prefillInChild({
      config: scope.config,
      events: n,
      users,
      size: options.size,
      progress: options.progress,
    });
    const stored = await scope.storedRecords(topic);
    if (stored !== n) throw new Error(`pre-fill left ${stored} records in ${topic}, expected ${n}`);

    const run = await consumeOnce(ctx, scope, n, bytes);
    notes.push(
      `${n.toLocaleString('en-US')} events (${users.toLocaleString('en-US')} users: created, then updated, ` +
        `2 % deleted) of ${bytes} bytes on average over ${options.partitions} partitions; events/s counts from ` +
        `ConsumerRuntime.start (group join included: ${run.details.joinMs} ms) to the last record applied; ` +
        `steady-state events/s counts from the first record applied.`,
    );
    if (options.references) {
      const records = Math.min(n, options.referenceRecords ?? Infinity);
      try {
        const java = await consumerPerformance(scope.config, {
          topic,
          records,
          group: `${scope.topic('java-perf')}`,
          // Beyond this the reference is left out with a note, rather than holding the run.
          timeoutMs: Math.max(90_000, records),
        });
        references.push(java);
        ratios.push(
          ratio('consume / Java ConsumerPerformance', run.throughput.eventsPerSecond, java.eventsPerSecond),
        );
        const fetchRate = java.details.fetchEventsPerSecond ?? 0;
        ratios.push(
          ratio(
            'consume steady state / Java fetch rate',
            Number(run.details.steadyEventsPerSecond),
            fetchRate,
          ),
        );
      } catch (err) {
        notes.push(`Java ConsumerPerformance did not run: ${(err as Error).message}`);
      }
      try {
        // Every k-th event of a stream like the pre-fill's: creates dominate its start, updates the rest.
        const factory = userEventFactory(scope.catalog, options.size, users, 7);
        const every = Math.max(1, Math.floor(n / 20_000));
        const sample: ReturnType<typeof factory>[] = [];
        for (let i = 0; i < n; i++) {
          const event = factory(0);
          if (i % every === 0) sample.push(event);
        }
        const ceiling = await redisCeiling(scope.config, commandMix(app.projections.get('users')!, sample), {
          requests: options.redisRequests,
        });
        references.push(ceiling);
        ratios.push(
          ratio('consume / redis-benchmark ceiling', run.throughput.eventsPerSecond, ceiling.eventsPerSecond),
        );
      } catch (err) {
        notes.push(`redis-benchmark did not run: ${(err as Error).message}`);
      }
    }
    return { runs: [run], references, ratios, notes };
  } finally {
    await scope.close();
  }
}

async function consumeOnce(
  ctx: BenchContext,
  scope: BenchScope,
  n: number,
  bytes: number,
): Promise<RunResult> {
  const { options, logger } = ctx;
  const usersProjection = (await benchApp()).projections.get('users');
  if (!usersProjection) throw new Error('the consume bench runs the shop example’s users projection');
  const topic = scope.topic('users');
  const keys = new ProjectionKeys(scope.config.redis.keyPrefix, usersProjection.name);
  const progress = Array.from({ length: options.partitions }, (_, p) =>
    progressKey(keys.partition('v1', topic, p)),
  );
  const applied = new LatencyRecorder();
  const batches = new LatencyRecorder();
  const metrics = new ObservedConsumerMetrics(
    createMetricsRegistry({ service: 'bench', processMetrics: false }),
    {
      batch: (_group, seconds) => batches.record(seconds * 1000),
    },
  );
  const bar = phaseProgress(options.progress, 'consume users', n, 'events');
  const meter = new RateMeter();
  const timeoutMs = Math.max(60_000, n);
  collectGarbage();
  await new Promise((r) => setTimeout(r, 200));
  collectGarbage();
  const rssStartMB = applied.sampleMemory();
  const stackCpu = new StackCpu(scope.config);
  stackCpu.mark();
  const startedAt = Date.now();
  const cpu = process.cpuUsage();
  const fromUs = monotonicUs();
  applied.start(startedAt);
  batches.start(startedAt);
  const runtime = await ConsumerRuntime.start({
    catalog: scope.catalog,
    config: scope.config,
    logger,
    projection: usersProjection,
    version: 'v1',
    metrics,
  });
  let done = 0;
  let firstAt: number | undefined;
  let rssMaxMB = rssStartMB;
  // What the RSS is made of at its peaks: the V8 heap, and Buffers outside it (fetch responses).
  const peak = { heapUsedMB: 0, heapTotalMB: 0, externalMB: 0, arrayBuffersMB: 0 };
  let lastMemory = 0;
  let toUs = 0;
  try {
    while (done < n) {
      if (Date.now() - startedAt > timeoutMs)
        throw new Error(`consume timed out: ${done} of ${n} records applied after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
      const replies = await scope.redis.pipeline(progress.map((k) => ['hget', k, 'records'])).exec();
      const total = (replies ?? []).reduce((sum, [, v]) => sum + Number(v ?? 0), 0);
      const now = Date.now();
      if (total > done) {
        firstAt ??= now;
        applied.countOnly(total - done, now);
        done = total;
      }
      if (now - lastMemory >= 100) {
        lastMemory = now;
        rssMaxMB = Math.max(rssMaxMB, applied.sampleMemory(now));
        const m = process.memoryUsage();
        peak.heapUsedMB = Math.max(peak.heapUsedMB, m.heapUsed / 2 ** 20);
        peak.heapTotalMB = Math.max(peak.heapTotalMB, m.heapTotal / 2 ** 20);
        peak.externalMB = Math.max(peak.externalMB, m.external / 2 ** 20);
        peak.arrayBuffersMB = Math.max(peak.arrayBuffersMB, m.arrayBuffers / 2 ** 20);
      }
      bar.update(done, meter.rate(done, now), () => batches.recentP99(now));
    }
    toUs = monotonicUs();
  } finally {
    bar.stop();
    await runtime.stop();
  }
  const cpuPerEvent = cpuMicrosPerEvent(cpu, done);
  const stackUsed = stackCpu.used();
  const perEvent = (us: number) => Number((us / Math.max(done, 1)).toFixed(1));
  // What remembering the event ids costs in Redis: the per-partition sets hold every id of the
  // run (all within the horizon), so their size over the ids is the cost of one.
  const horizonMs = scope.config.consumer.dedupHorizonMs;
  let seenBytes = 0;
  for (let p = 0; p < options.partitions; p++) {
    seenBytes += Number((await scope.redis.memory('USAGE', keys.partition('v1', topic, p).seen())) ?? 0);
  }
  const bytesPerId = done > 0 ? Math.round(seenBytes / done) : 0;
  const lastAt = applied.last ?? Date.now();
  const seconds = (lastAt - startedAt) / 1000;
  const steadySeconds = (lastAt - (firstAt ?? startedAt)) / 1000;
  const latency = batches.timeline();
  const timeline: TimelineSample[] = applied.timeline().map((s, i) => ({
    ...s,
    p50: latency[i]?.p50 ?? 0,
    p99: latency[i]?.p99 ?? 0,
    max: latency[i]?.max ?? 0,
  }));
  const result: RunResult = {
    name: 'users projection',
    engine: scope.config.kafka.engine,
    mode: 'max',
    events: done,
    seconds: Number(seconds.toFixed(3)),
    throughput: throughputOf(done, seconds, bytes),
    latencyKind: 'partition batch decode + apply (per batch)',
    latency: batches.summary(),
    timeline,
    memory: { rssStartMB: Math.round(rssStartMB), rssMaxMB: Math.round(rssMaxMB) },
    details: {
      joinMs: (firstAt ?? startedAt) - startedAt,
      steadyEventsPerSecond: Math.round(done / Math.max(steadySeconds, 0.001)),
      batches: runtime.stats.batches,
      applied: runtime.stats.applied,
      deadLettered: runtime.stats.deadLettered,
      cpuMicrosPerEvent: cpuPerEvent,
      ...(stackUsed.kafka !== undefined && { brokerCpuMicrosPerEvent: perEvent(stackUsed.kafka) }),
      ...(stackUsed.redis !== undefined && { redisCpuMicrosPerEvent: perEvent(stackUsed.redis) }),
      dedupHorizonMs: horizonMs,
      ...(horizonMs > 0 && {
        dedupBytesPerId: bytesPerId,
        // Ids remembered at 1,000 events/s over the whole horizon.
        dedupMBPer1kEventsPerSecond: Number(((bytesPerId * 1000 * horizonMs) / 1000 / 2 ** 20).toFixed(1)),
      }),
      heapUsedMaxMB: Math.round(peak.heapUsedMB),
      heapTotalMaxMB: Math.round(peak.heapTotalMB),
      externalMaxMB: Math.round(peak.externalMB),
      arrayBuffersMaxMB: Math.round(peak.arrayBuffersMB),
      profileWindowFromUs: fromUs,
      profileWindowToUs: toUs,
    },
  };
  applied.destroy();
  batches.destroy();
  return result;
}
