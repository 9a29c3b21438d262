/**
 * The error every ingestion route throws to refuse a request, and the body all refusals share:
 * `{ error, message, fields? }` with a stable snake_case `error` code and, for invalid events, one
 * entry per bad value with its path (`data.email`, `[3].data.items[0].quantity`).
 */
import { ServiceHttpError } from '../../lib/http/errors.js';
import type { ErrorBody as SharedErrorBody, FieldError } from '../../lib/http/errors.js';

/** The `error` codes of the ingestion service's responses. */
export const HttpErrorCodes = {
  INVALID_EVENT: 'invalid_event',
  UNKNOWN_EVENT_TYPE: 'unknown_event_type',
  INVALID_JSON: 'invalid_json',
  INVALID_REQUEST: 'invalid_request',
  UNAUTHORIZED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not_found',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  BATCH_TOO_LARGE: 'batch_too_large',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  RATE_LIMITED: 'rate_limited',
  UNAVAILABLE: 'unavailable',
  AUTH_UNAVAILABLE: 'auth_unavailable',
  INTERNAL: 'internal',
} as const;

export type HttpErrorCode = (typeof HttpErrorCodes)[keyof typeof HttpErrorCodes];

export type { FieldError } from '../../lib/http/errors.js';

/** The body of every error response. */
export type ErrorBody = SharedErrorBody<HttpErrorCode>;

/** A refusal with its HTTP status; the server's error handler turns it into an {@link ErrorBody}. */
export class HttpError extends ServiceHttpError<HttpErrorCode> {
  override readonly name = 'HttpError';
}

/** True for a refusal raised on purpose by the ingestion routes. */
export function isHttpError(err: unknown): err is HttpError {
  return err instanceof HttpError;
}

/** At most this many field errors are listed in one response; the message gives the total. */
export const MAX_FIELD_ERRORS = 100;

/** A 400 for invalid events, listing at most {@link MAX_FIELD_ERRORS} field errors. */
export function invalidEvents(
  fields: readonly FieldError[],
  code: HttpErrorCode = HttpErrorCodes.INVALID_EVENT,
): HttpError {
  const shown = fields.slice(0, MAX_FIELD_ERRORS);
  const first = fields[0];
  const summary = first ? `${first.path ? `${first.path}: ` : ''}${first.message}` : 'invalid event';
  const more =
    fields.length > 1 ? ` (and ${fields.length - 1} more problem${fields.length > 2 ? 's' : ''})` : '';
  return new HttpError(400, code, `${summary}${more}`, shown);
}
