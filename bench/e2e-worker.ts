/**
 * One consumer group of the e2e scenario in a Node process of its own, as production runs them
 * (`tributary consume <projection>` per group): the bench process keeps the producer, and a
 * group's CPU no longer competes with the others on one event loop.
 *
 * The child is this module itself (`fork`ed). It starts {@link ConsumerRuntime} for one
 * projection, wrapped by {@link reportingApplies}: the wrapper notes every record the projection
 * applies and, through the runtime's `onApplied` hook (called once the offset fence applied the
 * batch in Redis), stamps the slice with the time of the apply. Slices go to the bench over IPC in
 * batches (every {@link FLUSH_MS} ms); the stamps are taken here, when the apply happens, so the
 * batching delays only the live progress bar, not the measured latency.
 */
import { benchApp } from './bench-app.js';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConsumerMetrics } from '../consumers/runtime/consumer-metrics.js';
import { ConsumerRuntime, type RuntimeStats } from '../consumers/runtime/consumer-runtime.js';
import type { Projection, ProjectionSetup } from '../consumers/runtime/types.js';
import type { TributaryConfig } from '../lib/config.js';
import { initLogger } from '../lib/logger.js';
import { createMetricsRegistry, type Registry } from '../lib/metrics.js';

/** How often a worker sends what it applied (ms). */
const FLUSH_MS = 20;
const END_TO_END = 'tributary_consumer_end_to_end_seconds';

/** Records of one partition applied by one fenced script. */
export interface AppliedSlice {
  /** Full topic name. */
  readonly topic: string;
  readonly partition: number;
  /** When the runtime began building the slice, records decoded (epoch ms). */
  readonly begun: number;
  /** When the fence applied them (epoch ms). */
  readonly at: number;
  /** `[offset, record timestamp]` pairs; the timestamp is the event's intended send time. */
  readonly pairs: Float64Array;
}

interface StartMessage {
  readonly kind: 'start';
  readonly config: TributaryConfig;
  readonly group: string;
  readonly version: string;
}
type ToWorker = StartMessage | { readonly kind: 'mark' } | { readonly kind: 'stop' };

/** What a worker hands back when it stops. */
export interface WorkerResult {
  /** CPU time (user + system) since {@link GroupWorker.mark}, µs. */
  readonly cpuMicros: number;
  readonly rssMaxMB: number;
  readonly stats: RuntimeStats;
  /** `[upper bound s, count]` of the runtime's own end-to-end histogram (Prometheus buckets). */
  readonly buckets: [number, number][];
}

type FromWorker =
  | { readonly kind: 'ready'; readonly groupId: string }
  | {
      readonly kind: 'applied';
      readonly consumed: number;
      readonly rssMB: number;
      readonly slices: AppliedSlice[];
    }
  | ({ readonly kind: 'done' } & WorkerResult)
  | { readonly kind: 'failed'; readonly error: string };

function isProjection(x: unknown): x is Projection {
  const p = x as Projection | undefined;
  return typeof p?.name === 'string' && Array.isArray(p.topics) && typeof p.apply === 'function';
}

/** The consumer groups to run: every projection of the bench's app. */
export async function consumerGroups(): Promise<{ groups: Projection[]; analytics: boolean }> {
  const groups = [...(await benchApp()).projections.values()].filter(isProjection);
  return { groups, analytics: groups.some((g) => g.name.startsWith('analytics')) };
}

/**
 * `base` with every applied record reported to `onApplied`, once its batch is in Redis. Only the
 * optional hooks of {@link Projection} are used (`begin`, `finish` and its `onApplied`), and the
 * projection's own hooks run unchanged inside them, so the runtime does what it does in production.
 */
