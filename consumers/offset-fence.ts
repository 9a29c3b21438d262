/**
 * The offset fence (DESIGN.md §4, §11): a partition slice's Redis writes and the partition's new
 * offset are applied in one Lua script, atomically, and only if the stored offset is exactly the
 * one the consumer expects. Offsets are facts, not arithmetic: a gap before the slice's first
 * record (a transaction marker, compaction, retention) is fine; a stored offset that moved on
 * (someone applied ahead) or back (Redis lost its last writes) is answered and nothing is written.
 * The same script drops event ids it applied within the de-duplication horizon and refuses a
 * bounded sum that would leave the safe-integer range, both before its first write, so it can
 * never fail halfway. One round trip per slice.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { PartitionKeys } from './keys.js';

/** Finds `consumers/lua/<name>` from the sources or from the build in `dist/`. */
export function luaScript(name: string): string {
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    for (const candidate of [path.join(dir, 'lua', name), path.join(dir, 'consumers', 'lua', name)]) {
      if (existsSync(candidate)) return readFileSync(candidate, 'utf8');
    }
  }
  throw new Error(`cannot find consumers/lua/${name} above ${start}`);
}

/** A record's share of a bounded sum ({@link WriteBatch.sum}). */
export interface SumSource {
  readonly offset: string;
  readonly amount: number;
}

/** A point of a {@link WriteBatch} to roll back to. */
export interface WriteMark {
  readonly words: number;
  readonly ops: number;
  readonly sums: number;
}

/** The writes of one batch, built by a projection, applied by {@link OffsetFence.apply}. */
export class WriteBatch {
  /** Flat encoding, sent as one JSON array: for each op, its word count then its words. */
  readonly words: string[] = [];
  readonly keys = new Set<string>();
  ops = 0;
  /**
   * Bounded sums, flat: key, field, increment and `'1'` (add it) or `'0'` (only check it: a
   * guarded command of the batch adds it, or not) for each (see {@link sum}, {@link bound}).
   */
  readonly sums: string[] = [];
  /** For each bounded sum, the records it adds up: their offsets and amounts. */
  readonly sumSources: (readonly SumSource[])[] = [];
  /** The offset of the record being applied (set by the runtime), blamed for its own sums. */
  current: string | undefined;

  /** A plain Redis command whose first argument is the key it writes. */
  command(name: string, key: string, ...args: (string | number)[]): this {
    this.keys.add(key);
    this.ops++;
    this.words.push(String(args.length + 2), name, key);
    this.pushArgs(args);
    return this;
  }

  /** A command that runs only if `guard` exists at that point of the batch. */
  ifExists(guard: string, name: string, key: string, ...args: (string | number)[]): this {
    this.keys.add(guard).add(key);
    this.ops++;
    this.words.push(String(args.length + 4), 'IF_EXISTS', guard, name, key);
    this.pushArgs(args);
    return this;
  }

  /** A command that runs only if `guard` does not exist at that point of the batch. */
  ifNotExists(guard: string, name: string, key: string, ...args: (string | number)[]): this {
    this.keys.add(guard).add(key);
    this.ops++;
    this.words.push(String(args.length + 4), 'IF_NOT_EXISTS', guard, name, key);
    this.pushArgs(args);
    return this;
  }

  /**
   * Publishes `message` on a Pub/Sub channel if and when the batch is applied (from inside the
   * script, so exactly once per applied batch). A channel is not a key: it needs no hash tag.
   */
  publish(channel: string, message: string): this {
    this.words.push('3', 'PUBLISH', channel, message);
    this.ops++;
    return this;
  }

  /**
   * `HINCRBY key field increment`, applied only if the field's value stays a safe integer
   * (|v| ≤ 2^53 − 1): the fence checks every sum against what Redis holds before it writes
   * anything. When one would pass the bound, the runtime dead-letters the records (`sources`;
   * by default the one being applied) that do not fit, taken in offset order, and builds the
   * slice again. Use it for sums of values a record carries (amounts); counters of records cannot
   * get near the bound.
   */
  sum(key: string, field: string, increment: number, sources?: readonly SumSource[]): this {
    return this.bounded(key, field, increment, '1', sources);
  }

