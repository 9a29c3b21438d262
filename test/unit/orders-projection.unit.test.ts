/**
 * The orders projection without servers: the writes it adds to a batch, what they do when run
 * the way `apply-batch.lua` runs them (a small in-memory interpreter of the batch's words), the
 * business rules it rejects, and the partition the read helper looks a user up in.
 */
import { describe, expect, it } from 'vitest';
import { WriteBatch } from '../../consumers/offset-fence.js';
import { orderKeys } from '../../examples/shop/keys.js';
import { orderEventIssues, ordersProjection } from '../../examples/shop/projections/orders.js';
import { ErrorCodes, isUnrecoverable } from '../../lib/errors.js';
import { PartitionKeys } from '../../lib/redis-keys.js';
import {
  createEvent,
  type ShopEventInput as EventInput,
  type EventType,
  type TributaryEvent,
} from '../helpers/shop.js';
import { orderEdgeCases } from '../helpers/orders-oracle.js';

const k = new PartitionKeys('t:', 'orders.v1', 'orders', 1);
const T0 = Date.UTC(2026, 0, 1);

const ev = <K extends EventType>(type: K, input: EventInput<K>, at = T0): TributaryEvent =>
  createEvent(type, input, at) as TributaryEvent;
const placed = (orderId: string, total = 2500, at = T0) =>
  ev(
    'OrderPlaced',
    {
      orderId,
      userId: 'u1',
      items: [
        { sku: 'a', quantity: 2, unitPrice: 1000 },
        { sku: 'b', quantity: 1, unitPrice: total - 2000 },
      ],
      totalAmount: total,
      currency: 'EUR',
    },
    at,
  );
const paid = (orderId: string, amount = 2500, currency = 'EUR') =>
  ev('OrderPaid', { orderId, userId: 'u1', amount, currency, paymentMethod: 'CARD', paymentId: 'p' }, T0 + 1);
const cancelled = (orderId: string, refundAmount = 0) =>
  ev(
    'OrderCancelled',
    { orderId, userId: 'u1', reason: 'OUT_OF_STOCK', refundAmount, currency: 'EUR' },
    T0 + 2,
  );

function batchOf(...events: TributaryEvent[]): WriteBatch {
  const w = new WriteBatch();
  events.forEach((event, i) =>
    ordersProjection.apply({ event, topic: 'orders', partition: 1, offset: String(i), timestamp: 0 }, w, k),
  );
  return w;
}

/** The batch's operations, each as its words. */
function opsOf(w: WriteBatch): string[][] {
  const ops: string[][] = [];
  for (let i = 0; i < w.words.length; i += Number(w.words[i]) + 1)
    ops.push(w.words.slice(i + 1, i + 1 + Number(w.words[i])));
  return ops;
}

/** Runs batches as apply-batch.lua does, over an in-memory keyspace (just the commands used). */
class FakeRedis {
  readonly strings = new Map<string, string>();
  readonly hashes = new Map<string, Map<string, string>>();
  readonly zsets = new Map<string, Map<string, number>>();
  readonly sets = new Map<string, Set<string>>();

  run(...events: TributaryEvent[]): this {
    for (let op of opsOf(batchOf(...events))) {
      if (op[0] === 'IF_EXISTS' || op[0] === 'IF_NOT_EXISTS') {
        if (this.exists(op[1]!) !== (op[0] === 'IF_EXISTS')) continue;
        op = op.slice(2);
      }
      this.call(op);
    }
    return this;
  }

  exists(key: string): boolean {
    return [this.strings, this.hashes, this.zsets, this.sets].some((m) => m.has(key));
  }

  hash(key: string): Record<string, string> {
    return Object.fromEntries(this.hashes.get(key) ?? []);
  }

  keys(): string[] {
    return [this.strings, this.hashes, this.zsets, this.sets].flatMap((m) => [...m.keys()]).sort();
  }

  private call([cmd, key, ...args]: string[]): void {
    const of = <V>(m: Map<string, V>, make: () => V): V => m.get(key!) ?? m.set(key!, make()).get(key!)!;
    if (cmd === 'SET') this.strings.set(key!, args[0]!);
    else if (cmd === 'DEL')
      for (const m of [this.strings, this.hashes, this.zsets, this.sets]) m.delete(key!);
    else if (cmd === 'HSET')
      for (let i = 0; i < args.length; i += 2) of(this.hashes, () => new Map()).set(args[i]!, args[i + 1]!);
    else if (cmd === 'HINCRBY') {
      const h = of(this.hashes, () => new Map<string, string>());
      h.set(args[0]!, String(Number(h.get(args[0]!) ?? 0) + Number(args[1])));
    } else if (cmd === 'ZADD') of(this.zsets, () => new Map()).set(args[1]!, Number(args[0]));
    else if (cmd === 'SADD') of(this.sets, () => new Set()).add(args[0]!);
    else throw new Error(`the fake does not know ${cmd}`);
  }
}

