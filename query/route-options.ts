/**
 * What every read route of the query service shares: its options (the `query` scope, OpenAPI
 * docs, parameter and response schemas) and the timing and error mapping of its read. The routes
 * are the app's readers (model-routes.ts) and the analytics (analytics-routes.ts).
 */
import type { RouteShorthandOptions } from 'fastify';
import { isReadModelError, ReadModelErrorCodes } from '../lib/read-models/errors.js';
import { QueryErrorCodes, QueryHttpError } from './http-error.js';
import { SECURED, queryErrorResponses } from './openapi.js';
import type { JsonSchema } from './openapi.js';
import type { QueryMetrics } from './query-metrics.js';

/** A route's options: the `query` scope, OpenAPI docs, parameter and response schemas. */
export function queryRoute(
  summary: string,
  tag: string,
  schemas: { params?: JsonSchema; querystring?: JsonSchema; ok: JsonSchema; errors?: Record<number, string> },
): RouteShorthandOptions {
  return {
    schema: {
      summary,
      tags: [tag],
      security: SECURED as Record<string, string[]>[],
      ...(schemas.params ? { params: schemas.params } : {}),
      ...(schemas.querystring ? { querystring: schemas.querystring } : {}),
      response: { 200: schemas.ok, ...queryErrorResponses(schemas.errors) },
    },
    config: { scope: 'query' },
  };
}

/**
 * Runs one read, timed in `tributary_query_read_duration_seconds{read}`; a read-model refusal
 * becomes its HTTP error (a bad or expired cursor: 400 on `querystring.cursor`; unavailable: 503).
 */
export async function timedRead<T>(metrics: QueryMetrics, read: string, run: () => Promise<T>): Promise<T> {
  const stop = metrics.readDuration.startTimer({ read });
  try {
    const value = await run();
    stop({ outcome: 'ok' });
    return value;
  } catch (err) {
    stop({ outcome: 'error' });
    if (!isReadModelError(err)) throw err;
    if (err.code === ReadModelErrorCodes.UNAVAILABLE) {
      throw new QueryHttpError(
        503,
        QueryErrorCodes.UNAVAILABLE,
        err.message,
        [],
        { 'retry-after': '5' },
        { cause: err },
      );
    }
    const code =
      err.code === ReadModelErrorCodes.CURSOR_EXPIRED
        ? QueryErrorCodes.CURSOR_EXPIRED
        : QueryErrorCodes.INVALID_CURSOR;
    throw new QueryHttpError(
      400,
      code,
      err.message,
      [{ path: 'querystring.cursor', message: err.message }],
      {},
      { cause: err },
    );
  }
}