  /**
   * Checks, with {@link sum}'s rule, that `key field` can take `increment` without leaving the
   * safe-integer range, and writes nothing: for an amount that a guarded command of the batch
   * adds with HINCRBY only in some cases (an order paid once). The check assumes it is added, so
   * the command can never overflow, whichever guards hold.
   */
  bound(key: string, field: string, increment: number, sources?: readonly SumSource[]): this {
    return this.bounded(key, field, increment, '0', sources);
  }

  private bounded(
    key: string,
    field: string,
    increment: number,
    add: '0' | '1',
    sources: readonly SumSource[] | undefined,
  ): this {
    // A merged increment may exceed the bound (then the fence refuses it, whatever Redis holds).
    if (!Number.isInteger(increment)) throw new RangeError(`sum increment ${increment} is not an integer`);
    this.keys.add(key);
    this.sums.push(key, field, increment.toFixed(0), add);
    const own = this.current === undefined ? [] : [{ offset: this.current, amount: increment }];
    this.sumSources.push(sources ?? own);
    return this;
  }

  /** A point to roll back to if building one record's writes fails half-way. */
  mark(): WriteMark {
    return { words: this.words.length, ops: this.ops, sums: this.sumSources.length };
  }

  rollback(mark: WriteMark): void {
    this.words.length = mark.words;
    this.ops = mark.ops;
    this.sumSources.length = mark.sums;
    this.sums.length = 4 * mark.sums;
  }

  /** Appends an operation's arguments word by word (no intermediate arrays: this runs per record). */
  private pushArgs(args: readonly (string | number)[]): void {
    for (const a of args) this.words.push(typeof a === 'string' ? a : String(a));
  }
}

/**
 * The records of a slice that a bounded sum cannot take, given what Redis holds (`current`, one
 * per sum of `writes`): in offset order, a record fits if every sum it adds to stays within the
 * safe-integer range, and then counts towards them. Answers offset → the sum it would break.
 */
export function refuseOutOfRange(
  records: readonly { readonly offset: string }[],
  writes: WriteBatch,
  current: readonly number[],
): Map<string, string> {
  const shares = new Map<string, { sum: number; amount: number }[]>();
  writes.sumSources.forEach((sources, sum) => {
    for (const { offset, amount } of sources) {
      const list = shares.get(offset);
      if (list) list.push({ sum, amount });
      else shares.set(offset, [{ sum, amount }]);
    }
  });
  // Sums of one field add up: each sum counts in the running total of the first of its field.
  const first = new Map<string, number>();
  const total = writes.sumSources.map((_, sum) => {
    const field = `${writes.sums[4 * sum]}\0${writes.sums[4 * sum + 1]}`;
    if (!first.has(field)) first.set(field, sum);
    return first.get(field)!;
  });
  const running = [...current];
  const refused = new Map<string, string>();
  for (const { offset } of records) {
    const own = shares.get(offset);
    if (!own) continue;
    const next = new Map<number, number>();
    for (const { sum, amount } of own) {
      const t = total[sum]!;
      next.set(t, (next.get(t) ?? running[t]!) + amount);
    }
    const over = [...next].find(([, value]) => Math.abs(value) > Number.MAX_SAFE_INTEGER);
    if (over) {
      const [key, field] = writes.sums.slice(4 * over[0], 4 * over[0] + 2);
      refused.set(offset, `${field} of ${key}`);
      continue;
    }
    for (const [t, value] of next) running[t] = value;
  }
  return refused;
}

/** What the fence answered; nothing was written unless `kind` is `applied`. */
export type FenceResult =
  /** Applied; `stored` is the slice's last offset, now the partition's offset. */
  | { readonly kind: 'applied'; readonly stored: string }
  /** The stored offset is not the expected one: `stored` is what Redis holds (undefined: none). */
  | { readonly kind: 'moved'; readonly stored: string | undefined }
  /** These positions of `ids` were applied before (within the horizon). */
  | { readonly kind: 'duplicates'; readonly positions: readonly number[] }
  /**
   * The bounded sum at position `sum` of `batch.sums` would leave the safe-integer range;
   * `current` holds what Redis stores for every bounded sum of the batch, in order.
   */
  | { readonly kind: 'bound'; readonly sum: number; readonly current: readonly number[] }
  /** The slice's floor key holds `floor`, above the floor it was built with ({@link SliceFloor}). */
  | { readonly kind: 'floor'; readonly floor: number };

