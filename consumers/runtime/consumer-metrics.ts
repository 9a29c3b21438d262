/** Prometheus metrics of consumer groups (DESIGN.md §7); one set per process, shared by its groups. */
import {
  Counter,
  Gauge,
  Histogram,
  LATENCY_BUCKETS,
  METRIC_PREFIX,
  type Registry,
} from '../../lib/metrics.js';

export class ConsumerMetrics {
  readonly consumed: Counter<'group' | 'topic'>;
  readonly applied: Counter<'group' | 'topic'>;
  readonly replayed: Counter<'group' | 'topic'>;
  readonly deadLettered: Counter<'group' | 'topic' | 'code'>;
  readonly retried: Counter<'group' | 'kind'>;
  readonly duplicates: Counter<'group' | 'topic'>;
  readonly unknownTypes: Counter<'group' | 'topic'>;
  readonly redisBehind: Counter<'group' | 'topic'>;
  readonly lag: Gauge<'group' | 'topic' | 'partition'>;
  readonly batchDuration: Histogram<'group'>;
  readonly endToEnd: Histogram<'group'>;

  /** `registry` is kept so that groups with metrics of their own (analytics) register them beside these. */
  constructor(readonly registry: Registry) {
    const m = METRIC_PREFIX;
    this.consumed = new Counter({
      name: `${m}consumer_records_consumed_total`,
      help: 'Records handed to the projection (applied or dead-lettered), replays excluded',
      labelNames: ['group', 'topic'],
      registers: [registry],
    });
    this.applied = new Counter({
      name: `${m}consumer_records_applied_total`,
      help: 'Records whose writes were applied to Redis behind the offset fence',
      labelNames: ['group', 'topic'],
      registers: [registry],
    });
    this.replayed = new Counter({
      name: `${m}consumer_records_replayed_total`,
      help: 'Records skipped because the fence had applied them already (after a crash or rebalance)',
      labelNames: ['group', 'topic'],
      registers: [registry],
    });
    this.deadLettered = new Counter({
      name: `${m}consumer_records_dead_lettered_total`,
      help: 'Records sent to the dead-letter topic, by error code',
      labelNames: ['group', 'topic', 'code'],
      registers: [registry],
    });
    this.retried = new Counter({
      name: `${m}consumer_retries_total`,
      help: 'Retries: kind=handler (a record failed to apply) or kind=infrastructure (Redis, broker, registry)',
      labelNames: ['group', 'kind'],
      registers: [registry],
    });
    this.duplicates = new Counter({
      name: `${m}consumer_records_duplicate_total`,
      help: 'Records dropped because their event id was applied before, within the de-duplication horizon',
      labelNames: ['group', 'topic'],
      registers: [registry],
    });
    this.unknownTypes = new Counter({
      name: `${m}consumer_records_unknown_type_total`,
      help: 'Records of an event type the app does not know (a newer producer): skipped, not dead-lettered',
      labelNames: ['group', 'topic'],
      registers: [registry],
    });
    this.redisBehind = new Counter({
      name: `${m}consumer_redis_behind_total`,
      help: 'Times the fence found Redis behind this consumer (it lost writes) and the partition was replayed from Redis',
      labelNames: ['group', 'topic'],
      registers: [registry],
    });
    this.lag = new Gauge({
      name: `${m}consumer_lag`,
      help: 'Records behind the partition high watermark after the last batch',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
    });
    this.batchDuration = new Histogram({
      name: `${m}consumer_batch_duration_seconds`,
      help: 'Time to decode, build and apply one partition batch',
      labelNames: ['group'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.endToEnd = new Histogram({
      name: `${m}consumer_end_to_end_seconds`,
      help: 'From the record timestamp (when it was produced) to its apply in Redis',
      labelNames: ['group'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
  }
}
