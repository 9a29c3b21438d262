/**
 * A projection that follows its current key version: when a rebuild swaps the version pointer,
 * the live consumer leaves its group (finishing and fencing the batch in hand) and rejoins on the
 * new version's group, which the rebuild left at the end of what it applied.
 */
import { Redis } from 'ioredis';
import type { TributaryConfig } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import type { EventCatalog } from '../../schemas/catalog.js';
import { ProjectionKeys } from '../keys.js';
import type { ConsumerMetrics } from './consumer-metrics.js';
import { ConsumerRuntime, type RuntimeOptions } from './consumer-runtime.js';
import type { Projection } from './types.js';

export interface LiveProjectionOptions extends Omit<RuntimeOptions, 'version' | 'groupId'> {
  /** How often to check the version pointer (ms). Default 1,000. */
  readonly pollMs?: number;
}

export class LiveProjection {
  private timer: NodeJS.Timeout | undefined;
  private switching: Promise<void> | undefined;
  private stopped = false;

  private constructor(
    private runtime: ConsumerRuntime,
    private readonly options: LiveProjectionOptions,
    private readonly redis: Redis,
    private readonly keys: ProjectionKeys,
    private readonly log: Logger,
  ) {}

  static async start(options: LiveProjectionOptions): Promise<LiveProjection> {
    const { config, projection } = options;
    const redis = new Redis(config.redis.url.value, { maxRetriesPerRequest: null });
    const keys = new ProjectionKeys(options.keyPrefix ?? config.redis.keyPrefix, projection.name);
    const runtime = await ConsumerRuntime.start(options);
    const live = new LiveProjection(
      runtime,
      options,
      redis,
      keys,
      options.logger.child({ projection: projection.name }),
    );
    live.timer = setInterval(() => void live.check(), options.pollMs ?? 1_000);
    return live;
  }

  get projection(): Projection {
    return this.options.projection;
  }

  /** The runtime in use now (it changes when the version is swapped). */
  get current(): ConsumerRuntime {
    return this.runtime;
  }

  /** True while a runtime is consuming (false during a version switch or after stop). */
  get running(): boolean {
    return !this.stopped && this.switching === undefined;
  }

  private async check(): Promise<void> {
    if (this.switching || this.stopped) return;
    const version = await this.redis.get(this.keys.current()).catch(() => null);
    if (!version || version === this.runtime.version) return;
    this.switching = (async () => {
      this.log.info({ from: this.runtime.version, to: version }, 'key version swapped; moving to it');
      await this.runtime.stop();
      if (!this.stopped) this.runtime = await ConsumerRuntime.start({ ...this.options, version });
    })()
      .catch((err: unknown) =>
        this.log.error({ err: (err as Error).message }, 'could not move to the new version'),
      )
      .finally(() => (this.switching = undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.switching;
    await this.runtime.stop();
    this.redis.disconnect();
  }
}

/** Starts every named projection following its current version. */
export function startLive(
  catalog: EventCatalog,
  config: TributaryConfig,
  logger: Logger,
  list: readonly Projection[],
  metrics?: ConsumerMetrics,
): Promise<LiveProjection[]> {
  return Promise.all(
    list.map((projection) =>
      LiveProjection.start({ catalog, config, logger, projection, ...(metrics && { metrics }) }),
    ),
  );
}
