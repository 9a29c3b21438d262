/**
 * The e2e bench's per-event latency, without servers: a worker reports only what its projection
 * applied and only once the batch is applied, and the join takes, per event, the latest apply of
 * the groups that read its topic, leaving out warm-up events.
 */
import { describe, expect, it, vi } from 'vitest';
import { WriteBatch } from '../../consumers/offset-fence.js';
import type { AppliedRecord, Projection } from '../../consumers/runtime/types.js';
import { PartitionKeys } from '../../lib/redis-keys.js';
import { createEvent } from '../helpers/shop.js';
import { ApplyJoin } from '../../bench/e2e-join.js';
import { reportingApplies, type AppliedSlice } from '../../bench/e2e-worker.js';

const slice = (topic: string, at: number, ...pairs: [number, number][]): AppliedSlice => ({
  topic,
  partition: 0,
  begun: at,
  at,
  pairs: Float64Array.from(pairs.flat()),
});

describe('ApplyJoin', () => {
  it('completes an event when the last of its readers applied it, with that latency', () => {
    const done: [number, number][] = [];
    const perGroup: [string, number][] = [];
    const join = new ApplyJoin(
      new Map([
        ['users', 2],
        ['orders', 1],
      ]),
      () => 1000,
      (ms, at) => done.push([ms, at]),
      (g, ms) => perGroup.push([g, ms]),
    );
    join.add('users', slice('users', 1040, [5, 1010], [6, 1020]));
    expect(done).toEqual([]);
    expect(join.pending).toBe(2);
    // The second reader is faster for offset 6 and slower for offset 5: the later apply counts.
    join.add('user-count', slice('users', 1030, [6, 1020]));
    join.add('user-count', slice('users', 1090, [5, 1010]));
    expect(done).toEqual([
      [20, 1040],
      [80, 1090],
    ]);
    join.add('orders', slice('orders', 1005, [5, 1001]));
    expect(done.at(-1)).toEqual([4, 1005]);
    expect(join.pending).toBe(0);
    expect(perGroup).toEqual([
      ['users', 30],
      ['users', 20],
      ['user-count', 10],
      ['user-count', 80],
      ['orders', 4],
    ]);
  });

  it('leaves out events intended before the window and topics no group reads', () => {
    const complete = vi.fn();
    const join = new ApplyJoin(new Map([['users', 1]]), () => 1000, complete);
    join.add('users', slice('users', 1200, [1, 999], [2, 1000]));
    join.add('users', slice('page-views', 1200, [1, 1100]));
    expect(complete.mock.calls).toEqual([[200, 1200]]);
  });
});

describe('reportingApplies', () => {
  const keys = new PartitionKeys('t:', 'p.v1', 'bench.users', 3);
  const event = createEvent(
    'UserCreated',
    { userId: 'u1', email: 'a@b', name: 'A', plan: 'FREE', country: 'DE' },
    0,
  );
  const record = (offset: string, timestamp: number): AppliedRecord => ({
    event,
    topic: 'bench.users',
    partition: 3,
    offset,
    timestamp,
  });

  it('runs the projection’s own hooks and reports a batch only once it is applied', () => {
    const calls: string[] = [];
    const inner: Projection = {
      name: 'p',
      topics: ['users'],
      begin: () => calls.push('begin'),
      apply: (r, w) => {
        if (r.offset === '8') throw new Error('bad record');
        w.command('SET', `k${r.offset}`, 1);
      },
      finish: () => ({ onApplied: () => calls.push('inner applied') }),
    };
    const reported: AppliedSlice[] = [];
    const wrapped = reportingApplies(inner, (s) => reported.push(s));
    expect(wrapped.restore).toBeUndefined();
    const batch = new WriteBatch();
    wrapped.begin!(keys);
    wrapped.apply(record('7', 100), batch, keys);
    expect(() => wrapped.apply(record('8', 101), batch, keys)).toThrow('bad record');
    wrapped.apply(record('9', 102), batch, keys);
    const outcome = wrapped.finish!(batch, keys)!;
    expect(reported).toEqual([]);
    outcome.onApplied!();
    expect(calls).toEqual(['begin', 'inner applied']);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ topic: 'bench.users', partition: 3 });
    // The record the projection refused is not reported as applied.
    expect([...reported[0]!.pairs]).toEqual([7, 100, 9, 102]);
    expect(batch.ops).toBe(2);
  });

  it('wraps the instance a configurable projection makes', () => {
    const instance: Projection = { name: 'p', topics: ['users'], apply: () => undefined };
    const configure = vi.fn(() => instance);
    const reported: AppliedSlice[] = [];
    const wrapped = reportingApplies(
      { name: 'p', topics: ['users'], apply: () => undefined, configure },
      (s) => reported.push(s),
    );
    const made = wrapped.configure!({} as never);
    expect(configure).toHaveBeenCalledOnce();
    made.begin!(keys);
    made.apply(record('1', 5), new WriteBatch(), keys);
    made.finish!(new WriteBatch(), keys)!.onApplied!();
    expect([...reported[0]!.pairs]).toEqual([1, 5]);
  });
});
