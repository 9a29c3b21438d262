import { describe, expect, it } from 'vitest';
import { ErrorCodes, isUnrecoverable } from '../../lib/errors.js';
import { EVENT_TYPES, eventCatalog } from '../helpers/shop.js';
import {
  FrameWriter,
  HEADER_LENGTH,
  MAGIC_BYTE,
  encodeHeader,
  frame,
  parseHeader,
} from '../../schemas/wire-format.js';

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

describe('FrameWriter', () => {
  const pageViewed = eventCatalog.PageViewed.avroType;
  const view = (i: number, padding: number) => ({
    eventId: `e-${i}`,
    occurredAt: 1_700_000_000_000 + i,
    userId: i % 2 === 0 ? `user-${i}` : null,
    sessionId: `s-${i}`,
    url: `https://shop.example.com/${i}`,
    path: `/${i}`,
    referrer: null,
    userAgent: 'x'.repeat(padding) + 'é',
  });

  it('writes exactly what avsc toBuffer + frame wrote, across slab boundaries', () => {
    // A small slab so that values straddle its end and some do not fit in a fresh one either.
    const writer = new FrameWriter(256);
    const written: Buffer[] = [];
    const expected: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const data = view(i, (i * 37) % 700);
      const id = (i * 7919) % 0x7fffffff;
      written.push(writer.write(id, pageViewed, data));
      expected.push(frame(id, pageViewed.toBuffer(data)));
    }
    // Compared at the end: a later write must not have touched an earlier value's bytes.
    for (let i = 0; i < written.length; i++) expect(written[i]!.equals(expected[i]!)).toBe(true);
  });

  it('frames every event type as avsc + frame did', () => {
    const writer = new FrameWriter();
    for (const type of EVENT_TYPES) {
      const avro = eventCatalog[type].avroType;
      for (let i = 0; i < 20; i++) {
        const data: unknown = avro.random();
        expect(writer.write(42, avro, data).equals(frame(42, avro.toBuffer(data)))).toBe(true);
      }
    }
  });

  it('hands out separate, 8-byte aligned views that decode back', () => {
    const writer = new FrameWriter();
    const a = writer.write(1, pageViewed, view(1, 10));
    const b = writer.write(2, pageViewed, view(2, 10));
    expect(a.buffer).toBe(b.buffer);
    expect(b.byteOffset % 8).toBe(0);
    expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + a.length);
    expect(parseHeader(b).schemaId).toBe(2);
    expect(pageViewed.fromBuffer(b.subarray(HEADER_LENGTH))).toEqual(view(2, 10));
  });

  it('refuses schema ids the header cannot hold, before writing', () => {
    const writer = new FrameWriter();
    for (const id of [-1, 1.5, 0x80000000]) {
      expect(() => writer.write(id, pageViewed, view(1, 0))).toThrow(RangeError);
    }
  });
});
