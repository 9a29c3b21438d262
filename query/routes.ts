/**
 * The read-model routes: users and a user's orders, read from Redis through lib/read-models (the
 * CLI reads through the same functions). Every route needs the `query` scope.
 *
 * - `GET /users?limit&cursor`: a page of users and the total (user-count projection).
 * - `GET /users/:id`: one user, 404 when there is none.
 * - `GET /users/:id/orders?limit&cursor`: the user's orders newest first, and their totals.
 */
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import { isReadModelError, ReadModelErrorCodes } from '../lib/read-models/errors.js';
import { readUserOrders, type OrderTotals } from '../lib/read-models/orders.js';
import type { ReadModelSource } from '../lib/read-models/source.js';
import { listUsers, readUser } from '../lib/read-models/users.js';
import { QueryErrorCodes, QueryHttpError } from './http-error.js';
import {
  ORDERS_PAGE_SCHEMA,
  SECURED,
  USERS_PAGE_SCHEMA,
  USER_ID_PARAMS,
  USER_SCHEMA,
  pageQuerySchema,
  queryErrorResponses,
} from './openapi.js';
import type { JsonSchema } from './openapi.js';
import type { QueryMetrics } from './query-metrics.js';

export interface QueryRoutesOptions {
  readonly source: ReadModelSource;
  readonly metrics: QueryMetrics;
  readonly maxPageSize: number;
}

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

const NO_TOTALS: OrderTotals = {
  placed: 0,
  paid: 0,
  cancelled: 0,
  placedAmount: {},
  paidAmount: {},
  refundedAmount: {},
};

/** Registers the users and orders routes on `app`. */
export function registerQueryRoutes(app: FastifyInstance, options: QueryRoutesOptions): void {
  const { source, metrics, maxPageSize } = options;
  const page = pageQuerySchema(maxPageSize);

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    '/users',
    queryRoute('List users (a page, in no particular order) and the total count', 'users', {
      querystring: page,
      ok: USERS_PAGE_SCHEMA,
    }),
    async (request) =>
      timedRead(metrics, 'users', () =>
        listUsers(source, { limit: request.query.limit, cursor: request.query.cursor }),
      ),
  );

  app.get<{ Params: { id: string } }>(
    '/users/:id',
    queryRoute('One user', 'users', {
      params: USER_ID_PARAMS,
      ok: USER_SCHEMA,
      errors: { 404: 'No such user (never created, or deleted).' },
    }),
    async (request) => {
      const user = await timedRead(metrics, 'user', () => readUser(source, request.params.id));
      if (!user)
        throw new QueryHttpError(
          404,
          QueryErrorCodes.NOT_FOUND,
          `no user ${JSON.stringify(request.params.id)}`,
        );
      return user;
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: string } }>(
    '/users/:id/orders',
    queryRoute("A user's orders, newest first, with status, and the user's totals", 'users', {
      params: USER_ID_PARAMS,
      querystring: page,
      ok: ORDERS_PAGE_SCHEMA,
      errors: { 404: 'No such user and no orders of theirs.' },
    }),
    async (request) => {
      const userId = request.params.id;
      const found = await timedRead(metrics, 'orders', () =>
        readUserOrders(source, userId, { limit: request.query.limit, cursor: request.query.cursor }),
      );
      if (found) return { userId, ...found };
      // No orders: an empty page for a known user, 404 for an unknown one.
      if (!(await timedRead(metrics, 'user', () => readUser(source, userId)))) {
        throw new QueryHttpError(
          404,
          QueryErrorCodes.NOT_FOUND,
          `no user ${JSON.stringify(userId)} and no orders`,
        );
      }
      return { userId, orders: [], totals: NO_TOTALS, nextCursor: null };
    },
  );
}
