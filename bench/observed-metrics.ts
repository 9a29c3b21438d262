/**
 * Consumer metrics that also hand each observation to the bench. The runtime already observes,
 * per record, the time from its record timestamp to its apply in Redis
 * (`tributary_consumer_end_to_end_seconds`) and, per partition batch, the time to decode and
 * apply it (`tributary_consumer_batch_duration_seconds`). Prometheus keeps only bucket counts;
 * these histograms pass the exact values on as well, so the bench gets HdrHistogram percentiles
 * from the runtime's own measurement, with nothing added to `consumers/`.
 */
import { ConsumerMetrics } from '../consumers/runtime/consumer-metrics.js';
import { Histogram, LATENCY_BUCKETS, METRIC_PREFIX, type Registry } from '../lib/metrics.js';

/** Receives one observation: the consumer group and the value in seconds. */
export type Observer = (group: string, seconds: number) => void;

/**
 * A prom-client histogram that also calls `observer` with each labelled observation. prom-client
 * sets `observe` on the instance in its constructor, so the wrapper replaces that property.
 */
class ObservedHistogram extends Histogram<'group'> {
  constructor(name: string, help: string, registry: Registry, observer: Observer) {
    super({ name, help, labelNames: ['group'], buckets: LATENCY_BUCKETS, registers: [registry] });
    const observe = this.observe.bind(this) as (labels: { group?: string } | number, value?: number) => void;
    const wrapped = (labels: { group?: string } | number, value?: number): void => {
      observe(labels, value);
      if (typeof labels === 'number') observer('', labels);
      else observer(labels.group ?? '', value!);
    };
    Object.defineProperty(this, 'observe', { value: wrapped, writable: true, configurable: true });
  }
}

export interface MetricObservers {
  /** Per record: record timestamp to Redis apply, seconds. */
  readonly endToEnd?: Observer;
  /** Per partition batch: decode + apply, seconds. */
  readonly batch?: Observer;
}

/** {@link ConsumerMetrics} whose latency histograms report to the bench as well. */
export class ObservedConsumerMetrics extends ConsumerMetrics {
  declare readonly endToEnd: Histogram<'group'>;
  declare readonly batchDuration: Histogram<'group'>;

  constructor(registry: Registry, observers: MetricObservers) {
    super(registry);
    const replace = (suffix: string, observer: Observer | undefined): Histogram<'group'> | undefined => {
      if (!observer) return undefined;
      const name = `${METRIC_PREFIX}${suffix}`;
      const help = (registry.getSingleMetric(name) as unknown as { help: string }).help;
      registry.removeSingleMetric(name);
      return new ObservedHistogram(name, help, registry, observer);
    };
    this.endToEnd = replace('consumer_end_to_end_seconds', observers.endToEnd) ?? this.endToEnd;
    this.batchDuration = replace('consumer_batch_duration_seconds', observers.batch) ?? this.batchDuration;
  }
}
