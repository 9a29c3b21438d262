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
import { queryRoute, timedRead } from './routes.js';

/** The path a reader is served at. */
export function modelPath(projection: string, reader: string): string {
  return `/models/${projection}/${reader}`;
}

const NO_PARAMS: JsonSchema = { type: 'object', properties: {}, additionalProperties: false };

export interface ModelRoutesOptions {
  readonly models: readonly ReadableModel[];
  readonly source: ReadModelSource;
  readonly metrics: QueryMetrics;
}

/** Registers a route per reader of every model. */
export function registerModelRoutes(app: FastifyInstance, options: ModelRoutesOptions): void {
  const { source, metrics } = options;
  for (const model of options.models) {
    for (const [name, reader] of Object.entries(model.readers ?? {})) {
      const r = reader as Reader<Record<string, unknown>>;
      app.get<{ Querystring: Record<string, unknown> }>(
        modelPath(model.name, name),
        queryRoute(r.description, model.name, {
          querystring: r.params ?? NO_PARAMS,
          ok: r.answer,
          errors: { 404: r.notFound ?? 'Not found.' },
        }),
        async (request) => {
          const answer = await timedRead(metrics, `${model.name}.${name}`, async () =>
            r.read(request.query, await readerContext(source, model.name)),
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
