/**
 * The query API's OpenAPI document: parameter and response schemas of the engine's routes
 * (analytics, stream; the app's readers bring their own), security schemes. Served at `/openapi.json` by `@fastify/swagger` from the route schemas, which Fastify
 * also uses to validate parameters (400 with the path of each bad value) and to serialise replies.
 */
import type { SwaggerOptions } from '@fastify/swagger';
import { errorBodySchema, errorResponse, serviceSwaggerOptions } from '../lib/http/openapi.js';
import type { JsonSchema } from '../lib/http/openapi.js';
import { QueryErrorCodes } from './http-error.js';
import { INSTANT_HELP } from './params.js';

export type { JsonSchema } from '../lib/http/openapi.js';
export { SECURED } from '../lib/http/openapi.js';

/** `from` / `to` of the analytics routes. */
export const INSTANT_SCHEMA = (what: string): JsonSchema => ({
  type: 'string',
  minLength: 1,
  maxLength: 64,
  description: `${what}: ${INSTANT_HELP}`,
});

/** The body of every error response. */
export const ERROR_SCHEMA: JsonSchema = errorBodySchema(Object.values(QueryErrorCodes));

/** The error responses every query route may give, plus `extra` (e.g. 404). */
export function queryErrorResponses(extra: Record<number, string> = {}): Record<string, JsonSchema> {
  const responses: Record<string, JsonSchema> = {
    400: errorResponse(ERROR_SCHEMA, 'A bad parameter or cursor; `fields` names each bad value.'),
    401: errorResponse(ERROR_SCHEMA, 'Missing or invalid API key or token.'),
    403: errorResponse(ERROR_SCHEMA, 'The credential lacks the `query` scope.'),
    429: errorResponse(ERROR_SCHEMA, 'Rate limit exceeded; see Retry-After.'),
    503: errorResponse(
      ERROR_SCHEMA,
      'Redis (or Kafka metadata) is unavailable, or the service is shutting down. Retry later.',
    ),
  };
  for (const [status, description] of Object.entries(extra))
    responses[status] = errorResponse(ERROR_SCHEMA, description);
  return responses;
}

/** Options of `@fastify/swagger` for the query API. */
export function swaggerOptions(): SwaggerOptions {
  return serviceSwaggerOptions({
    title: 'Tributary query API',
    description:
      'Read-only access to the read models and windowed analytics that the consumer groups build ' +
      'in Redis, and a Server-Sent Events stream of live window updates. Times are epoch ms, event time.',
    scope: 'query',
  });
}
