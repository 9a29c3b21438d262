/**
 * The error every query route throws to refuse a request, and the body all refusals share (the
 * same shape as the ingestion service's): `{ error, message, fields? }` with a stable snake_case
 * `error` code and, for bad parameters, one entry per bad value with its path
 * (`querystring.from`, `params.id`).
 */
import { ServiceHttpError } from '../lib/http/errors.js';
import type { ErrorBody as SharedErrorBody, FieldError } from '../lib/http/errors.js';

/** The `error` codes of the query service's responses. */
export const QueryErrorCodes = {
  INVALID_REQUEST: 'invalid_request',
  INVALID_CURSOR: 'invalid_cursor',
  CURSOR_EXPIRED: 'cursor_expired',
  UNAUTHORIZED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not_found',
  RATE_LIMITED: 'rate_limited',
  UNAVAILABLE: 'unavailable',
  AUTH_UNAVAILABLE: 'auth_unavailable',
  INTERNAL: 'internal',
} as const;

export type QueryErrorCode = (typeof QueryErrorCodes)[keyof typeof QueryErrorCodes];

export type { FieldError } from '../lib/http/errors.js';

/** The body of every error response. */
export type ErrorBody = SharedErrorBody<QueryErrorCode>;

/** A refusal with its HTTP status; the server's error handler turns it into an {@link ErrorBody}. */
export class QueryHttpError extends ServiceHttpError<QueryErrorCode> {
  override readonly name = 'QueryHttpError';
}

/** True for a refusal raised on purpose by the query routes. */
export function isQueryHttpError(err: unknown): err is QueryHttpError {
  return err instanceof QueryHttpError;
}

/** A 400 listing the bad parameters; the message names the first. */
export function invalidParams(fields: readonly FieldError[]): QueryHttpError {
  const first = fields[0];
  const summary = first ? `${first.path}: ${first.message}` : 'invalid request';
  const more = fields.length > 1 ? ` (and ${fields.length - 1} more)` : '';
  return new QueryHttpError(400, QueryErrorCodes.INVALID_REQUEST, `${summary}${more}`, fields);
}
