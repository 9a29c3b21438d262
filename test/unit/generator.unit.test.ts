import { describe, expect, it } from 'vitest';
import { eventCatalog } from '../helpers/shop.js';
import { generateEvents, prng, zipfSampler, type GeneratedEvent } from '../../examples/shop/generator.js';

const take = (seed: number, n: number, extra = {}): GeneratedEvent[] => [
  ...generateEvents({ seed, users: 200, ...extra }, n),
];

describe('load generator', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    expect(take(7, 2000)).toEqual(take(7, 2000));
    expect(JSON.stringify(take(8, 200))).not.toEqual(JSON.stringify(take(7, 200)));
  });

  it('yields only events valid against their Avro schemas', () => {
    for (const { event } of take(1, 5000)) {
      const type = eventCatalog[event.type].avroType;
      expect(type.isValid(event.data), `${event.type} ${JSON.stringify(event.data)}`).toBe(true);
    }
  });

  it('creates each user before any other event of theirs, and orders before payment', () => {
    const created = new Set<string>();
    const placed = new Set<string>();
    for (const { event } of take(3, 20_000)) {
      const d = event.data as { userId: string | null; orderId?: string };
      if (event.type === 'UserCreated') {
        created.add(d.userId!);
        continue;
      }
      if (event.type === 'UserDeleted') {
        expect(created.has(d.userId!)).toBe(true);
        created.delete(d.userId!);
        continue;
      }
      if (d.userId !== null) expect(created.has(d.userId), `${event.type} before UserCreated`).toBe(true);
      if (event.type === 'OrderPlaced') placed.add(d.orderId!);
      if (event.type === 'OrderPaid' || event.type === 'OrderCancelled')
        expect(placed.has(d.orderId!)).toBe(true);
    }
  });

  it('puts the configured fractions of page views out of order and late, behind the stream', () => {
    const events = take(5, 50_000, {
      outOfOrderFraction: 0.1,
      lateFraction: 0.02,
      lateByMs: 60_000,
      intervalMs: 10,
    });
    const views = events.filter((e) => e.event.type === 'PageViewed');
    const late = views.filter((e) => e.timeliness === 'late').length / views.length;
    const ooo = views.filter((e) => e.timeliness === 'out-of-order').length / views.length;
    expect(late).toBeGreaterThan(0.012);
    expect(late).toBeLessThan(0.028);
    expect(ooo).toBeGreaterThan(0.08);
    expect(ooo).toBeLessThan(0.12);
    let maxSeen = -Infinity;
    for (const e of events) {
      const t = e.event.data.occurredAt;
      if (e.timeliness === 'late') expect(maxSeen - t).toBeGreaterThanOrEqual(60_000 - 10);
      if (e.timeliness === 'on-time') expect(t).toBeGreaterThanOrEqual(maxSeen);
      maxSeen = Math.max(maxSeen, t);
    }
  });

  it('draws pages with Zipf popularity', () => {
    const sample = zipfSampler(100, 1.1, prng(42));
    const counts = new Map<number, number>();
    for (let i = 0; i < 100_000; i++) {
      const k = sample();
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    // P(1)/P(10) = 10^1.1 ≈ 12.6
    const ratio = counts.get(1)! / counts.get(10)!;
    expect(ratio).toBeGreaterThan(10);
    expect(ratio).toBeLessThan(15.5);
    expect(Math.max(...counts.keys())).toBeLessThanOrEqual(100);
  });
});