export function reportingApplies(base: Projection, onApplied: (slice: AppliedSlice) => void): Projection {
  const wrap = (inner: Projection): Projection => {
    // By partition: batches of different partitions interleave at the awaits between begin and finish.
    const building = new Map<string, { begun: number; pairs: number[] }>();
    return {
      name: inner.name,
      topics: inner.topics,
      ...(inner.restore && { restore: inner.restore }),
      ...(inner.periodic && { periodic: inner.periodic }),
      begin(keys) {
        building.set(keys.tag, { begun: Date.now(), pairs: [] });
        inner.begin?.(keys);
      },
      apply(record, batch, keys) {
        inner.apply(record, batch, keys);
        let slice = building.get(keys.tag);
        if (slice === undefined) building.set(keys.tag, (slice = { begun: Date.now(), pairs: [] }));
        slice.pairs.push(Number(record.offset), record.timestamp);
      },
      finish(batch, keys) {
        const outcome = inner.finish?.(batch, keys);
        const { begun, pairs } = building.get(keys.tag) ?? { begun: Date.now(), pairs: [] };
        building.delete(keys.tag);
        return {
          ...(outcome?.sideOutputs && { sideOutputs: outcome.sideOutputs }),
          onApplied: () => {
            const at = Date.now();
            outcome?.onApplied?.();
            if (pairs.length > 0) {
              onApplied({
                topic: keys.topic,
                partition: keys.partition,
                begun,
                at,
                pairs: Float64Array.from(pairs),
              });
            }
          },
        };
      },
    };
  };
  const configure = base.configure;
  const wrapped = wrap(base);
  return configure
    ? { ...wrapped, configure: (setup: ProjectionSetup) => wrap(configure.call(base, setup)) }
    : wrapped;
}

/** Bucket counts of the runtime's end-to-end histogram, for the report's Prometheus cross-check. */
async function endToEndBuckets(registry: Registry): Promise<[number, number][]> {
  const metric = registry.getSingleMetric(END_TO_END);
  if (!metric) return [];
  const out: [number, number][] = [];
  for (const v of (await metric.get()).values as {
    metricName?: string;
    labels: { le?: string | number };
    value: number;
  }[]) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    out.push([v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), v.value]);
  }
  return out;
}

/** The child's side: runs one group until told to stop. */
async function serve(start: StartMessage): Promise<void> {
  const send = (m: FromWorker, then: () => void = () => undefined) => process.send!(m, then);
  const logger = initLogger({ level: 'warn', destination: 2 });
  const { groups } = await consumerGroups();
  const projection = groups.find((g) => g.name === start.group);
  if (!projection) throw new Error(`no consumer group ${start.group}`);
  const registry = createMetricsRegistry({ service: 'bench', processMetrics: false });
  let slices: AppliedSlice[] = [];
  // Nothing is produced before every group is ready, so the slices of the start wait for the timer.
  const runtime = await ConsumerRuntime.start({
    catalog: (await benchApp()).catalog,
    config: start.config,
    logger,
    projection: reportingApplies(projection, (slice) => slices.push(slice)),
    version: start.version,
    metrics: new ConsumerMetrics(registry),
  });
  let sentConsumed = -1;
  let rssMaxMB = 0;
  const flush = () => {
    const consumed = runtime.stats.consumed;
    if (slices.length === 0 && consumed === sentConsumed) return;
    const rssMB = process.memoryUsage.rss() / 2 ** 20;
    rssMaxMB = Math.max(rssMaxMB, rssMB);
    send({ kind: 'applied', consumed, rssMB, slices });
    slices = [];
    sentConsumed = consumed;
  };
  const timer = setInterval(flush, FLUSH_MS);
  // The bench died without a stop (killed, crashed): leave the group and end, never run on orphaned.
  process.once('disconnect', () => {
    setTimeout(() => process.exit(1), 5_000);
    void runtime.stop().finally(() => process.exit(1));
  });
  send({ kind: 'ready', groupId: runtime.groupId });
  let cpu = process.cpuUsage();
  process.on('message', (m: ToWorker) => {
    if (m.kind === 'mark') {
      cpu = process.cpuUsage();
      rssMaxMB = 0;
    }
    if (m.kind !== 'stop') return;
    flush();
    clearInterval(timer);
    const used = process.cpuUsage(cpu);
    void (async () => {
      await runtime.stop();
      send(
        {
          kind: 'done',
          cpuMicros: used.user + used.system,
          rssMaxMB: Number(rssMaxMB.toFixed(1)),
          stats: { ...runtime.stats },
          buckets: await endToEndBuckets(registry),
        },
        () => process.exit(0),
      );
    })();
  });
}

