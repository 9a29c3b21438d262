/** A first-come, first-served budget of bytes: the backpressure of both producer engines. */
import type { OutgoingRecord } from '../engine.js';

/** Per-record framing in a v2 record batch (length, attributes, deltas, varints), roughly. */
const RECORD_OVERHEAD = 16;

/** What a record weighs in a batch before compression, approximately: payload plus framing. */
export function recordBytes(record: OutgoingRecord): number {
  const { key, headers } = record;
  let bytes = RECORD_OVERHEAD + record.value.length;
  bytes += typeof key === 'string' ? Buffer.byteLength(key) : key.length;
  if (headers !== undefined) {
    for (const name in headers) {
      const value = headers[name]!;
      bytes +=
        2 + Buffer.byteLength(name) + (typeof value === 'string' ? Buffer.byteLength(value) : value.length);
    }
  }
  return bytes;
}

interface Waiter {
  readonly bytes: number;
  readonly grant: () => void;
}

/**
 * Bytes a producer may hold unacknowledged. {@link ByteBudget.take} grants in arrival order, so a
 * small request never overtakes a large one that arrived earlier: records handed to a producer
 * in order reach it in order. A request larger than the whole budget is granted when nothing
 * else is held, so it cannot wait forever.
 */
export class ByteBudget {
  readonly limit: number;
  #used = 0;
  readonly #waiters: Waiter[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes currently held. */
  get used(): number {
    return this.#used;
  }

  /** Requests still waiting for room. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Calls `grant` once `bytes` are taken: synchronously when there is room and nobody waits. */
  take(bytes: number, grant: () => void): void {
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#used += bytes;
      grant();
      return;
    }
    this.#waiters.push({ bytes, grant });
  }

  /** Returns bytes and grants waiting requests, oldest first, while they fit. */
  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.bytes)) {
      const next = this.#waiters.shift()!;
      this.#used += next.bytes;
      next.grant();
    }
  }

  #fits(bytes: number): boolean {
    return this.#used === 0 || this.#used + bytes <= this.limit;
  }
}
