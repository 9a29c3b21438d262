/**
 * Why a read could not be answered, for the callers of lib/read-models (the query service maps
 * these to HTTP statuses, the CLI to one line on stderr). Branch on `code`, never on the message.
 */

/** The codes of {@link ReadModelError}. */
export const ReadModelErrorCodes = {
  /** A pagination cursor that is not one this code issued (malformed, or for another list). */
  INVALID_CURSOR: 'invalid_cursor',
  /** A cursor of a key version that a rebuild has replaced since: start the listing again. */
  CURSOR_EXPIRED: 'cursor_expired',
  /** Something a read needs cannot be reached (Kafka metadata for a partition count). */
  UNAVAILABLE: 'unavailable',
} as const;

export type ReadModelErrorCode = (typeof ReadModelErrorCodes)[keyof typeof ReadModelErrorCodes];

// A brand as well as the class: an app's readers may throw from a second copy of this module.
const BRAND = Symbol.for('tributary.read-model-error');

/** A read refused or impossible for a reason the caller should hear about, with a stable `code`. */
export class ReadModelError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly code: ReadModelErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ReadModelError';
  }
}

export function isReadModelError(err: unknown): err is ReadModelError {
  return (
    err instanceof ReadModelError ||
    (typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true)
  );
}
