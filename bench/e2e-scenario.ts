/**
 * Scenario `e2e`: publisher → Kafka → every projection (and the analytics group, when
 * `consumers/projections/index.ts` exposes one) applied in Redis. As in production, each consumer
 * group runs in a process of its own ({@link GroupWorker}); the producer stays in this one.
 *
 * Latency is per event: from its *intended* send time, which {@link StampingProducer} puts in the
 * record timestamp (so in open loop a stall anywhere shows as latency), until it was applied in
 * Redis by every group that reads its topic. Each worker stamps its applies when the offset fence
 * has written them and sends `[offset, timestamp]` pairs over IPC in batches; {@link ApplyJoin}
 * takes, per event, the latest of its groups' applies. Throughput is the events of the
 * measurement window over the time until the last of them was applied by every group. In `--max`
 * mode the producer is held back while any group lags more than 100,000 records, so the figure is
 * a sustained rate, not a burst into the log. CPU per event adds up every process of the run.
 */
import os from 'node:os';
import type { Projection } from '../consumers/runtime/types.js';
import { createProducer } from '../lib/engines/index.js';
import { Publisher } from '../producers/publisher.js';
import { topicName, type EventCatalog } from '../schemas/catalog.js';
import type { AnyEvent as TributaryEvent, EventType } from '../examples/shop/generated/events.js';
import { encodedSize, mixedEventFactory } from './bench-events.js';
import { throughputOf, type BenchContext, type ScenarioResult } from './bench-options.js';
import { benchApp } from './bench-app.js';
import { BenchScope } from './bench-scope.js';
import { ApplyJoin } from './e2e-join.js';
import { StackCpu } from './e2e-stack-cpu.js';
import { consumerGroups, GroupWorker, type WorkerResult } from './e2e-worker.js';
import type { ReferenceResult } from './kafka-perf-tools.js';
import { LatencyRecorder } from './latency-recorder.js';
import { drive } from './load-driver.js';
import { phaseProgress, RateMeter } from './progress.js';
import { commandMix, redisCeiling, type CommandMix } from './redis-ceiling.js';
import { ratio, type Ratio, type RunResult } from './report.js';
import { StampingProducer } from './stamping-producer.js';

export { consumerGroups } from './e2e-worker.js';

const MAX_LAG = 100_000;