/**
 * A floor a slice was built with: a number in Redis that only grows (analytics' finality
 * frontier as the partition's slot knows it), under which the slice's decisions hold. The fence
 * refuses the slice when `key` holds more, in the same script as the writes, so a slice built on
 * a stale floor never lands after the floor moved.
 */
export interface SliceFloor {
  /** A key of the partition's slot (its hash tag). */
  readonly key: string;
  /** The floor the slice was built with (`-Infinity`: none). */
  readonly builtWith: number;
}

/** One slice for {@link OffsetFence.apply}. */
export interface FencedSlice {
  /** The offset the consumer believes is stored (undefined: none yet). */
  readonly expected: string | undefined;
  /** The slice's last offset, stored once applied. */
  readonly last: string;
  readonly batch: WriteBatch;
  /** Event ids to de-duplicate (empty: none); each is remembered under `idsTime`. */
  readonly ids: readonly string[];
  /** Epoch ms the ids are kept under (the slice's latest record time). */
  readonly idsTime: number;
  /** Ids kept under a time before this are forgotten (the horizon's start). */
  readonly forgetBefore: number;
  /** Refuse the slice if this floor moved past what it was built with (see {@link SliceFloor}). */
  readonly floor?: SliceFloor | undefined;
}

type ApplyBatch = (numKeys: number, ...args: string[]) => Promise<(number | string)[]>;

/** Applies write batches behind the offset fence. One per Redis connection. */
export class OffsetFence {
  private readonly run: ApplyBatch;

  constructor(private readonly redis: Redis) {
    // ioredis sends EVALSHA and falls back to EVAL (loading the script) once per connection.
    if (!('tributaryApplyBatch' in redis))
      redis.defineCommand('tributaryApplyBatch', { lua: luaScript('apply-batch.lua') });
    this.run = (redis as unknown as { tributaryApplyBatch: ApplyBatch }).tributaryApplyBatch.bind(redis);
  }

  /** The last applied offset of the partition, or undefined if none was. */
  async stored(keys: PartitionKeys): Promise<string | undefined> {
    return (await this.redis.get(keys.offset())) ?? undefined;
  }

  /** Applies `slice` if the partition's stored offset is `slice.expected` (see {@link FenceResult}). */
  async apply(keys: PartitionKeys, slice: FencedSlice): Promise<FenceResult> {
    const { batch } = slice;
    const offsetKey = keys.offset();
    const seenKey = keys.seen();
    const touched = [...batch.keys].filter((k) => k !== offsetKey && k !== seenKey);
    const { floor } = slice;
    if (floor && !batch.keys.has(floor.key)) touched.push(floor.key);
    for (const k of touched) {
      if (!k.includes(keys.tag)) throw new Error(`key ${k} lacks the partition hash tag ${keys.tag}`);
    }
    // The writes travel as one JSON argument that the script decodes (cjson, in C): one bulk
    // string instead of one per word costs less to build here and to parse in Redis.
    const answer = await this.run(
      2 + touched.length,
      offsetKey,
      seenKey,
      ...touched,
      slice.expected ?? '',
      slice.last,
      JSON.stringify(batch.words),
      batch.sums.length === 0 ? '[]' : JSON.stringify(batch.sums),
      slice.ids.length === 0 ? '[]' : JSON.stringify(slice.ids),
      String(slice.idsTime),
      String(slice.forgetBefore),
      ...(floor ? [floor.key, Number.isFinite(floor.builtWith) ? String(floor.builtWith) : ''] : []),
    );
    switch (Number(answer[0])) {
      case 1:
        return { kind: 'applied', stored: String(answer[1]) };
      case 0:
        return { kind: 'moved', stored: answer[1] === '' ? undefined : String(answer[1]) };
      case 2:
        return { kind: 'duplicates', positions: answer.slice(1).map((i) => Number(i) - 1) };
      case 3:
        return { kind: 'bound', sum: Number(answer[1]) - 1, current: answer.slice(2).map(Number) };
      case 4:
        return { kind: 'floor', floor: Number(answer[1]) };
      default:
        throw new Error(`unexpected answer from the fence: ${JSON.stringify(answer)}`);
    }
  }
}
