/**
 * Partition counts for the readers: fetched once per TTL, one fetch for concurrent readers, the
 * last known count kept while the source fails, `unavailable` when none was ever known, and a
 * missing topic (0) asked again soon.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReadModelErrorCodes, isReadModelError } from '../../lib/read-models/errors.js';
import { CachedPartitionCounts } from '../../lib/read-models/source.js';

afterEach(() => {
  vi.useRealTimers();
});

function source(answers: (number | Error)[]) {
  const calls: string[] = [];
  const fetch = async (topic: string): Promise<number> => {
    calls.push(topic);
    const next = answers.shift();
    if (next === undefined) throw new Error('no more answers');
    if (next instanceof Error) throw next;
    return next;
  };
  return { calls, fetch };
}

describe('CachedPartitionCounts', () => {
  it('fetches once per TTL, and once for concurrent readers', async () => {
    vi.useFakeTimers({ now: 0 });
    const s = source([6, 12]);
    const counts = new CachedPartitionCounts(s.fetch, 60_000);
    expect(await Promise.all([counts.count('users'), counts.count('users'), counts.count('users')])).toEqual([
      6, 6, 6,
    ]);
    vi.setSystemTime(59_999);
    expect(await counts.count('users')).toBe(6);
    vi.setSystemTime(60_000);
    expect(await counts.count('users')).toBe(12);
    expect(s.calls).toEqual(['users', 'users']);
  });

  it('keeps the last count while the source fails, and says unavailable when it never had one', async () => {
    vi.useFakeTimers({ now: 0 });
    const s = source([new Error('broker down'), 3, new Error('broker down'), 4]);
    const counts = new CachedPartitionCounts(s.fetch, 1_000);
    const err = await counts.count('orders').catch((e: unknown) => e);
    expect(isReadModelError(err) && err.code).toBe(ReadModelErrorCodes.UNAVAILABLE);
    expect(await counts.count('orders')).toBe(3);
    vi.setSystemTime(1_000);
    expect(await counts.count('orders')).toBe(3);
    // After a failure the stale count is kept a little while, then asked for again.
    vi.setSystemTime(6_000);
    expect(await counts.count('orders')).toBe(4);
    expect(s.calls).toHaveLength(4);
  });

  it('asks again for a missing topic after a few seconds, not a whole TTL', async () => {
    vi.useFakeTimers({ now: 0 });
    const s = source([0, 3]);
    const counts = new CachedPartitionCounts(s.fetch, 60_000);
    expect(await counts.count('page-views')).toBe(0);
    vi.setSystemTime(4_999);
    expect(await counts.count('page-views')).toBe(0);
    vi.setSystemTime(5_000);
    expect(await counts.count('page-views')).toBe(3);
  });
});
