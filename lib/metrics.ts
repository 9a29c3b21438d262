/**
 * Prometheus metrics through prom-client (DESIGN.md §7). Each service builds its own
 * {@link Registry} with {@link createMetricsRegistry} (never prom-client's global one, so that
 * several servers in one process, as in tests, do not collide) and registers its metrics on it.
 * HTTP services share {@link instrumentHttp}: request counts and durations by route template and
 * status, and the `/metrics` route.
 */
import type {} from '@fastify/rate-limit';
import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prefix of every Tributary metric name. */
export const METRIC_PREFIX = 'tributary_';

/** Latency buckets in seconds, from 1 ms to 10 s: broker acks, HTTP requests. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsRegistryOptions {
  /** Set as the `service` label on every metric (e.g. `ingest`, `query`). */
  readonly service: string;
  /** Also collect Node process metrics (CPU, memory, event-loop lag, GC). Default true. */
  readonly processMetrics?: boolean;
}

/** A new registry whose metrics all carry `service="<service>"`. */
export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

/** The HTTP metrics {@link instrumentHttp} records. */
export interface HttpMetrics {
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route' | 'status'>;
}

/** The route template of a request (`/users/:id`), or `unmatched` for 404s, to bound label values. */
export function routeLabel(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

/**
 * Counts every request and times it by method, route template and status, and serves the
 * registry's metrics at `GET <path>` (default `/metrics`) in the Prometheus text format.
 */
export function instrumentHttp(
  app: FastifyInstance,
  registry: Registry,
  options: { readonly path?: string } = {},
): HttpMetrics {
  const labelNames = ['method', 'route', 'status'] as const;
  const metrics: HttpMetrics = {
    requests: new Counter({
      name: `${METRIC_PREFIX}http_requests_total`,
      help: 'HTTP requests answered, by method, route template and status code',
      labelNames,
      registers: [registry],
    }),
    duration: new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'Time from receiving an HTTP request to sending its response, in seconds',
      labelNames,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: routeLabel(request), status: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, reply.elapsedTime / 1000);
  });
  app.get(
    options.path ?? '/metrics',
    {
      schema: { hide: true },
      config: { rateLimit: false },
    },
    async (_request, reply) => {
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    },
  );
  return metrics;
}