/** Upper bucket bound holding quantile `q` of Prometheus buckets summed over the groups. */
function bucketQuantile(results: readonly WorkerResult[], q: number): number | undefined {
  const buckets = new Map<number, number>();
  for (const r of results)
    for (const [le, count] of r.buckets) buckets.set(le, (buckets.get(le) ?? 0) + count);
  const sorted = [...buckets].sort((x, y) => x[0] - y[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  return sorted.find(([, count]) => count >= q * total)?.[0];
}

/** Sums per-group command mixes, each weighted by the share of events its topics carry. */
function combinedMix(
  catalog: EventCatalog,
  groups: readonly Projection[],
  sample: readonly TributaryEvent[],
): CommandMix {
  const perEvent: Record<string, number> = {};
  const examples: Record<string, readonly string[]> = {};
  for (const g of groups) {
    const mine = sample.filter((e) => g.topics.includes(catalog.get(e.type).topic));
    if (mine.length === 0) continue;
    const mix = commandMix(g, mine);
    for (const [cmd, k] of Object.entries(mix.perEvent)) {
      perEvent[cmd] = (perEvent[cmd] ?? 0) + (k * mine.length) / sample.length;
      examples[cmd] ??= mix.examples[cmd]!;
    }
  }
  return { perEvent, examples };
}

export async function runE2e(ctx: BenchContext): Promise<ScenarioResult> {
  const { options, logger } = ctx;
  const engine = options.engines[0]!;
  const app = await benchApp();
  const scope = await BenchScope.open(ctx.config, logger, {
    catalog: app.catalog,
    partitions: options.partitions,
    engine,
    keep: options.keep,
  });
  const { groups, analytics } = await consumerGroups();
  const prefix = scope.config.topics.prefix;
  const topics = new Set(groups.flatMap((g) => g.topics as readonly string[]));
  const { catalog } = app;
  const generator = app.generator;
  if (!generator) throw new Error(`the app ${app.name} declares no generator: the e2e bench needs one`);
  const types = new Set(catalog.types.filter((t) => topics.has(catalog.get(t).topic)) as EventType[]);
  const readers = new Map(
    [...topics].map((t) => [topicName(t, prefix), groups.filter((g) => g.topics.includes(t)).length]),
  );
  /** Per event, applied by every group that reads it: the run's latency and throughput. */
  const all = new LatencyRecorder();
  const acks = new LatencyRecorder();
  const perGroup = new Map(groups.map((g) => [g.name, new LatencyRecorder()]));
  // Where a group's latency goes: until its runtime had the record decoded in hand (producer,
  // broker, fetch, waiting behind earlier batches), then building and applying its slice.
  const inHand = new Map(groups.map((g) => [g.name, new LatencyRecorder()]));
  const applying = new Map(groups.map((g) => [g.name, new LatencyRecorder()]));
  let measureFrom = Infinity;
  const join = new ApplyJoin(
    readers,
    () => measureFrom,
    (ms, at) => all.record(ms, at),
    (group, ms, at) => perGroup.get(group)!.record(ms, at),
  );
  /** The measured window on the monotonic clock of a `.cpuprofile` (µs), for bench/profile-summary.ts. */
  let profileFromUs = 0;
  let cpu = process.cpuUsage();
  const notes: string[] = [];
  const references: ReferenceResult[] = [];
  const ratios: Ratio[] = [];
  const workers: GroupWorker[] = [];
  const stamping = new StampingProducer(createProducer(scope.config, logger));
  let publisher: Publisher | undefined;
  try {
    const stackCpu = new StackCpu(scope.config);
    // Started together: each joins its own group, and a process start costs about a second.
    const started = await Promise.allSettled(
      groups.map((g) =>
        GroupWorker.start(scope.config, g.name, 'v1', (worker, slices) => {
          for (const slice of slices) {
            join.add(worker.group, slice);
            const hand = inHand.get(worker.group)!;
            const { pairs, begun, at } = slice;
            let measured = 0;
            for (let i = 1; i < pairs.length; i += 2) {
              if (pairs[i]! < measureFrom) continue;
              hand.record(Math.max(0, begun - pairs[i]!), begun);
              measured++;
            }
            if (measured > 0) applying.get(worker.group)!.record(at - begun, at, measured);
          }
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') workers.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    await stamping.connect();
    publisher = await Publisher.create(catalog, scope.config, logger, { producer: stamping });
    const produced = new Map<string, number>();
    const expected = (w: GroupWorker) =>
      groups
        .find((g) => g.name === w.group)!
        .topics.reduce((n, t) => n + (produced.get(topicName(t, prefix)) ?? 0), 0);
    const failed = () => workers.find((w) => w.failure !== undefined)?.failure;
    const lagging = () => workers.some((w) => expected(w) - w.consumed > MAX_LAG);
    // A sample past the stream's start, where sign-ups of the 10,000 users dominate.
    const sampler = mixedEventFactory(catalog, generator, options.size, types, 43);
    const sample = Array.from({ length: 40_000 }, () => sampler(Date.now())).slice(20_000);
    const bytes = Math.round(sample.slice(0, 2000).reduce((n, e) => n + encodedSize(catalog, e), 0) / 2000);
    const total = options.warmupSeconds + options.durationSeconds;
    const bar = phaseProgress(options.progress, `e2e ${options.rate ?? 'max'}`, total, 's');
    const meter = new RateMeter();
    const rss = () => process.memoryUsage.rss() / 2 ** 20 + workers.reduce((n, w) => n + w.rssMB, 0);
    const p = publisher;
    const state = await drive({
      rate: options.rate,
      warmupMs: options.warmupSeconds * 1000,
      durationMs: options.durationSeconds * 1000,
      next: mixedEventFactory(catalog, generator, options.size, types),
      publish: (batch) => p.publishBatch(batch),
      acks,
      onSend: (event, intended) => {
        stamping.stamp(event.data.eventId, Math.round(intended));
        const topic = topicName(catalog.get(event.type).topic, prefix);
        produced.set(topic, (produced.get(topic) ?? 0) + 1);
      },
      onStart: (from) => {
        measureFrom = from;
        setTimeout(
          () => {
            cpu = process.cpuUsage();
            stackCpu.mark();
            for (const w of workers) w.mark();
          },
          Math.max(0, from - Date.now()),
        );
        profileFromUs = Number(process.hrtime.bigint() / 1000n) + (from - Date.now()) * 1000;
        for (const r of [all, ...perGroup.values(), ...inHand.values(), ...applying.values()]) r.start(from);
      },
      maxInFlight: options.rate === undefined ? 50_000 : 500_000,
      gate: () => !lagging() || failed() !== undefined,
      onTick: (s) => {
        all.sampleMemory(Date.now(), rss());
        bar.update((Date.now() - s.startedAt) / 1000, meter.rate(all.count), () => all.recentP99());
        if (failed() !== undefined) throw new Error(failed());
      },
    });
    bar.stop();
    if (state.firstError) throw new Error(`publishing failed: ${state.firstError}`);
    const stopAt = Date.now();
    const deadline = stopAt + Math.max(60_000, options.durationSeconds * 2000);
    while (workers.some((w) => w.consumed < expected(w))) {
      const failure = failed();
      if (failure !== undefined) throw new Error(failure);
      if (Date.now() > deadline) throw new Error('consumers did not catch up within the drain timeout');
      await new Promise((r) => setTimeout(r, 10));
    }
    const parentCpu = process.cpuUsage(cpu);
    const stackUsed = stackCpu.used();
    const profileToUs = Number(process.hrtime.bigint() / 1000n);
    const results = await Promise.all(workers.map((w) => w.stop()));
    // The last of the window's events applied by every group (the consumed counts come in the
    // same message as the applies, so they are all in by now).
    const drainedAt = all.last ?? Date.now();
    const events = state.measuredSent;
    const perEvent = (micros: number) => (events > 0 ? Number((micros / events).toFixed(1)) : 0);
    const producerMicros = parentCpu.user + parentCpu.system;
    const totalMicros = producerMicros + results.reduce((n, r) => n + r.cpuMicros, 0);
    const seconds = (drainedAt - state.measureFrom) / 1000;
    const details: Record<string, number | string | boolean> = {
      groups: groups.map((g) => g.name).join(', '),
      analytics,
      eventTypes: [...types].join(', '),
      // The environment gives the load when the run began; other work may have come and gone since.
      loadAverage1mAtEnd: Number(os.loadavg()[0]!.toFixed(2)),
      producedTotal: state.sent,
      completed: all.count,
      incomplete: join.pending,
      catchUpMs: Math.max(0, drainedAt - stopAt),
      cpuMicrosPerEvent: perEvent(totalMicros),
      'producer.cpuMicrosPerEvent': perEvent(producerMicros),
      // Whole processes of the local stack, other clients included; not in the figure above.
      ...(stackUsed.kafka !== undefined && { brokerCpuMicrosPerEvent: perEvent(stackUsed.kafka) }),
      ...(stackUsed.redis !== undefined && { redisCpuMicrosPerEvent: perEvent(stackUsed.redis) }),
      profileWindowFromUs: profileFromUs,
      profileWindowToUs: profileToUs,
      producerAckP50: acks.summary().p50,
      producerAckP99: acks.summary().p99,
    };
    workers.forEach((w, i) => {
      const s = perGroup.get(w.group)!.summary();
      const r = results[i]!;
      details[`${w.group}.p99`] = s.p99;
      details[`${w.group}.p999`] = s.p999;
      details[`${w.group}.inHandP50`] = inHand.get(w.group)!.summary().p50;
      details[`${w.group}.inHandP99`] = inHand.get(w.group)!.summary().p99;
      details[`${w.group}.applyP50`] = applying.get(w.group)!.summary().p50;
      details[`${w.group}.applyP99`] = applying.get(w.group)!.summary().p99;
      details[`${w.group}.cpuMicrosPerEvent`] = perEvent(r.cpuMicros);
      details[`${w.group}.rssMaxMB`] = r.rssMaxMB;
    });
    const promP99 = bucketQuantile(results, 0.99);
    details.prometheusP99UpperBoundMs =
      promP99 === undefined ? 'none' : Number.isFinite(promP99) ? promP99 * 1000 : '> 10000';
    const run: RunResult = {
      name: options.rate === undefined ? 'e2e max' : `e2e ${options.rate}/s`,
      engine,
      mode: options.rate === undefined ? 'max' : 'rate',
      ...(options.rate !== undefined && { targetRate: options.rate }),
      events,
      seconds: Number(seconds.toFixed(3)),
      throughput: throughputOf(events, seconds, bytes),
      latencyKind: 'intended send → applied in Redis by every group that reads it',
      latency: all.summary(),
      timeline: all.timeline(),
      details,
    };
    notes.push(
      `Consumer groups: ${details.groups}${analytics ? '' : ' (no analytics entry in consumers/projections/index.ts yet)'}, ` +
        `each in a process of its own (as \`tributary consume <group>\` runs them); the producer runs in the bench process. ` +
        `Events: the synthetic generator's ${details.eventTypes} (types no group reads are left out), ` +
        `${bytes} bytes on average. Latency is per event, the latest of its groups' applies; ` +
        `CPU per event adds up all ${workers.length + 1} processes (the bench's share includes joining the ` +
        `groups' reports), RSS over time is their sum.`,
    );
    if (options.references) {
      try {
        const ceiling = await redisCeiling(scope.config, combinedMix(catalog, groups, sample), {
          requests: options.redisRequests,
        });
        references.push(ceiling);
        ratios.push(
          ratio(
            `${run.name} / redis-benchmark ceiling`,
            run.throughput.eventsPerSecond,
            ceiling.eventsPerSecond,
          ),
        );
      } catch (err) {
        notes.push(`redis-benchmark did not run: ${(err as Error).message}`);
      }
    }
    return { runs: [run], references, ratios, notes };
  } finally {
    await publisher?.close().catch(() => undefined);
    await stamping.disconnect().catch(() => undefined);
    for (const w of workers) w.kill();
    for (const r of [all, acks, ...perGroup.values(), ...inHand.values(), ...applying.values()]) r.destroy();
    await scope.close();
  }
}