const order = (id: string) => orderKeys.order(k, id);
const totals = orderKeys.totals(k, 'u1');
const stats = orderKeys.stats(k);

describe('orders projection: writes', () => {
  it('guards a placement by the order key, once, through the scratch flag', () => {
    const scratch = orderKeys.scratch(k);
    const ops = opsOf(batchOf(placed('o1')));
    expect(ops.slice(0, 3)).toEqual([
      ['IF_EXISTS', order('o1'), 'HINCRBY', stats, 'duplicatePlacements', '1'],
      ['SET', scratch, '1'],
      ['IF_EXISTS', order('o1'), 'DEL', scratch],
    ]);
    expect(ops.at(-1)).toEqual(['DEL', scratch]);
    const guarded = ops.slice(3, -1);
    expect(guarded.every((op) => op[0] === 'IF_EXISTS' && op[1] === scratch)).toBe(true);
    expect(guarded.map((op) => op.slice(2, 4))).toEqual([
      ['ZADD', orderKeys.userOrders(k, 'u1')],
      ['HINCRBY', totals],
      ['HINCRBY', totals],
      ['SADD', orderKeys.users(k)],
      ['HSET', order('o1')],
      ['HSET', order('o1')],
      ['HSET', order('o1')],
    ]);
    expect(guarded[0]!.slice(4)).toEqual([String(T0), 'o1']);
    expect(guarded[2]!.slice(4)).toEqual(['placedAmount:EUR', '2500']);
  });

  it('keeps every key under the partition hash tag and adds nothing for other event types', () => {
    const w = batchOf(placed('o1'), paid('o1'), cancelled('o1', 100));
    for (const key of w.keys) expect(key.startsWith(`t:${k.tag}:`)).toBe(true);
    const other = ev('UserCreated', { userId: 'u1', email: 'e', name: 'n', plan: 'FREE', country: 'DE' });
    expect(batchOf(other).ops).toBe(0);
  });
});

describe('orders projection: behaviour (batches run as the Lua script runs them)', () => {
  it('places, pays and cancels an order with a refund, counting each once', () => {
    const r = new FakeRedis().run(placed('o1'), paid('o1')).run(cancelled('o1', 2500));
    expect(r.hash(order('o1'))).toMatchObject({
      status: 'CANCELLED',
      totalAmount: '2500',
      itemCount: '3',
      lineCount: '2',
      placedAt: String(T0),
      paidAt: String(T0 + 1),
      paidAmount: '2500',
      paymentMethod: 'CARD',
      cancelledAt: String(T0 + 2),
      cancelReason: 'OUT_OF_STOCK',
      refundAmount: '2500',
    });
    expect(JSON.parse(r.hash(order('o1')).items!)).toEqual([
      { sku: 'a', quantity: 2, unitPrice: 1000 },
      { sku: 'b', quantity: 1, unitPrice: 500 },
    ]);
    expect(r.hash(totals)).toEqual({
      placed: '1',
      'placedAmount:EUR': '2500',
      paid: '1',
      'paidAmount:EUR': '2500',
      cancelled: '1',
      'refundedAmount:EUR': '2500',
    });
    expect(r.zsets.get(orderKeys.userOrders(k, 'u1'))).toEqual(new Map([['o1', T0]]));
    expect(r.exists(orderKeys.scratch(k))).toBe(false);
    expect(r.exists(stats)).toBe(false);
  });

  it('ignores repeats of a placement, a payment and a cancellation, in one batch or across batches', () => {
    for (const r of [
      new FakeRedis().run(
        placed('o1'),
        placed('o1', 9000),
        paid('o1'),
        paid('o1'),
        cancelled('o1'),
        cancelled('o1'),
      ),
      new FakeRedis().run(placed('o1')).run(placed('o1', 9000)).run(paid('o1')).run(paid('o1', 1)),
    ]) {
      expect(r.hash(totals)).toMatchObject({ placed: '1', 'placedAmount:EUR': '2500', paid: '1' });
      expect(r.hash(totals)['paidAmount:EUR']).toBe('2500');
      expect(r.hash(order('o1')).totalAmount).toBe('2500');
      expect(r.hash(stats).duplicatePlacements).toBe('1');
      expect(r.hash(stats).duplicatePayments).toBe('1');
    }
    const r = new FakeRedis().run(placed('o1'), cancelled('o1'), cancelled('o1', 50));
    expect(r.hash(stats)).toEqual({ duplicateCancels: '1' });
    expect(r.hash(totals)).toEqual({ placed: '1', 'placedAmount:EUR': '2500', cancelled: '1' });
  });

  it('counts payments and cancellations of unknown orders and writes nothing else', () => {
    const r = new FakeRedis().run(paid('nope'), cancelled('nope2', 10), paid('nope'));
    expect(r.keys()).toEqual([stats]);
    expect(r.hash(stats)).toEqual({ orphanPayments: '2', orphanCancels: '1' });
  });

  it('records a payment after a cancellation but keeps the status CANCELLED', () => {
    const r = new FakeRedis().run(placed('o1'), cancelled('o1')).run(paid('o1', 2500, 'USD'), paid('o1'));
    expect(r.hash(order('o1'))).toMatchObject({
      status: 'CANCELLED',
      paidAmount: '2500',
      paymentCurrency: 'USD',
    });
    expect(r.hash(totals)).toMatchObject({ paid: '1', 'paidAmount:USD': '2500', cancelled: '1' });
    expect(r.hash(stats)).toEqual({ paymentsAfterCancel: '1', duplicatePayments: '1' });
  });

  it('keeps a user order list sorted by time across orders', () => {
    const r = new FakeRedis().run(placed('late', 2500, T0 + 50), placed('early', 2500, T0));
    expect(r.zsets.get(orderKeys.userOrders(k, 'u1'))).toEqual(
      new Map([
        ['late', T0 + 50],
        ['early', T0],
      ]),
    );
    expect(r.hash(totals)).toEqual({ placed: '2', 'placedAmount:EUR': '5000' });
  });
});

