/**
 * One error module for the whole project. Every error Tributary throws on purpose is a
 * {@link TributaryError} with a stable string `code` from {@link ErrorCodes}; callers branch on
 * the code through the type guards below, never on message text.
 */

export const ErrorCodes = {
  CONFIG_INVALID: 'TRIBUTARY_CONFIG_INVALID',
  STACK_START_FAILED: 'TRIBUTARY_STACK_START_FAILED',
  STACK_NOT_READY: 'TRIBUTARY_STACK_NOT_READY',
  STACK_DIST_MISSING: 'TRIBUTARY_STACK_DIST_MISSING',
  TOPIC_PROVISIONING_FAILED: 'TRIBUTARY_TOPIC_PROVISIONING_FAILED',
  SCHEMA_REGISTRY: 'TRIBUTARY_SCHEMA_REGISTRY',
  SCHEMA_INCOMPATIBLE: 'TRIBUTARY_SCHEMA_INCOMPATIBLE',
  EVENT_INVALID: 'TRIBUTARY_EVENT_INVALID',
  DECODE_FAILED: 'TRIBUTARY_DECODE_FAILED',
  SCHEMA_INVALID: 'TRIBUTARY_SCHEMA_INVALID',
  SCHEMA_NOT_FOUND: 'TRIBUTARY_SCHEMA_NOT_FOUND',
  SCHEMA_NOT_CACHED: 'TRIBUTARY_SCHEMA_NOT_CACHED',
  EVENT_TYPE_UNKNOWN: 'TRIBUTARY_EVENT_TYPE_UNKNOWN',
  WIRE_TOO_SHORT: 'TRIBUTARY_WIRE_TOO_SHORT',
  WIRE_BAD_MAGIC_BYTE: 'TRIBUTARY_WIRE_BAD_MAGIC_BYTE',
  PRODUCER_CLOSED: 'TRIBUTARY_PRODUCER_CLOSED',
  UNRECOVERABLE: 'TRIBUTARY_UNRECOVERABLE',
  /** A value a record carries would take a stored sum past its bound (dead-lettered). */
  VALUE_OUT_OF_RANGE: 'TRIBUTARY_VALUE_OUT_OF_RANGE',
  /** Another `rebuild` of the same projection holds its lock. */
  REBUILD_LOCKED: 'TRIBUTARY_REBUILD_LOCKED',
  /** No app to load: no `tributary.config.*` where the CLI looked. */
  APP_NOT_FOUND: 'TRIBUTARY_APP_NOT_FOUND',
  /** The app's definition is wrong (named by file and path). */
  APP_INVALID: 'TRIBUTARY_APP_INVALID',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

// Brands, not only `instanceof`: an app's module may load a second copy of this file (an app
// that bundles Tributary, or one linked from elsewhere), whose classes are other objects.
const TRIBUTARY = Symbol.for('tributary.error');
const UNRECOVERABLE = Symbol.for('tributary.error.unrecoverable');

/** Base class of every error Tributary raises deliberately. */
export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly [TRIBUTARY] = true;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TributaryError';
    this.code = code;
  }
}

/**
 * An error that retrying cannot fix: the record that caused it goes straight to the
 * dead-letter topic instead of through the retry/backoff path.
 */
export class UnrecoverableError extends TributaryError {
  readonly [UNRECOVERABLE] = true;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'UnrecoverableError';
  }
}

function branded(err: unknown, brand: symbol): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[brand] === true;
}

export function isTributaryError(err: unknown): err is TributaryError {
  return err instanceof TributaryError || branded(err, TRIBUTARY);
}

export function hasCode(err: unknown, code: ErrorCode): err is TributaryError {
  return isTributaryError(err) && err.code === code;
}

export function isUnrecoverable(err: unknown): err is UnrecoverableError {
  return err instanceof UnrecoverableError || branded(err, UNRECOVERABLE);
}
