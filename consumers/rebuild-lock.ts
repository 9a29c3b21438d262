/**
 * The rebuild lock: one `tributary rebuild <projection>` of a projection at a time. Two would
 * fill the same next version with two consumer groups and delete each other's keys. The lock is a
 * Redis key taken with SET NX PX whose value names the holder (host:pid), when it started, and a
 * random token; the holder renews it while it runs and releases it on exit, both only while the
 * token is its own (owned-lock.lua). A holder that crashed stops renewing: its lock expires.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { ErrorCodes, TributaryError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { luaScript } from './offset-fence.js';

/** What the lock's value says. */
export interface RebuildLockHolder {
  /** `host:pid` of the process that holds it. */
  readonly holder: string;
  /** When it took the lock (ISO 8601). */
  readonly startedAt: string;
  readonly token: string;
}

/** How long a lock lives without renewal (a crashed holder's lock is gone after this). Default 30 s. */
export const REBUILD_LOCK_TTL_MS = 30_000;

type OwnedLock = (key: string, op: 'renew' | 'release', token: string, ms: string) => Promise<number>;

function ownedLock(redis: Redis): OwnedLock {
  const r = redis as Redis & { tributaryOwnedLock?: OwnedLock };
  if (!r.tributaryOwnedLock) {
    r.defineCommand('tributaryOwnedLock', { numberOfKeys: 1, lua: luaScript('owned-lock.lua') });
  }
  return r.tributaryOwnedLock!.bind(r);
}

/** A held rebuild lock, renewed every third of its lifetime until {@link release}. */
export class RebuildLock {
  /** Set when a renewal found the lock gone or taken by another: the rebuild must not swap. */
  lost = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly redis: Redis,
    private readonly key: string,
    readonly holder: RebuildLockHolder,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  /**
   * Takes the lock at `key` for `projection`.
   *
   * @throws {@link TributaryError} `TRIBUTARY_REBUILD_LOCKED` naming the holder and when it
   *   started, when another rebuild holds it.
   */
  static async acquire(
    redis: Redis,
    key: string,
    projection: string,
    log: Logger,
    ttlMs = REBUILD_LOCK_TTL_MS,
  ): Promise<RebuildLock> {
    const holder: RebuildLockHolder = {
      holder: `${hostname()}:${process.pid}`,
      startedAt: new Date().toISOString(),
      token: randomBytes(12).toString('hex'),
    };
    const taken = await redis.set(key, JSON.stringify(holder), 'PX', ttlMs, 'NX');
    if (taken !== 'OK') {
      const other = parseHolder(await redis.get(key));
      throw new TributaryError(
        ErrorCodes.REBUILD_LOCKED,
        `a rebuild of ${projection} is already running: held by ${other?.holder ?? 'an unknown process'}` +
          ` since ${other?.startedAt ?? 'an unknown time'} (the lock expires ${ttlMs / 1000} s after` +
          ' its holder stops renewing it)',
      );
    }
    return new RebuildLock(redis, key, holder, ttlMs, log);
  }

  /** Extends the lock; marks it {@link lost} when it is not ours any more. */
  async renew(): Promise<void> {
    if (this.lost) return;
    try {
      const ok = await ownedLock(this.redis)(this.key, 'renew', this.holder.token, String(this.ttlMs));
      if (ok === 1) return;
      this.lost = true;
      this.log.error({ key: this.key }, 'rebuild lock lost (expired or taken): this rebuild will not swap');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not renew the rebuild lock; retrying');
    }
  }

  /** Stops renewing and deletes the lock if it is still ours. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await ownedLock(this.redis)(this.key, 'release', this.holder.token, '0');
  }
}

/** The holder a lock's value names, or undefined when it is not one. */
export function parseHolder(value: string | null): RebuildLockHolder | undefined {
  if (value === null) return undefined;
  try {
    const v = JSON.parse(value) as Partial<RebuildLockHolder>;
    if (typeof v.holder === 'string' && typeof v.startedAt === 'string' && typeof v.token === 'string') {
      return { holder: v.holder, startedAt: v.startedAt, token: v.token };
    }
  } catch {
    // not a lock this code wrote
  }
  return undefined;
}
