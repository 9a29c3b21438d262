import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../producers/semaphore.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('Semaphore', () => {
  it('admits up to capacity, then makes callers wait until units are released', async () => {
    const s = new Semaphore(10);
    await s.acquire(6);
    let second = false;
    const p = s.acquire(6).then(() => (second = true));
    await tick();
    expect(second).toBe(false);
    s.release(6);
    await p;
    expect(second).toBe(true);
    expect(s.inUse).toBe(6);
  });

  it('serves waiters in order so a big request is not starved', async () => {
    const s = new Semaphore(10);
    await s.acquire(9);
    const order: string[] = [];
    const big = s.acquire(8).then(() => order.push('big'));
    const small = s.acquire(1).then(() => order.push('small'));
    await tick();
    expect(order).toEqual([]);
    s.release(9);
    await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
  });

  it('admits a request larger than capacity when nothing else holds units', async () => {
    const s = new Semaphore(5);
    await s.acquire(50);
    expect(s.inUse).toBe(50);
    s.release(50);
    expect(s.inUse).toBe(0);
  });
});
