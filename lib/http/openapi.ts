/**
 * The OpenAPI pieces both HTTP services share: the error body's schema, the security schemes
 * (bearer API key or JWT, and `X-API-Key`) and the `@fastify/swagger` options around them.
 */
import type { SwaggerOptions } from '@fastify/swagger';

/** A JSON Schema, as the route definitions and the OpenAPI document carry it. */
export type JsonSchema = Record<string, unknown>;

/** The schema of the error body, `{ error, message, fields? }`, with `codes` as the `error` enum. */
export function errorBodySchema(codes: readonly string[]): JsonSchema {
  return {
    type: 'object',
    required: ['error', 'message'],
    properties: {
      error: { type: 'string', enum: [...codes] },
      message: { type: 'string' },
      fields: {
        type: 'array',
        items: {
          type: 'object',
          required: ['path', 'message'],
          properties: { path: { type: 'string' }, message: { type: 'string' } },
        },
      },
    },
  };
}

/** One error response of the OpenAPI document: `description` and the error body's schema. */
export function errorResponse(errorSchema: JsonSchema, description: string): JsonSchema {
  return { description, ...errorSchema };
}

/** Options of `@fastify/swagger`: OpenAPI 3.1, bearer (API key or JWT with `scope`) and X-API-Key. */
export function serviceSwaggerOptions(info: {
  readonly title: string;
  readonly description: string;
  readonly scope: string;
}): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: { title: info.title, version: '1.0.0', description: info.description },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: `An API key, or a JWT with scope \`${info.scope}\``,
          },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
  };
}

/** The security requirement of a route that needs a credential. */
export const SECURED: readonly Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }];
