/**
 * The offset fence against the real Redis: a slice is applied only when the stored offset is the
 * one the consumer expects; duplicates and out-of-range sums are answered before any write, so a
 * refused slice leaves Redis exactly as it was.
 */
import { describe, expect, it } from 'vitest';
import { OffsetFence, WriteBatch, refuseOutOfRange, type FencedSlice } from '../../consumers/offset-fence.js';
import { PartitionKeys } from '../../lib/redis-keys.js';
import { testConfig, testRedis } from '../helpers/stack.js';

const HORIZON = 60_000;

function setup() {
  const { redis, prefix } = testRedis(testConfig());
  const keys = new PartitionKeys(prefix, 'fence.v1', 'topic', 0);
  return { redis, prefix, keys, fence: new OffsetFence(redis) };
}

function slice(
  expected: string | undefined,
  last: string,
  batch: WriteBatch,
  ids: string[] = [],
  t = 1_000_000,
) {
  return { expected, last, batch, ids, idsTime: t, forgetBefore: t - HORIZON } satisfies FencedSlice;
}

/** Every key under the test's prefix with its type and value: a refused slice must not change it. */
async function dump(
  redis: ReturnType<typeof setup>['redis'],
  prefix: string,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await redis.keys(`${prefix}*`)).sort()) {
    const type = await redis.type(key);
    out[key] =
      type === 'string'
        ? await redis.get(key)
        : type === 'hash'
          ? await redis.hgetall(key)
          : type === 'zset'
            ? await redis.zrange(key, 0, -1, 'WITHSCORES')
            : type;
  }
  return out;
}

