/**
 * The error every query route throws to refuse a request, and the body all refusals share (the
 * same shape as the ingestion service's): `{ error, message, fields? }` with a stable snake_case
 * `error` code and, for bad parameters, one entry per bad value with its path
 * (`querystring.from`, `params.id`).
 */

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

/** One bad value in a request. */
export interface FieldError {
  /** Where the value is: `querystring.limit`, `params.id`. */
  readonly path: string;
  readonly message: string;
}

/** The body of every error response. */
export interface ErrorBody {
  readonly error: QueryErrorCode;
  readonly message: string;
  readonly fields?: readonly FieldError[];
}

/** A refusal with its HTTP status; the server's error handler turns it into an {@link ErrorBody}. */
export class QueryHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: QueryErrorCode,
    message: string,
    readonly fields: readonly FieldError[] = [],
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'QueryHttpError';
  }
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
