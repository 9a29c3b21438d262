/** The Fastify options every ingestion route is declared with. */
import type { RouteShorthandOptions } from 'fastify';
import { SECURED, acceptedSchema, ingestErrorResponses } from './openapi.js';
import type { JsonSchema } from './openapi.js';

/**
 * Route options for an ingestion route: the `ingest` scope, OpenAPI docs and response schemas, and
 * the request body as documentation only (see openapi.ts).
 */
export function ingestRoute(
  summary: string,
  body: JsonSchema | undefined,
  extra: { params?: JsonSchema; querystring?: JsonSchema; consumes?: string[]; accepted?: JsonSchema } = {},
): RouteShorthandOptions {
  const schema = {
    summary,
    tags: ['ingest'],
    security: SECURED as Record<string, string[]>[],
    ...(extra.params ? { params: extra.params } : {}),
    ...(extra.querystring ? { querystring: extra.querystring } : {}),
    response: { 202: extra.accepted ?? acceptedSchema(), ...ingestErrorResponses() },
  };
  return {
    schema,
    config: {
      scope: 'ingest',
      swaggerTransform: ({ schema: s, url }) => ({
        schema: { ...s, ...(body ? { body } : {}), ...(extra.consumes ? { consumes: extra.consumes } : {}) },
        url,
      }),
    },
  };
}