describe('offset fence', () => {
  it('applies only on the expected stored offset, whatever gap lies before the slice', async () => {
    const { redis, keys, fence } = setup();
    const counter = keys.key('n');
    const first = await fence.apply(keys, slice(undefined, '4', new WriteBatch().command('INCR', counter)));
    expect(first).toEqual({ kind: 'applied', stored: '4' });
    // A transaction marker at 5, 6: the next slice starts at 7 and the fence takes it.
    const second = await fence.apply(keys, slice('4', '9', new WriteBatch().command('INCR', counter)));
    expect(second).toEqual({ kind: 'applied', stored: '9' });
    expect(await redis.get(counter)).toBe('2');

    // A consumer that believes 4 is stored (a former owner): told what is, nothing written.
    expect(await fence.apply(keys, slice('4', '12', new WriteBatch().command('INCR', counter)))).toEqual({
      kind: 'moved',
      stored: '9',
    });
    // Redis lost the offset (and everything else): the consumer expecting 9 is told there is none.
    await redis.del(keys.offset());
    expect(await fence.apply(keys, slice('9', '12', new WriteBatch().command('INCR', counter)))).toEqual({
      kind: 'moved',
      stored: undefined,
    });
    expect(await redis.get(counter)).toBe('2');
  });

  it('answers the positions of event ids applied within the horizon, and forgets older ones', async () => {
    const { redis, prefix, keys, fence } = setup();
    const counter = keys.key('n');
    const t = 5_000_000;
    await fence.apply(keys, slice(undefined, '1', new WriteBatch().command('INCR', counter), ['a', 'b'], t));
    const before = await dump(redis, prefix);
    const again = await fence.apply(
      keys,
      slice('1', '4', new WriteBatch().command('INCR', counter), ['c', 'b', 'd', 'a'], t + 1_000),
    );
    expect(again).toEqual({ kind: 'duplicates', positions: [1, 3] });
    expect(await dump(redis, prefix)).toEqual(before);

    // Past the horizon 'a' and 'b' are forgotten: the same ids apply again.
    const later = t + HORIZON + 1;
    const fresh = await fence.apply(
      keys,
      slice('1', '4', new WriteBatch().command('INCR', counter), ['c'], later),
    );
    expect(fresh.kind).toBe('applied');
    expect(await redis.zrange(keys.seen(), 0, -1)).toEqual(['c']);
    const reused = await fence.apply(
      keys,
      slice('4', '5', new WriteBatch().command('INCR', counter), ['a'], later),
    );
    expect(reused.kind).toBe('applied');
    expect(await redis.get(counter)).toBe('3');
  });

  it('refuses a slice whose bounded sum would leave the safe-integer range, before any write', async () => {
    const { redis, prefix, keys, fence } = setup();
    const sums = keys.key('sums');
    const near = Number.MAX_SAFE_INTEGER - 10;
    const ok = await fence.apply(
      keys,
      slice(
        undefined,
        '0',
        new WriteBatch()
          .sum(sums, 'revenue:EUR', near, [{ offset: '0', amount: near }])
          .command('INCR', keys.key('n')),
      ),
    );
    expect(ok.kind).toBe('applied');
    const before = await dump(redis, prefix);
    const batch = new WriteBatch()
      .command('INCR', keys.key('n'))
      .sum(sums, 'revenue:USD', 5, [{ offset: '1', amount: 5 }])
      .sum(sums, 'revenue:EUR', 11, [
        { offset: '2', amount: 4 },
        { offset: '3', amount: 7 },
      ]);
    // The answer names the sum and gives what Redis holds for each: the consumer refuses record
    // 3 alone (4 still fits, 4 + 7 does not), in offset order.
    expect(await fence.apply(keys, slice('0', '3', batch))).toEqual({
      kind: 'bound',
      sum: 1,
      current: [0, near],
    });
    expect(await dump(redis, prefix)).toEqual(before);
    const records = ['1', '2', '3'].map((offset) => ({ offset }));
    expect([...refuseOutOfRange(records, batch, [0, near]).keys()]).toEqual(['3']);

    // Exactly to the bound is fine, and exact.
    const edge = new WriteBatch().sum(sums, 'revenue:EUR', 10, [{ offset: '4', amount: 10 }]);
    expect((await fence.apply(keys, slice('0', '4', edge))).kind).toBe('applied');
    expect(await redis.hget(sums, 'revenue:EUR')).toBe(String(Number.MAX_SAFE_INTEGER));
  });

  it('refuses a slice built on a floor lower than the one stored, before any write', async () => {
    const { redis, prefix, keys, fence } = setup();
    const floorKey = keys.key('frontier');
    const counter = keys.key('n');
    const batch = () => new WriteBatch().command('INCR', counter);
    // No floor stored yet: any floor passes, none at all too.
    expect(
      await fence.apply(keys, {
        ...slice(undefined, '1', batch()),
        floor: { key: floorKey, builtWith: -Infinity },
      }),
    ).toEqual({ kind: 'applied', stored: '1' });
    await redis.set(floorKey, '5000');
    const before = await dump(redis, prefix);
    for (const builtWith of [-Infinity, 4999]) {
      const refused = await fence.apply(keys, {
        ...slice('1', '2', batch()),
        floor: { key: floorKey, builtWith },
      });
      expect(refused).toEqual({ kind: 'floor', floor: 5000 });
    }
    expect(await dump(redis, prefix)).toEqual(before);
    expect(
      await fence.apply(keys, { ...slice('1', '2', batch()), floor: { key: floorKey, builtWith: 5000 } }),
    ).toEqual({ kind: 'applied', stored: '2' });
    expect(await redis.get(counter)).toBe('2');
    // A slice without a floor is not checked (projections that have none).
    expect(await fence.apply(keys, slice('2', '3', batch()))).toEqual({ kind: 'applied', stored: '3' });
  });

  it('adds up checked amounts of one field, so a guarded HINCRBY can never overflow', async () => {
    const { redis, prefix, keys, fence } = setup();
    const totals = keys.key('totals');
    const flag = keys.key('order');
    await redis.set(flag, '1');
    const half = 5_000_000_000_000_000; // two of them pass 2^53 - 1
    // Each record checks its amount and adds it only if the guard holds (as the orders model does).
    const batch = new WriteBatch();
    for (const offset of ['7', '8', '9']) {
      batch.current = offset;
      batch.bound(totals, 'paidAmount:EUR', half).ifExists(flag, 'HINCRBY', totals, 'paidAmount:EUR', half);
    }
    const before = await dump(redis, prefix);
    const answer = await fence.apply(keys, slice(undefined, '9', batch));
    expect(answer).toEqual({ kind: 'bound', sum: 1, current: [0, 0, 0] });
    expect(await dump(redis, prefix)).toEqual(before);
    // In offset order: 7 fits, 8 and 9 do not (each would pass the bound on top of 7).
    const records = ['7', '8', '9'].map((offset) => ({ offset }));
    const refused = refuseOutOfRange(records, batch, [0, 0, 0]);
    expect([...refused.keys()]).toEqual(['8', '9']);
    expect(refused.get('8')).toBe(`paidAmount:EUR of ${totals}`);

    const one = new WriteBatch();
    one.current = '7';
    one.bound(totals, 'paidAmount:EUR', half).ifExists(flag, 'HINCRBY', totals, 'paidAmount:EUR', half);
    expect((await fence.apply(keys, slice(undefined, '7', one))).kind).toBe('applied');
    expect(await redis.hget(totals, 'paidAmount:EUR')).toBe(String(half));
    // A checked amount is not added by the check itself.
    const check = new WriteBatch().bound(totals, 'paidAmount:EUR', 1, [{ offset: '10', amount: 1 }]);
    expect((await fence.apply(keys, slice('7', '10', check))).kind).toBe('applied');
    expect(await redis.hget(totals, 'paidAmount:EUR')).toBe(String(half));
  });
});
