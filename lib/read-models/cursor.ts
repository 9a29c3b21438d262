/**
 * Opaque pagination cursors: a list's position as a small JSON array, base64url-encoded, so it
 * fits in a query string and callers are not tempted to build one. The first element names the
 * list (`users`, `orders`), so a cursor of one list is refused by another. Positions are checked
 * by their reader; anything that does not decode is an `invalid_cursor` error.
 */
import { ReadModelError, ReadModelErrorCodes } from './errors.js';

/** Longest cursor accepted (a position holds at most one id of up to 256 characters). */
export const MAX_CURSOR_LENGTH = 1024;

/** One element of a position. */
export type CursorPart = string | number | null;

/** Encodes `parts` as the cursor of list `kind`. */
export function encodeCursor(kind: string, parts: readonly CursorPart[]): string {
  return Buffer.from(JSON.stringify([kind, ...parts]), 'utf8').toString('base64url');
}

/** An `invalid_cursor` error naming what is wrong. */
export function invalidCursor(reason: string): ReadModelError {
  return new ReadModelError(ReadModelErrorCodes.INVALID_CURSOR, `invalid cursor: ${reason}`);
}

/**
 * Decodes a cursor of list `kind` with exactly `length` parts.
 *
 * @throws {@link ReadModelError} `invalid_cursor`.
 */
export function decodeCursor(kind: string, cursor: string, length: number): CursorPart[] {
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw invalidCursor('not a cursor returned by this API');
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor('not a cursor returned by this API');
  }
  if (!Array.isArray(value) || value[0] !== kind) throw invalidCursor(`not a cursor of the ${kind} list`);
  const parts = value.slice(1) as unknown[];
  if (
    parts.length !== length ||
    !parts.every((p) => p === null || typeof p === 'string' || (typeof p === 'number' && Number.isFinite(p)))
  ) {
    throw invalidCursor('not a cursor returned by this API');
  }
  return parts as CursorPart[];
}

/** A cursor part that must be a string matching `pattern`. */
export function cursorString(part: CursorPart | undefined, pattern: RegExp = /^[\s\S]*$/): string {
  if (typeof part !== 'string' || !pattern.test(part))
    throw invalidCursor('not a cursor returned by this API');
  return part;
}

/** A cursor part that must be an integer in `[min, max]`. */
export function cursorInt(part: CursorPart | undefined, min: number, max: number): number {
  if (typeof part !== 'number' || !Number.isSafeInteger(part) || part < min || part > max) {
    throw invalidCursor('not a cursor returned by this API');
  }
  return part;
}
