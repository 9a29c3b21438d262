/**
 * `/readyz`: can this instance publish right now? The broker answers metadata requests and the
 * schema registry answers HTTP. Probes run with a short timeout, and a result is reused for a
 * second so that a busy load balancer does not turn into load on Kafka.
 */
import { logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import type { TributaryConfig } from '../../lib/config.js';
import { createKafka } from '../../lib/kafka.js';
import type { Logger } from '../../lib/logger.js';

/** One dependency to check. `check` rejects with a short reason when it is not usable. */
export interface ReadinessProbe {
  readonly name: string;
  check(signal: AbortSignal): Promise<void>;
  /** Releases connections (called when the server closes). */
  close?(): Promise<void>;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** `ok`, or why not, by probe name. */
  readonly checks: Readonly<Record<string, string>>;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The registry answers `GET <url>/config` (any status below 500 means it is up). */
export function registryProbe(url: string): ReadinessProbe {
  return {
    name: 'schema-registry',
    async check(signal) {
      const res = await fetch(`${url}/config`, { signal, headers: { accept: 'application/json' } });
      await res.body?.cancel();
      if (res.status >= 500) throw new Error(`registry answered HTTP ${res.status}`);
    },
  };
}

/**
 * The broker answers a metadata request, through an admin client of its own that fails fast
 * (no retries, 1 s connection timeout) and stays quiet: this probe reports, it does not log.
 */
export function brokerProbe(config: TributaryConfig, logger: Logger): ReadinessProbe {
  const admin: Admin = createKafka(config, logger, {
    clientId: `${config.kafka.clientId}-readiness`,
    overrides: {
      retry: { retries: 0 },
      connectionTimeout: 1_000,
      requestTimeout: 2_000,
      logLevel: logLevel.NOTHING,
    },
  }).admin();
  let connected = false;
  return {
    name: 'kafka',
    async check() {
      try {
        if (!connected) {
          await admin.connect();
          connected = true;
        }
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length === 0) throw new Error('no brokers in cluster metadata');
      } catch (err) {
        connected = false;
        await admin.disconnect().catch(() => undefined);
        throw err;
      }
    },
    async close() {
      connected = false;
      await admin.disconnect().catch(() => undefined);
    },
  };
}

/** Runs probes concurrently, each within `timeoutMs`; caches the report for `cacheMs`. */
export class Readiness {
  private last: { at: number; report: Promise<ReadinessReport> } | undefined;
  private wasReady: boolean | undefined;

  constructor(
    private readonly probes: readonly ReadinessProbe[],
    private readonly logger: Logger,
    private readonly timeoutMs = 2_000,
    private readonly cacheMs = 1_000,
  ) {}

  /** The current report (possibly up to `cacheMs` old). Never rejects. */
  check(): Promise<ReadinessReport> {
    const now = Date.now();
    if (this.last && now - this.last.at < this.cacheMs) return this.last.report;
    const report = this.run();
    this.last = { at: now, report };
    return report;
  }

  async close(): Promise<void> {
    await Promise.all(this.probes.map((p) => p.close?.()));
  }

  private async run(): Promise<ReadinessReport> {
    const results = await Promise.all(
      this.probes.map(async (probe) => {
        const signal = AbortSignal.timeout(this.timeoutMs);
        try {
          await Promise.race([
            probe.check(signal),
            new Promise<never>((_, reject) =>
              signal.addEventListener(
                'abort',
                () => reject(new Error(`no answer within ${this.timeoutMs} ms`)),
                {
                  once: true,
                },
              ),
            ),
          ]);
          return [probe.name, 'ok'] as const;
        } catch (err) {
          return [probe.name, reason(err)] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const ready = results.every(([, r]) => r === 'ok');
    if (ready !== this.wasReady) {
      if (ready) this.logger.info({ checks }, 'ready');
      else this.logger.warn({ checks }, 'not ready');
      this.wasReady = ready;
    }
    return { ready, checks };
  }
}
