/**
 * The query API's OpenAPI document: parameter and response schemas of every route, security
 * schemes. Served at `/openapi.json` by `@fastify/swagger` from the route schemas, which Fastify
 * also uses to validate parameters (400 with the path of each bad value) and to serialise replies.
 */
import type { SwaggerOptions } from '@fastify/swagger';
import { errorBodySchema, errorResponse, serviceSwaggerOptions } from '../lib/http/openapi.js';
import type { JsonSchema } from '../lib/http/openapi.js';
import { MAX_CURSOR_LENGTH } from '../lib/read-models/cursor.js';
import { QueryErrorCodes } from './http-error.js';
import { INSTANT_HELP } from './params.js';

export type { JsonSchema } from '../lib/http/openapi.js';
export { SECURED } from '../lib/http/openapi.js';

const millis = (description: string): JsonSchema => ({ type: 'integer', description });

/** A user as `GET /users/:id` returns it. */
export const USER_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['userId', 'email', 'name', 'plan', 'country', 'createdAt', 'updatedAt'],
  properties: {
    userId: { type: 'string' },
    email: { type: 'string' },
    name: { type: 'string' },
    plan: { type: 'string' },
    country: { type: 'string' },
    createdAt: millis('First sign-up, event time, epoch ms'),
    updatedAt: millis('Last change, event time, epoch ms'),
  },
};

const NEXT_CURSOR: JsonSchema = {
  type: ['string', 'null'],
  description: 'Pass as `cursor` for the next page; null after the last page.',
};

/** `GET /users`. */
export const USERS_PAGE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['users', 'total', 'nextCursor'],
  properties: {
    users: { type: 'array', items: USER_SCHEMA },
    total: {
      type: ['integer', 'null'],
      description: 'Live users (user-count projection); null when that projection has not run',
    },
    nextCursor: NEXT_CURSOR,
  },
};

const AMOUNTS: JsonSchema = {
  type: 'object',
  additionalProperties: { type: 'integer' },
  description: 'Per ISO 4217 currency code, in minor units',
};

/** One order of `GET /users/:id/orders`. */
export const ORDER_SCHEMA: JsonSchema = {
  type: 'object',
  required: [
    'orderId',
    'userId',
    'status',
    'totalAmount',
    'currency',
    'itemCount',
    'lineCount',
    'items',
    'placedAt',
  ],
  properties: {
    orderId: { type: 'string' },
    userId: { type: 'string' },
    status: { type: 'string', enum: ['PLACED', 'PAID', 'CANCELLED'] },
    totalAmount: { type: 'integer', description: 'Minor units of `currency`' },
    currency: { type: 'string' },
    itemCount: { type: 'integer', description: 'Units ordered (sum of quantities)' },
    lineCount: { type: 'integer' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['sku', 'quantity', 'unitPrice'],
        properties: {
          sku: { type: 'string' },
          quantity: { type: 'integer' },
          unitPrice: { type: 'integer' },
        },
      },
    },
    placedAt: millis('Event time, epoch ms'),
    paidAt: millis('Event time of the payment, epoch ms'),
    paidAmount: { type: 'integer' },
    paymentCurrency: { type: 'string' },
    paymentMethod: { type: 'string' },
    paymentId: { type: 'string' },
    cancelledAt: millis('Event time of the cancellation, epoch ms'),
    cancelReason: { type: 'string' },
    refundAmount: { type: 'integer' },
    refundCurrency: { type: 'string' },
  },
};

/** `GET /users/:id/orders`. */
export const ORDERS_PAGE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['userId', 'orders', 'totals', 'nextCursor'],
  properties: {
    userId: { type: 'string' },
    orders: { type: 'array', items: ORDER_SCHEMA, description: 'Newest first' },
    totals: {
      type: 'object',
      description: "The user's totals over all their orders",
      required: ['placed', 'paid', 'cancelled', 'placedAmount', 'paidAmount', 'refundedAmount'],
      properties: {
        placed: { type: 'integer' },
        paid: { type: 'integer' },
        cancelled: { type: 'integer' },
        placedAmount: AMOUNTS,
        paidAmount: AMOUNTS,
        refundedAmount: AMOUNTS,
      },
    },
    nextCursor: NEXT_CURSOR,
  },
};

/** `limit` and `cursor` of a list route. */
export function pageQuerySchema(maxPageSize: number, defaultLimit = 50): JsonSchema {
  return {
    type: 'object',
    properties: {
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: maxPageSize,
        default: Math.min(defaultLimit, maxPageSize),
        description: 'Page size',
      },
      cursor: {
        type: 'string',
        minLength: 1,
        maxLength: MAX_CURSOR_LENGTH,
        description: '`nextCursor` of the previous page (opaque)',
      },
    },
  };
}

/** `from` / `to` of the analytics routes. */
export const INSTANT_SCHEMA = (what: string): JsonSchema => ({
  type: 'string',
  minLength: 1,
  maxLength: 64,
  description: `${what}: ${INSTANT_HELP}`,
});

export const USER_ID_PARAMS: JsonSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'The user id' } },
};

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
