/** `GET /analytics/counts|unique-users|revenue|top-pages`: see analytics-read.ts. */
import type { FastifyInstance } from 'fastify';
import type { ReadModelSource } from '../lib/read-models/source.js';
import { METRICS, checkAnalyticsQuery, querySchema, readMetric, responseSchema } from './analytics-read.js';
import type { AnalyticsQuery } from './analytics-read.js';
import type { QueryMetrics } from './query-metrics.js';
import { queryRoute, timedRead } from './route-options.js';

export interface AnalyticsRoutesOptions {
  readonly source: ReadModelSource;
  readonly metrics: QueryMetrics;
  /** Default of `top-pages`' `limit` (`TRIBUTARY_ANALYTICS_TOP_N`). */
  readonly defaultTopN: number;
}

/** Registers the four analytics routes on `app`. */
export function registerAnalyticsRoutes(app: FastifyInstance, options: AnalyticsRoutesOptions): void {
  const { source, metrics } = options;
  for (const metric of METRICS) {
    app.get<{ Querystring: AnalyticsQuery }>(
      `/analytics/${metric.route}`,
      queryRoute(metric.summary, 'analytics', {
        querystring: querySchema(metric, options.defaultTopN),
        ok: responseSchema(metric),
      }),
      async (request) => {
        const query = checkAnalyticsQuery(request.query, Date.now());
        return timedRead(metrics, metric.route, () => readMetric(source, metric, query));
      },
    );
  }
}
