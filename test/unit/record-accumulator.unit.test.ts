import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ByteBudget } from '../../lib/engines/byte-budget.js';
import { RecordAccumulator } from '../../lib/engines/record-accumulator.js';

/** A record is a number; it weighs 10 bytes. */
type Sent = { batch: Map<string, number[]>; ack: () => void; fail: (err: Error) => void };

function harness(
  options: { lingerMs?: number; batchBytes?: number; bufferBytes?: number; batchRecords?: number } = {},
) {
  const sent: Sent[] = [];
  const acc = new RecordAccumulator<number>(
    { lingerMs: 5, batchBytes: 100, bufferBytes: 1000, ...options },
    () => 10,
    (batch) =>
      new Promise<void>((ack, fail) => {
        sent.push({ batch: new Map([...batch].map(([t, r]) => [t, [...r]])), ack, fail });
      }),
  );
  return { acc, sent };
}

/** Records 0..n-1 in order: `range(3)` → [0, 1, 2]; `range(2, 5)` → [2, 3, 4]. */
const range = (a: number, b?: number) =>
  b === undefined ? Array.from({ length: a }, (_, i) => i) : Array.from({ length: b - a }, (_, i) => a + i);

/** Lets pending promise callbacks run. */
const tick = () => vi.advanceTimersByTimeAsync(0);

describe('RecordAccumulator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds records for the linger time, then sends them as one batch', async () => {
    const { acc, sent } = harness({ lingerMs: 5 });
    void acc.append('a', [1, 2]);
    void acc.append('b', [3]);
    await vi.advanceTimersByTimeAsync(4);
    expect(sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(1);
    expect([...sent[0]!.batch]).toEqual([
      ['a', [1, 2]],
      ['b', [3]],
    ]);
  });

  it('sends at once when a batch is full, and never more than batchBytes in one', async () => {
    const { acc, sent } = harness({ lingerMs: 1000, batchBytes: 100 });
    void acc.append('a', range(25));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.batch.get('a')).toEqual(range(10));
    sent[0]!.ack();
    await tick();
    expect(sent[1]!.batch.get('a')).toEqual(range(10, 20));
    sent[1]!.ack();
    await tick();
    // The last 5 are under a batch: they linger.
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent[2]!.batch.get('a')).toEqual(range(20, 25));
  });

  it('sends at once when batchRecords are queued, and never more in one', async () => {
    const { acc, sent } = harness({ lingerMs: 1000, batchBytes: 10_000, batchRecords: 4 });
    void acc.append('a', range(3));
    void acc.append('b', range(3, 10));
    // An append is cut into chunks of at most 4; a batch takes whole chunks while they fit.
    expect(sent).toHaveLength(1);
    expect([...sent[0]!.batch]).toEqual([['a', range(3)]]);
    sent[0]!.ack();
    await tick();
    expect([...sent[1]!.batch]).toEqual([['b', range(3, 7)]]);
    sent[1]!.ack();
    await tick();
    // The last 3 are under a batch: they linger.
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect([...sent[2]!.batch]).toEqual([['b', range(7, 10)]]);
  });

  it('keeps one request in flight; what arrives meanwhile goes in the next, in order', async () => {
    const { acc, sent } = harness({ lingerMs: 0 });
    void acc.append('a', [1]);
    await tick();
    expect(sent).toHaveLength(1);
    void acc.append('a', [2, 3]);
    void acc.append('b', [4]);
    void acc.append('a', [5]);
    await vi.advanceTimersByTimeAsync(50);
    expect(sent).toHaveLength(1);
    sent[0]!.ack();
    await tick();
    expect(sent).toHaveLength(2);
    expect([...sent[1]!.batch]).toEqual([
      ['a', [2, 3, 5]],
      ['b', [4]],
    ]);
  });

  it('settles an append only when every batch carrying its records is acknowledged', async () => {
    const { acc, sent } = harness({ lingerMs: 0, batchBytes: 100 });
    let done = false;
    void acc.append('a', range(15)).then(() => (done = true));
    await tick();
    sent[0]!.ack();
    await tick();
    expect(done).toBe(false);
    expect(sent).toHaveLength(2);
    sent[1]!.ack();
    await tick();
    expect(done).toBe(true);
  });

  it('rejects the appends of a failed batch and still sends the rest', async () => {
    const { acc, sent } = harness({ lingerMs: 0 });
    const first = acc.append('a', [1]);
    await tick();
    const second = acc.append('a', [2]);
    const boom = new Error('broker said no');
    sent[0]!.fail(boom);
    await expect(first).rejects.toBe(boom);
    await tick();
    sent[1]!.ack();
    await expect(second).resolves.toBeUndefined();
  });

  it('makes appends wait when the buffer is full, and admits them in arrival order', async () => {
    const { acc, sent } = harness({ lingerMs: 0, batchBytes: 100, bufferBytes: 100 });
    void acc.append('a', range(10)); // 100 bytes: the whole budget
    void acc.append('a', range(10, 15)); // waits
    void acc.append('a', [15]); // would fit after the first, but must not overtake the second
    await tick();
    expect(acc.stats.heldBytes).toBe(100);
    expect(sent).toHaveLength(1);
    sent[0]!.ack();
    await tick();
    expect(sent).toHaveLength(2);
    expect(sent[1]!.batch.get('a')).toEqual(range(10, 16));
  });

  it('admits an append larger than the whole buffer once nothing else is held', async () => {
    const { acc, sent } = harness({ lingerMs: 0, batchBytes: 1000, bufferBytes: 50 });
    const big = acc.append('a', range(20));
    await tick();
    expect(sent).toHaveLength(1);
    sent[0]!.ack();
    await expect(big).resolves.toBeUndefined();
  });

  it('flush sends without lingering and resolves when nothing is left', async () => {
    const { acc, sent } = harness({ lingerMs: 10_000 });
    await expect(acc.flush()).resolves.toBeUndefined();
    void acc.append('a', [1]);
    let flushed = false;
    void acc.flush().then(() => (flushed = true));
    await tick();
    expect(sent).toHaveLength(1);
    expect(flushed).toBe(false);
    sent[0]!.ack();
    await tick();
    expect(flushed).toBe(true);
  });
});

describe('ByteBudget', () => {
  it('grants synchronously while there is room, then first come first served', () => {
    const budget = new ByteBudget(10);
    const order: string[] = [];
    budget.take(6, () => order.push('a'));
    budget.take(6, () => order.push('b'));
    budget.take(1, () => order.push('c'));
    expect(order).toEqual(['a']);
    budget.release(6);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(budget.used).toBe(7);
  });
});
