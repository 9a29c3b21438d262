/** The query service's own metrics, beside the shared HTTP ones (`lib/metrics.ts`). */
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, METRIC_PREFIX } from '../lib/metrics.js';
import type { Registry } from '../lib/metrics.js';

export interface QueryMetrics {
  /** Time spent reading one answer from Redis, by read (`user`, `users`, `orders`, `counts`…) and outcome. */
  readonly readDuration: Histogram<'read' | 'outcome'>;
  /** Query requests refused, by reason (the response's `error` code). */
  readonly rejected: Counter<'reason'>;
  /** Clients connected to `GET /stream` now. */
  readonly streamClients: Gauge;
  /** Messages received on the live-updates channel (each is sent to every connected client). */
  readonly streamMessages: Counter;
  /** Stream clients disconnected by the server, by reason (`slow`, `shutdown`). */
  readonly streamDropped: Counter<'reason'>;
}

/** Registers the query metrics on `registry`. */
export function createQueryMetrics(registry: Registry): QueryMetrics {
  return {
    readDuration: new Histogram({
      name: `${METRIC_PREFIX}query_read_duration_seconds`,
      help: 'Time to read one answer from the read models in Redis, in seconds, by read and outcome',
      labelNames: ['read', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    rejected: new Counter({
      name: `${METRIC_PREFIX}query_requests_rejected_total`,
      help: 'Query requests refused, by reason (the error code of the response)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    streamClients: new Gauge({
      name: `${METRIC_PREFIX}query_stream_clients`,
      help: 'Clients connected to the live stream (GET /stream)',
      registers: [registry],
    }),
    streamMessages: new Counter({
      name: `${METRIC_PREFIX}query_stream_messages_total`,
      help: 'Messages received on the live-updates channel and fanned out to stream clients',
      registers: [registry],
    }),
    streamDropped: new Counter({
      name: `${METRIC_PREFIX}query_stream_clients_dropped_total`,
      help: 'Stream clients disconnected by the server, by reason (slow: could not keep up; shutdown)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
