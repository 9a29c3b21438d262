/** The ingestion service's own metrics, beside the shared HTTP ones (`lib/metrics.ts`). */
import { Counter, Histogram, LATENCY_BUCKETS, METRIC_PREFIX } from '../../lib/metrics.js';
import type { Registry } from '../../lib/metrics.js';

export interface IngestMetrics {
  /** Events acknowledged by the broker and answered with 202, by event type. */
  readonly accepted: Counter<'type'>;
  /** Ingestion requests refused, by reason (the response's `error` code); one per request. */
  readonly rejected: Counter<'reason'>;
  /** From handing a request's events to the publisher to the broker's acknowledgement (or failure). */
  readonly publishDuration: Histogram<'outcome'>;
}

/** Registers the ingestion metrics on `registry`. */
export function createIngestMetrics(registry: Registry): IngestMetrics {
  return {
    accepted: new Counter({
      name: `${METRIC_PREFIX}ingest_events_accepted_total`,
      help: 'Events acknowledged by Kafka and accepted (202), by event type',
      labelNames: ['type'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: `${METRIC_PREFIX}ingest_requests_rejected_total`,
      help: 'Ingestion requests refused, by reason (the error code of the response)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    publishDuration: new Histogram({
      name: `${METRIC_PREFIX}ingest_publish_duration_seconds`,
      help: "Time from handing a request's events to the publisher until Kafka acknowledged them, in seconds",
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}