describe('orders projection: business rules', () => {
  const rejects = (event: TributaryEvent, field: string) => {
    const w = new WriteBatch();
    let thrown: unknown;
    try {
      ordersProjection.apply({ event, topic: 'orders', partition: 1, offset: '0', timestamp: 0 }, w, k);
    } catch (err) {
      thrown = err;
    }
    expect(isUnrecoverable(thrown), `${event.type} should be rejected for ${field}`).toBe(true);
    expect((thrown as { code: string }).code).toBe(ErrorCodes.EVENT_INVALID);
    expect((thrown as Error).message).toContain(`${field}:`);
    expect(w.ops).toBe(0);
  };

  it('rejects every hand-made poison event, naming the field', () => {
    const { events, poison } = orderEdgeCases('unit');
    expect(poison.size).toBe(11);
    for (const e of events) {
      const field = poison.get(e.data.eventId);
      if (field) rejects(e, field);
      else expect(orderEventIssues(e)).toEqual([]);
    }
  });

  it('rejects a total that is not Σ quantity × unitPrice, bad lines, amounts and currencies', () => {
    const base = placed('o1') as TributaryEvent & { type: 'OrderPlaced' };
    const with_ = (patch: object) => ({ ...base, data: { ...base.data, ...patch } }) as TributaryEvent;
    rejects(with_({ totalAmount: 2501 }), 'data.totalAmount');
    rejects(with_({ items: [] }), 'data.items');
    rejects(
      with_({ items: [{ sku: 'a', quantity: -1, unitPrice: 100 }], totalAmount: -100 }),
      'data.items[0].quantity',
    );
    rejects(
      with_({ items: [{ sku: 'a', quantity: 1, unitPrice: 1.5 }], totalAmount: 1.5 }),
      'data.items[0].unitPrice',
    );
    rejects(with_({ currency: 'EU' }), 'data.currency');
    rejects(paid('o1', 0), 'data.amount');
    rejects(paid('o1', -5), 'data.amount');
    rejects(paid('o1', 10, 'usd'), 'data.currency');
    rejects(cancelled('o1', -1), 'data.refundAmount');
  });

  it('sums exactly up to Number.MAX_SAFE_INTEGER and accepts free lines and zero refunds', () => {
    const big = 2 ** 52;
    const items = [
      { sku: 'a', quantity: 1, unitPrice: big },
      { sku: 'b', quantity: 1, unitPrice: big - 1 },
    ];
    const d = { orderId: 'o', userId: 'u', items, totalAmount: 2 * big - 1, currency: 'JPY' };
    expect(orderEventIssues(ev('OrderPlaced', d))).toEqual([]);
    expect(orderEventIssues(ev('OrderPlaced', { ...d, totalAmount: 2 * big - 2 }))).toHaveLength(1);
    const free = { ...d, items: [{ sku: 'gift', quantity: 1, unitPrice: 0 }], totalAmount: 0 };
    expect(orderEventIssues(ev('OrderPlaced', free))).toEqual([]);
    expect(orderEventIssues(cancelled('o', 0))).toEqual([]);
  });
});
