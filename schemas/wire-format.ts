/**
 * The Confluent wire format that every Tributary record value uses: one magic byte (0), the
 * writer schema's registry id as a 4-byte big-endian integer, then the Avro binary body.
 * Pure functions, no I/O.
 */
import { ErrorCodes, UnrecoverableError } from '../lib/errors.js';

/** The only magic byte the format defines. */
export const MAGIC_BYTE = 0;

/** Length of the header in bytes: magic byte + schema id. */
export const HEADER_LENGTH = 5;

/** The largest schema id the header can hold (ids are signed 32-bit integers in the registry). */
export const MAX_SCHEMA_ID = 0x7fffffff;

/** What {@link parseHeader} reads from the front of a record value. */
export interface WireHeader {
  /** The registry id of the writer schema. */
  readonly schemaId: number;
  /** Offset of the Avro body in the buffer (always {@link HEADER_LENGTH}). */
  readonly bodyOffset: number;
}

function assertSchemaId(schemaId: number): void {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > MAX_SCHEMA_ID) {
    throw new RangeError(`schema id must be an integer between 0 and ${MAX_SCHEMA_ID}, got ${schemaId}`);
  }
}

/** Returns the 5-byte header for `schemaId`. */
export function encodeHeader(schemaId: number): Buffer {
  assertSchemaId(schemaId);
  const header = Buffer.allocUnsafe(HEADER_LENGTH);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeUInt32BE(schemaId, 1);
  return header;
}

/** Frames an Avro body: header and body in one new buffer (a single allocation and copy). */
export function frame(schemaId: number, body: Uint8Array): Buffer {
  assertSchemaId(schemaId);
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeUInt32BE(schemaId, 1);
  out.set(body, HEADER_LENGTH);
  return out;
}

/** What {@link FrameWriter} needs of an Avro type: avsc's `Type#encode`. */
export interface BodyEncoder<T> {
  /**
   * Writes `value` into `buf` from `pos`; returns the end position, or a negative number (the bytes
   * missing) when it did not fit.
   */
  encode(value: T, buf: Buffer, pos: number): number;
}

/** Default slab size of a {@link FrameWriter}: a few hundred typical events. */
const SLAB_BYTES = 64 * 1024;

/**
 * Writes framed values (header and Avro body) straight into a shared slab and hands out views of
 * it: one small Buffer object per value, no zero-filled temporary and no copy. avsc's `toBuffer`
 * followed by {@link frame} allocated twice and copied the body twice; on the producer's hot path
 * that was most of the garbage.
 *
 * A value keeps its slab alive until the value itself is collected, like Node's own
 * `Buffer.allocUnsafe` pool: fine for records that live until acknowledged, wasteful for values
 * kept for long (copy those with `Buffer.from(value)`). A value's bytes are never written again.
 */
export class FrameWriter {
  readonly #slabBytes: number;
  #slab: Buffer;
  #offset = 0;

  constructor(slabBytes = SLAB_BYTES) {
    this.#slabBytes = slabBytes;
    this.#slab = Buffer.allocUnsafe(slabBytes);
  }

  /** Encodes `value` with `encoder` after the header for `schemaId`. */
  write<T>(schemaId: number, encoder: BodyEncoder<T>, value: T): Buffer {
    assertSchemaId(schemaId);
    let slab = this.#slab;
    let start = this.#offset;
    let end = slab.length - start > HEADER_LENGTH ? encoder.encode(value, slab, start + HEADER_LENGTH) : 0;
    if (end <= 0) {
      // Did not fit (a negative end is minus the bytes missing). The rest of this slab is given
      // up; its written part lives on in the values that point into it.
      const needed = end < 0 ? slab.length - start - end : HEADER_LENGTH;
      this.#slab = Buffer.allocUnsafe(this.#slabBytes);
      this.#offset = 0;
      // A value larger than a slab gets a buffer of its own.
      slab = needed > this.#slabBytes ? Buffer.allocUnsafe(needed) : this.#slab;
      start = 0;
      end = encoder.encode(value, slab, HEADER_LENGTH);
      if (end < 0) {
        slab = Buffer.allocUnsafe(slab.length - end);
        end = encoder.encode(value, slab, HEADER_LENGTH);
      }
    }
    slab[start] = MAGIC_BYTE;
    slab.writeUInt32BE(schemaId, start + 1);
    // Views start 8-byte aligned, as Node's pool's do, so typed-array views of a value stay legal.
    if (slab === this.#slab) this.#offset = (end + 7) & ~7;
    return slab.subarray(start, end);
  }
}

/**
 * Reads the header of a framed record value.
 *
 * @throws {@link UnrecoverableError} `TRIBUTARY_WIRE_TOO_SHORT` when the value is shorter than the
 *   header, `TRIBUTARY_WIRE_BAD_MAGIC_BYTE` when it does not start with {@link MAGIC_BYTE}. Neither
 *   can be fixed by retrying: such a record belongs in the dead-letter topic.
 */
export function parseHeader(value: Uint8Array | null | undefined): WireHeader {
  if (value == null || value.length < HEADER_LENGTH) {
    const length = value == null ? 'a null value' : `${value.length} byte(s)`;
    throw new UnrecoverableError(
      ErrorCodes.WIRE_TOO_SHORT,
      `record value is not in the Confluent wire format: got ${length}, need at least ${HEADER_LENGTH}`,
    );
  }
  const magic = value[0];
  if (magic !== MAGIC_BYTE) {
    throw new UnrecoverableError(
      ErrorCodes.WIRE_BAD_MAGIC_BYTE,
      `record value is not in the Confluent wire format: magic byte is ${magic}, expected ${MAGIC_BYTE}`,
    );
  }
  // DataView rather than Buffer#readUInt32BE so that plain Uint8Arrays work too.
  const schemaId = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(1, false);
  return { schemaId, bodyOffset: HEADER_LENGTH };
}
