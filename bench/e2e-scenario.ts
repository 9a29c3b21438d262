/**
 * Scenario `e2e`: publisher → Kafka → every projection (and the analytics group, when
 * `consumers/projections/index.ts` exposes one) applied in Redis, all in this process.
 *
 * Latency is the runtime's own end-to-end observation (`now − record timestamp` at the Redis
 * apply, `tributary_consumer_end_to_end_seconds`), taken exactly through
 * {@link ObservedConsumerMetrics}; the record timestamp is the event's *intended* send time
 * ({@link StampingProducer}), so in open loop a stall anywhere shows as latency. Throughput is
 * the events of the measurement window over the time until the last of them was applied by every
 * group. In `--max` mode the producer is held back while any group lags more than 100,000
 * records, so the figure is a sustained rate, not a burst into the log.
 */
import { ConsumerRuntime } from '../consumers/runtime/consumer-runtime.js';
import type { Projection } from '../consumers/runtime/types.js';
import { createProducer } from '../lib/engines/index.js';
import { createMetricsRegistry, type Registry } from '../lib/metrics.js';
import { Publisher } from '../producers/publisher.js';
import {
  EVENT_TYPES,
  eventCatalog,
  topicName,
  type EventType,
  type TributaryEvent,
} from '../schemas/catalog.js';
import { encodedSize, mixedEventFactory } from './bench-events.js';
import { cpuMicrosPerEvent, throughputOf, type BenchContext, type ScenarioResult } from './bench-options.js';
import { BenchScope } from './bench-scope.js';
import type { ReferenceResult } from './kafka-perf-tools.js';
import { LatencyRecorder } from './latency-recorder.js';
import { drive } from './load-driver.js';
import { ObservedConsumerMetrics } from './observed-metrics.js';
import { phaseProgress, RateMeter } from './progress.js';
import { commandMix, redisCeiling, type CommandMix } from './redis-ceiling.js';
import { ratio, type Ratio, type RunResult } from './report.js';
import { StampingProducer } from './stamping-producer.js';

const MAX_LAG = 100_000;

function isProjection(x: unknown): x is Projection {
  const p = x as Projection | undefined;
  return typeof p?.name === 'string' && Array.isArray(p.topics) && typeof p.apply === 'function';
}

/** The consumer groups to run: every projection, plus `analytics` if the module exposes one. */
export async function consumerGroups(): Promise<{ groups: Projection[]; analytics: boolean }> {
  const mod = (await import('../consumers/projections/index.js')) as Record<string, unknown> & {
    projections: Readonly<Record<string, unknown>>;
  };
  const groups = Object.values(mod.projections).filter(isProjection);
  const extra = mod.analytics ?? mod.analyticsProjection;
  if (isProjection(extra) && !groups.some((g) => g.name === extra.name)) groups.push(extra);
  return { groups, analytics: groups.some((g) => g.name.startsWith('analytics')) };
}

/** Upper bucket bound holding quantile `q` of a prom-client histogram (the fallback's view). */
async function prometheusQuantile(registry: Registry, name: string, q: number): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const buckets = new Map<number, number>();
  for (const v of (await metric.get()).values as {
    metricName?: string;
    labels: { le?: string | number };
    value: number;
  }[]) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + v.value);
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  return sorted.find(([, count]) => count >= q * total)?.[0];
}

