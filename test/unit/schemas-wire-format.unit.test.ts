import { describe, expect, it } from 'vitest';
import { ErrorCodes, isUnrecoverable } from '../../lib/errors.js';
import { HEADER_LENGTH, MAGIC_BYTE, encodeHeader, frame, parseHeader } from '../../schemas/wire-format.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(isUnrecoverable(err)).toBe(true);
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('Confluent wire format', () => {
  it('writes magic byte 0 and the schema id as 4 big-endian bytes', () => {
    expect(MAGIC_BYTE).toBe(0);
    expect(HEADER_LENGTH).toBe(5);
    expect([...encodeHeader(258)]).toEqual([0, 0, 0, 1, 2]);
    expect([...encodeHeader(0)]).toEqual([0, 0, 0, 0, 0]);
    expect([...encodeHeader(0x7fffffff)]).toEqual([0, 0x7f, 0xff, 0xff, 0xff]);
  });

  it('frames a body after the header', () => {
    const value = frame(0x01020304, Buffer.from([9, 8, 7]));
    expect([...value]).toEqual([0, 1, 2, 3, 4, 9, 8, 7]);
    expect([...frame(5, Buffer.alloc(0))]).toEqual([0, 0, 0, 0, 5]);
  });

  it('refuses schema ids the header cannot hold', () => {
    for (const id of [-1, 1.5, 0x80000000, Number.NaN]) {
      expect(() => encodeHeader(id)).toThrow(RangeError);
      expect(() => frame(id, Buffer.alloc(1))).toThrow(RangeError);
    }
  });

  it('reads back the id it wrote', () => {
    for (const id of [0, 1, 255, 256, 65_536, 123_456_789, 0x7fffffff]) {
      expect(parseHeader(frame(id, Buffer.from('body')))).toEqual({ schemaId: id, bodyOffset: 5 });
    }
  });

  it('reads a header-only value (empty body) and plain Uint8Arrays at an offset', () => {
    expect(parseHeader(Buffer.from([0, 0, 0, 0, 42])).schemaId).toBe(42);
    const backing = new Uint8Array([99, 99, 0, 0, 0, 1, 0, 7]);
    expect(parseHeader(backing.subarray(2)).schemaId).toBe(256);
  });

  it('reports a value shorter than the header as WIRE_TOO_SHORT', () => {
    expect(codeOf(() => parseHeader(Buffer.alloc(0)))).toBe(ErrorCodes.WIRE_TOO_SHORT);
    expect(codeOf(() => parseHeader(Buffer.from([0, 0, 0, 1])))).toBe(ErrorCodes.WIRE_TOO_SHORT);
    expect(codeOf(() => parseHeader(null))).toBe(ErrorCodes.WIRE_TOO_SHORT);
    expect(codeOf(() => parseHeader(undefined))).toBe(ErrorCodes.WIRE_TOO_SHORT);
  });

  it('reports any magic byte but 0 as WIRE_BAD_MAGIC_BYTE', () => {
    expect(codeOf(() => parseHeader(Buffer.from([1, 0, 0, 0, 1, 2])))).toBe(ErrorCodes.WIRE_BAD_MAGIC_BYTE);
    // JSON that slipped onto the topic: '{' is 0x7b.
    expect(codeOf(() => parseHeader(Buffer.from('{"userId":"u1"}')))).toBe(ErrorCodes.WIRE_BAD_MAGIC_BYTE);
    expect(() => parseHeader(Buffer.from([0xff, 0, 0, 0, 1]))).toThrow(/magic byte is 255, expected 0/);
  });
});
