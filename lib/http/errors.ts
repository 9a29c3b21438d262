/**
 * The refusal every Tributary HTTP service throws, and the body all its error responses share:
 * `{ error, message, fields? }` with a stable snake_case `error` code and, for bad input, one entry
 * per bad value with its path (`data.email`, `[3].data.items[0].sku`, `querystring.from`). Each
 * service names its own codes (producers/http/http-error.ts, query/http-error.ts).
 */
import type { FastifyError } from 'fastify';

/** One bad value in a request. */
export interface FieldError {
  /** Where the value is: `data.email`, `[3].data.items[0].sku`, `querystring.limit`, `params.id`. */
  readonly path: string;
  readonly message: string;
}

/** The body of every error response. */
export interface ErrorBody<C extends string = string> {
  readonly error: C;
  readonly message: string;
  readonly fields?: readonly FieldError[];
}

/** A refusal with its HTTP status; the app's error handler turns it into an {@link ErrorBody}. */
export class ServiceHttpError<C extends string = string> extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: C,
    message: string,
    readonly fields: readonly FieldError[] = [],
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ServiceHttpError';
  }
}

/** True for a refusal raised on purpose by a route. */
export function isServiceHttpError(err: unknown): err is ServiceHttpError {
  return err instanceof ServiceHttpError;
}

/** Field errors from Fastify's JSON-Schema validation of bodies, params, query strings and headers. */
export function validationFields(err: FastifyError): FieldError[] {
  return (err.validation ?? []).map((v) => {
    const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
    const path = [err.validationContext, ...v.instancePath.split('/').filter(Boolean), missing]
      .filter(Boolean)
      .join('.');
    return { path, message: v.message ?? 'invalid' };
  });
}
