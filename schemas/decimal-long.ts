/**
 * An Avro `long` whose JavaScript value is a decimal integer string (`"27000000000000000"`), for
 * sums that may pass 2^53: avsc's default `long` is a JS number and refuses (rightly) any value it
 * cannot hold exactly. This type keeps the full signed 64-bit range, goes through BigInt, never
 * through a number, and is only a reader/writer choice: the schema and the bytes stay a plain
 * `long`, so other readers (Java, Python) and the registry's compatibility checks see no change.
 *
 * Built with avsc's `LongType.__with` (its "custom long types"); `fromBuffer`/`toBuffer` deal in the
 * unpacked 8-byte little-endian two's complement value.
 */
import avro from 'avsc';
import type { Type } from 'avsc';

const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;

/** True for a decimal integer string (no sign but `-`, no leading zeros) that fits a signed 64-bit long. */
export function isDecimalLong(value: unknown): value is string {
  if (typeof value !== 'string' || !INTEGER.test(value)) return false;
  const n = BigInt(value);
  return n >= MIN && n <= MAX;
}

/** The `long` type whose values are decimal strings; give it to avsc as `registry: { long: … }`. */
export const decimalLongType: Type = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer): string => buf.readBigInt64LE().toString(),
  toBuffer: (value: string): Buffer => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(value));
    return buf;
  },
  // The JSON form (avsc's toString/fromString, clone) is the same string; a number is accepted
  // on the way in only when it is an exact integer.
  fromJSON: (json: unknown): string => {
    const text = typeof json === 'number' && Number.isSafeInteger(json) ? String(json) : json;
    if (!isDecimalLong(text)) throw new RangeError(`not a 64-bit integer: ${String(json)}`);
    return text;
  },
  toJSON: (value: string): string => value,
  isValid: isDecimalLong,
  compare: (a: string, b: string): number => {
    const [x, y] = [BigInt(a), BigInt(b)];
    return x < y ? -1 : x > y ? 1 : 0;
  },
});