/** The bench's handle on one group's process. */
export class GroupWorker {
  /** Records the group has consumed (applied or dead-lettered), as of its last report. */
  consumed = 0;
  /** The process's RSS at its last report, MB. */
  rssMB = 0;
  #failure: string | undefined;
  #done: ((r: WorkerResult) => void) | undefined;

  private constructor(
    readonly group: string,
    readonly groupId: string,
    private readonly child: ChildProcess,
  ) {}

  /**
   * Forks a worker for `group` and resolves once its consumer joined the group. `onSlices` gets
   * what it applied, in batches.
   */
  static start(
    config: TributaryConfig,
    group: string,
    version: string,
    onSlices: (worker: GroupWorker, slices: AppliedSlice[]) => void,
  ): Promise<GroupWorker> {
    const compiled = fileURLToPath(new URL('./e2e-worker.js', import.meta.url));
    // From the sources (tsx, vitest) the child needs tsx to load TypeScript; from dist it takes
    // the bench's own flags, so `node --cpu-prof … bench e2e` profiles every group too.
    const [entry, execArgv] = existsSync(compiled)
      ? [compiled, process.execArgv]
      : [fileURLToPath(new URL('./e2e-worker.ts', import.meta.url)), ['--import', 'tsx']];
    const child = fork(entry, ['--e2e-worker'], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise<GroupWorker>((resolve, reject) => {
      let worker: GroupWorker | undefined;
      child.on('message', (m: FromWorker) => {
        switch (m.kind) {
          case 'ready':
            worker = new GroupWorker(group, m.groupId, child);
            resolve(worker);
            break;
          case 'applied':
            if (!worker) break;
            worker.consumed = m.consumed;
            worker.rssMB = m.rssMB;
            onSlices(worker, m.slices);
            break;
          case 'done':
            if (worker) worker.#done?.(m);
            break;
          case 'failed':
            if (worker) worker.#failure = m.error;
            reject(new Error(`consumer group ${group}: ${m.error}`));
            break;
        }
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        const why = `consumer group ${group}: worker exited (${signal ?? code})`;
        if (worker) worker.#failure ??= why;
        reject(new Error(why));
      });
      child.send({ kind: 'start', config, group, version } satisfies ToWorker);
    });
  }

  /** Why the worker stopped early, if it did. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** The measurement window opens: CPU and peak RSS count from now. */
  mark(): void {
    this.child.send({ kind: 'mark' } satisfies ToWorker);
  }

  /** Stops the group (its runtime leaves cleanly) and returns what it measured. */
  stop(timeoutMs = 30_000): Promise<WorkerResult> {
    return new Promise<WorkerResult>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`consumer group ${this.group}: no stop in time`)),
        timeoutMs,
      );
      this.#done = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(this.#failure ?? `consumer group ${this.group}: worker exited before reporting`));
      });
      this.child.send({ kind: 'stop' } satisfies ToWorker);
    });
  }

  /** Ends the process if it still runs (after a failed run). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }
}

if (process.argv.includes('--e2e-worker') && process.send) {
  process.once('message', (start: StartMessage) => {
    serve(start).catch((err: unknown) =>
      process.send!({ kind: 'failed', error: (err as Error).message } satisfies FromWorker, () =>
        process.exit(1),
      ),
    );
  });
}
