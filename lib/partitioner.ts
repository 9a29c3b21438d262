/**
 * Which partition Kafka's default partitioner puts a keyed record in, computed without a client:
 * `(murmur2(utf8(key)) & 0x7fffffff) % partitions`. This is the Java client's `Utils.murmur2` and
 * `toPositive` (`clients/.../common/utils/Utils.java`), kafkajs's `Partitioners.DefaultPartitioner`
 * (`src/producer/partitioners/default/murmur2.js` with `legacy/partitioner.js`) and librdkafka's
 * `murmur2_random` for non-null keys (our confluent engine): all three agree, so the query side can
 * find the partition of an entity id — and so the hash tag of its Redis keys — from the id alone.
 *
 * kafkajs computes the hash on 64-bit BigInt-backed longs and keeps the low 32 bits; multiplication
 * and xor never carry information from high bits to low ones, so 32-bit `Math.imul` arithmetic is
 * exactly equivalent (the unit test checks both against each other and against Kafka's own values).
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;
const encoder = new TextEncoder();

/** Kafka's murmur2 of `data`, as a signed 32-bit integer (what `Utils.murmur2` returns). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last 1-3 bytes (Java's switch with fall-through).
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= data[whole + 2]! << 16;
    if (tail >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition of a record keyed `key` (a string is hashed as its UTF-8 bytes, as every client
 * serialises string keys) on a topic of `partitions` partitions.
 *
 * @throws RangeError when `partitions` is not a positive integer.
 */
export function partitionOf(key: string | Uint8Array, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  const bytes = typeof key === 'string' ? encoder.encode(key) : key;
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}
