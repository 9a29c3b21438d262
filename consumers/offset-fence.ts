/**
 * The offset fence (DESIGN.md §4): a partition batch's Redis writes and the partition's new
 * offset are applied in one Lua script, atomically, and only if the stored offset is below the
 * batch's first offset. A crash at any point therefore replays at most a batch that was not
 * applied, and a replay of one that was is dropped whole. One round trip per batch.
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

/** The writes of one batch, built by a projection, applied by {@link OffsetFence.apply}. */
export class WriteBatch {
  /** Flat encoding, sent as one JSON array: for each op, its word count then its words. */
  readonly words: string[] = [];
  readonly keys = new Set<string>();
  ops = 0;

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

  /** A point to roll back to if building one record's writes fails half-way. */
  mark(): { readonly words: number; readonly ops: number } {
    return { words: this.words.length, ops: this.ops };
  }

  rollback(mark: { readonly words: number; readonly ops: number }): void {
    this.words.length = mark.words;
    this.ops = mark.ops;
  }

  /** Appends an operation's arguments word by word (no intermediate arrays: this runs per record). */
  private pushArgs(args: readonly (string | number)[]): void {
    for (const a of args) this.words.push(typeof a === 'string' ? a : String(a));
  }
}

export interface FenceResult {
  /** False when the batch had been applied before (nothing was written). */
  readonly applied: boolean;
  /** The partition's stored offset after the call. */
  readonly stored: string;
}

type ApplyBatch = (numKeys: number, ...args: string[]) => Promise<[number, string]>;

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

  /**
   * Applies `batch` and stores `lastOffset`, unless the stored offset is at or past `firstOffset`.
   */
  async apply(
    keys: PartitionKeys,
    firstOffset: string,
    lastOffset: string,
    batch: WriteBatch,
  ): Promise<FenceResult> {
    const offsetKey = keys.offset();
    const touched = [...batch.keys].filter((k) => k !== offsetKey);
    for (const k of touched) {
      if (!k.includes(keys.tag)) throw new Error(`key ${k} lacks the partition hash tag ${keys.tag}`);
    }
    // The writes travel as one JSON argument that the script decodes (cjson, in C): one bulk
    // string instead of one per word costs less to build here and to parse in Redis.
    const [applied, stored] = await this.run(
      1 + touched.length,
      offsetKey,
      ...touched,
      firstOffset,
      lastOffset,
      JSON.stringify(batch.words),
    );
    return { applied: applied === 1, stored: String(stored) };
  }
}
