/**
 * `partitionOf` against the real partitioners: Kafka's own murmur2 test values (the Java client's
 * `UtilsTest.testMurmur2`), kafkajs's murmur2 module, and kafkajs's `DefaultPartitioner` (what the
 * kafkajs engine produces with) over many keys, partition counts and non-ASCII ids. That records
 * really land there on a broker, with both engines, is checked in query-http.int.test.ts.
 */
import { createRequire } from 'node:module';
import { Partitioners } from 'kafkajs';
import type { PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionOf } from '../../lib/partitioner.js';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: Buffer | string,
) => number;

/** Deterministic keys: uuids, prefixes, lengths 0-63, multi-byte UTF-8. */
function* keys(count: number): Generator<string> {
  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_:ÄéßŁ日本😀';
  const chars = [...alphabet];
  for (let i = 0; i < count; i++) {
    const length = Math.floor(random() * 64);
    let key = '';
    for (let j = 0; j < length; j++) key += chars[Math.floor(random() * chars.length)]!;
    yield i % 3 === 0 ? `u${i}-${key}` : key;
  }
}

function metadata(partitions: number): PartitionMetadata[] {
  return Array.from({ length: partitions }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
}

describe('murmur2', () => {
  it("gives Kafka's own test values (Java client UtilsTest)", () => {
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, expected] of cases) expect(murmur2(Buffer.from(key)), key).toBe(expected);
  });

  it("equals kafkajs's murmur2 on every length and on multi-byte UTF-8", () => {
    for (const key of keys(5_000)) expect(murmur2(Buffer.from(key, 'utf8')), key).toBe(kafkajsMurmur2(key));
  });
});

describe('partitionOf', () => {
  it("puts every key where kafkajs's DefaultPartitioner does", () => {
    const partitioner = Partitioners.DefaultPartitioner();
    let checked = 0;
    for (const partitions of [1, 2, 3, 6, 7, 12, 64, 100]) {
      const partitionMetadata = metadata(partitions);
      for (const key of keys(2_000)) {
        const expected = partitioner({ topic: 'users', partitionMetadata, message: { key, value: null } });
        expect(partitionOf(key, partitions), `${key} / ${partitions}`).toBe(expected);
        checked++;
      }
    }
    expect(checked).toBe(16_000);
  });

  it('hashes a string as its UTF-8 bytes', () => {
    expect(partitionOf('Łódź-😀', 12)).toBe(partitionOf(Buffer.from('Łódź-😀', 'utf8'), 12));
  });

  it('refuses a partition count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => partitionOf('u-1', bad)).toThrow(RangeError);
  });
});
