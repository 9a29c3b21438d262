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
