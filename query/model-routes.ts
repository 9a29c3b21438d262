/**
 * The app's read models over HTTP: every reader a projection declares is served at
 * `GET /models/<projection>/<reader>`, its parameters in the query string (checked against the
 * reader's JSON schema, with the schema's defaults), its answer as JSON, a null answer as 404. The
 * OpenAPI document describes both from the same schemas. Every route needs the `query` scope.
 */
import type { FastifyInstance } from 'fastify';
import type { ReadModelSource } from '../lib/read-models/source.js';
import { readerContext, type ReadableModel, type Reader } from '../lib/read-models/reader.js';
import { QueryErrorCodes, QueryHttpError } from './http-error.js';
import type { JsonSchema } from './openapi.js';
import type { QueryMetrics } from './query-metrics.js';
import { queryRoute, timedRead } from './route-options.js';

/** The path a reader is served at. */
export function modelPath(projection: string, reader: string): string {
  return `/models/${projection}/${reader}`;
}

/** The path of every reader of `models`, in declaration order. */
export function readerPaths(models: readonly ReadableModel[]): string[] {
  return models.flatMap((m) => Object.keys(m.readers ?? {}).map((r) => modelPath(m.name, r)));
}

const NO_PARAMS: JsonSchema = { type: 'object', properties: {}, additionalProperties: false };

export interface ModelRoutesOptions {
  readonly models: readonly ReadableModel[];
  readonly source: ReadModelSource;
  readonly metrics: QueryMetrics;
  /** `TRIBUTARY_QUERY_MAX_PAGE_SIZE`: the most a reader's integer `limit` parameter may ask for. */
  readonly maxPageSize: number;
}

/** A reader's parameter schema with an integer `limit` capped at `maxPageSize`. */
export function cappedParams(params: JsonSchema | undefined, maxPageSize: number): JsonSchema {
  if (!params) return NO_PARAMS;
  const properties = (params.properties ?? {}) as Record<string, JsonSchema>;
  const limit = properties.limit;
  if (!limit || limit.type !== 'integer') return params;
  const maximum = Math.min(typeof limit.maximum === 'number' ? limit.maximum : Infinity, maxPageSize);
  const capped: JsonSchema = { ...limit, maximum };
  if (typeof limit.default === 'number') capped.default = Math.min(limit.default, maximum);
  return { ...params, properties: { ...properties, limit: capped } };
}

/** Registers a route per reader of every model. */
export function registerModelRoutes(app: FastifyInstance, options: ModelRoutesOptions): void {
  const { source, metrics, maxPageSize } = options;
  for (const model of options.models) {
    for (const [name, reader] of Object.entries(model.readers ?? {})) {
      const r = reader as Reader<Record<string, unknown>>;
      app.get<{ Querystring: Record<string, unknown> }>(
        modelPath(model.name, name),
        queryRoute(r.description, model.name, {
          querystring: cappedParams(r.params, maxPageSize),
          ok: r.answer,
          errors: { 404: r.notFound ?? 'Not found.' },
        }),
        async (request) => {
          const answer = await timedRead(metrics, `${model.name}.${name}`, async () =>
            r.read(request.query, readerContext(source, model.name)),
          );
          if (answer === null || answer === undefined) {
            throw new QueryHttpError(404, QueryErrorCodes.NOT_FOUND, r.notFound ?? 'not found');
          }
          return answer;
        },
      );
    }
  }
}
