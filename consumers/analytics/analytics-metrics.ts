/**
 * Prometheus metrics of the analytics group (DESIGN.md §7), registered beside the consumer
 * runtime's on the same registry: events per type (rate() gives events/s), late events per window
 * kind, final windows emitted, and the watermarks and finality frontier in event time.
 */
import { Counter, Gauge, METRIC_PREFIX, type Registry } from '../../lib/metrics.js';

export class AnalyticsMetrics {
  readonly events: Counter<'group' | 'type'>;
  readonly late: Counter<'group' | 'kind'>;
  readonly windowsEmitted: Counter<'group' | 'kind'>;
  readonly watermark: Gauge<'group' | 'topic' | 'partition'>;
  readonly frontier: Gauge<'group'>;

  constructor(registry: Registry) {
    const m = METRIC_PREFIX;
    this.events = new Counter({
      name: `${m}analytics_events_total`,
      help: 'Events the analytics group applied, by event type (late ones included)',
      labelNames: ['group', 'type'],
      registers: [registry],
    });
    this.late = new Counter({
      name: `${m}analytics_late_events_total`,
      help: 'Events refused by at least one window of a kind because it had closed (sent to the late-events topic)',
      labelNames: ['group', 'kind'],
      registers: [registry],
    });
    this.windowsEmitted = new Counter({
      name: `${m}analytics_windows_emitted_total`,
      help: 'Final window results produced to the analytics.windows topic',
      labelNames: ['group', 'kind'],
      registers: [registry],
    });
    this.watermark = new Gauge({
      name: `${m}analytics_watermark_seconds`,
      help: 'Watermark of a partition in event time (largest event time seen minus allowed lateness), epoch seconds',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
    });
    this.frontier = new Gauge({
      name: `${m}analytics_frontier_seconds`,
      help: 'Finality frontier in event time, epoch seconds: windows ending (plus grace) before it are final',
      labelNames: ['group'],
      registers: [registry],
    });
  }
}

const byRegistry = new WeakMap<Registry, AnalyticsMetrics>();

/** The analytics metrics of `registry`, created on first use (a registry takes each name once). */
export function analyticsMetrics(registry: Registry): AnalyticsMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) byRegistry.set(registry, (metrics = new AnalyticsMetrics(registry)));
  return metrics;
}