/** Sums per-group command mixes, each weighted by the share of events its topics carry. */
function combinedMix(groups: readonly Projection[], sample: readonly TributaryEvent[]): CommandMix {
  const perEvent: Record<string, number> = {};
  const examples: Record<string, readonly string[]> = {};
  for (const g of groups) {
    const mine = sample.filter((e) => (g.topics as readonly string[]).includes(eventCatalog[e.type].topic));
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
  const scope = await BenchScope.open(ctx.config, logger, {
    partitions: options.partitions,
    engine,
    keep: options.keep,
  });
  const { groups, analytics } = await consumerGroups();
  const topics = new Set(groups.flatMap((g) => g.topics as readonly string[]));
  const types = new Set<EventType>(EVENT_TYPES.filter((t) => topics.has(eventCatalog[t].topic)));
  // Each topic's first group counts its events for throughput; every group's applies count for latency.
  const primary = new Set([...topics].map((t) => groups.find((g) => g.topics.includes(t as never))!.name));
  const registry = createMetricsRegistry({ service: 'bench', processMetrics: false });
  const all = new LatencyRecorder();
  const acks = new LatencyRecorder();
  const events = new LatencyRecorder();
  const perGroup = new Map(groups.map((g) => [g.name, new LatencyRecorder()]));
  const groupOf = new Map<string, string>();
  let measureFrom = Infinity;
  /** The measured window on the monotonic clock of a `.cpuprofile` (µs), for bench/profile-summary.ts. */
  let profileFromUs = 0;
  let cpu = process.cpuUsage();
  const metrics = new ObservedConsumerMetrics(registry, {
    endToEnd: (groupId, seconds) => {
      const at = Date.now();
      const ms = seconds * 1000;
      if (at - ms < measureFrom) return; // intended during warm-up
      all.record(ms, at);
      const name = groupOf.get(groupId);
      if (name === undefined) return;
      perGroup.get(name)!.record(ms, at);
      if (primary.has(name)) events.record(ms, at);
    },
  });
  const notes: string[] = [];
  const references: ReferenceResult[] = [];
  const ratios: Ratio[] = [];
  const runtimes: { group: Projection; runtime: ConsumerRuntime }[] = [];
  const stamping = new StampingProducer(createProducer(scope.config, logger));
  let publisher: Publisher | undefined;
  try {
    for (const group of groups) {
      const runtime = await ConsumerRuntime.start({
        config: scope.config,
        logger,
        projection: group,
        version: 'v1',
        metrics,
      });
      groupOf.set(runtime.groupId, group.name);
      runtimes.push({ group, runtime });
    }
    await stamping.connect();
    publisher = await Publisher.create(scope.config, logger, { producer: stamping });
    const produced = new Map<string, number>();
    const expected = (g: Projection) =>
      g.topics.reduce((n, t) => n + (produced.get(topicName(t, scope.config.topics.prefix)) ?? 0), 0);
    const lagging = () =>
      runtimes.some(({ group, runtime }) => expected(group) - runtime.stats.consumed > MAX_LAG);
    // A sample past the stream's start, where sign-ups of the 10,000 users dominate.
    const sampler = mixedEventFactory(options.size, types, 43);
    const sample = Array.from({ length: 40_000 }, () => sampler(Date.now())).slice(20_000);
    const bytes = Math.round(sample.slice(0, 2000).reduce((n, e) => n + encodedSize(e), 0) / 2000);
    const total = options.warmupSeconds + options.durationSeconds;
    const bar = phaseProgress(options.progress, `e2e ${options.rate ?? 'max'}`, total, 's');
    const meter = new RateMeter();
    const p = publisher;
    const state = await drive({
      rate: options.rate,
      warmupMs: options.warmupSeconds * 1000,
      durationMs: options.durationSeconds * 1000,
      next: mixedEventFactory(options.size, types),
      publish: (batch) => p.publishBatch(batch),
      acks,
      onSend: (event, intended) => {
        stamping.stamp(event.data.eventId, Math.round(intended));
        const topic = topicName(eventCatalog[event.type].topic, scope.config.topics.prefix);
        produced.set(topic, (produced.get(topic) ?? 0) + 1);
      },
      onStart: (from) => {
        measureFrom = from;
        setTimeout(() => (cpu = process.cpuUsage()), Math.max(0, from - Date.now()));
        profileFromUs = Number(process.hrtime.bigint() / 1000n) + (from - Date.now()) * 1000;
        for (const r of [all, events, ...perGroup.values()]) r.start(from);
      },
      maxInFlight: options.rate === undefined ? 50_000 : 500_000,
      gate: () => !lagging(),
      onTick: (s) => {
        all.sampleMemory();
        events.sampleMemory();
        bar.update((Date.now() - s.startedAt) / 1000, meter.rate(events.count), () => all.recentP99());
      },
    });
    bar.stop();
    if (state.firstError) throw new Error(`publishing failed: ${state.firstError}`);
    const stopAt = Date.now();
    const deadline = stopAt + Math.max(60_000, options.durationSeconds * 2000);
    while (runtimes.some(({ group, runtime }) => runtime.stats.consumed < expected(group))) {
      if (Date.now() > deadline) throw new Error('consumers did not catch up within the drain timeout');
      await new Promise((r) => setTimeout(r, 10));
    }
    const drainedAt = Date.now();
    const cpuPerEvent = cpuMicrosPerEvent(cpu, state.measuredSent);
    const seconds = (drainedAt - state.measureFrom) / 1000;
    const details: Record<string, number | string | boolean> = {
      groups: groups.map((g) => g.name).join(', '),
      analytics,
      eventTypes: [...types].join(', '),
      producedTotal: state.sent,
      catchUpMs: drainedAt - stopAt,
      applies: all.count,
      cpuMicrosPerEvent: cpuPerEvent,
      profileWindowFromUs: profileFromUs,
      profileWindowToUs: Number(process.hrtime.bigint() / 1000n),
      producerAckP50: acks.summary().p50,
      producerAckP99: acks.summary().p99,
    };
    for (const [name, rec] of perGroup) {
      const s = rec.summary();
      details[`${name}.p99`] = s.p99;
      details[`${name}.p999`] = s.p999;
    }
    const promName = 'tributary_consumer_end_to_end_seconds';
    const promP99 = await prometheusQuantile(registry, promName, 0.99);
    details.prometheusP99UpperBoundMs =
      promP99 === undefined ? 'none' : Number.isFinite(promP99) ? promP99 * 1000 : '> 10000';
    const run: RunResult = {
      name: options.rate === undefined ? 'e2e max' : `e2e ${options.rate}/s`,
      engine,
      mode: options.rate === undefined ? 'max' : 'rate',
      ...(options.rate !== undefined && { targetRate: options.rate }),
      events: state.measuredSent,
      seconds: Number(seconds.toFixed(3)),
      throughput: throughputOf(state.measuredSent, seconds, bytes),
      latencyKind: 'intended send → applied in Redis (every group)',
      latency: all.summary(),
      timeline: events.timeline(),
      details,
    };
    notes.push(
      `Consumer groups: ${details.groups}${analytics ? '' : ' (no analytics entry in consumers/projections/index.ts yet)'}; ` +
        `events: the synthetic generator's ${details.eventTypes} (types no group reads are left out), ` +
        `${bytes} bytes on average. Producer and consumers share this one Node process.`,
    );
    if (options.references) {
      try {
        const ceiling = await redisCeiling(scope.config, combinedMix(groups, sample), {
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
    await Promise.allSettled(runtimes.map(({ runtime }) => runtime.stop()));
    for (const r of [all, acks, events, ...perGroup.values()]) r.destroy();
    await scope.close();
  }
}
