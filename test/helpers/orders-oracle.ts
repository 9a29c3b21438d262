/**
 * The orders-by-user read model computed from the events themselves, independently of the
 * projection's Redis writes; a reader of what the projection wrote, through the query-side read
 * helper; and hand-made events for the rules the load generator never exercises (repeats,
 * orphans, a payment after a cancellation) and for business rules it never breaks.
 */
import type { Redis } from 'ioredis';
import { orderKeys } from '../../examples/shop/keys.js';
import { partitionOf } from '../../lib/partitioner.js';
import { readUserOrders, type OrderTotals, type OrderView } from '../../examples/shop/read-models/orders.js';
import { readerContext } from '../../lib/read-models/reader.js';
import { fixedPartitionCounts, type ReadModelSource } from '../../lib/read-models/source.js';
import { ProjectionKeys } from '../../lib/redis-keys.js';
import {
  createEvent,
  type ShopEventInput as EventInput,
  type EventType,
  type TributaryEvent,
} from './shop.js';
import { projectionRecords } from './progress.js';

/** Per user: orders newest first (ties by order id, descending) and totals. */
export interface OrdersModel {
  readonly users: Map<string, { orders: OrderView[]; totals: OrderTotals }>;
  /** The per-partition stats counters, summed. */
  readonly stats: Record<string, number>;
}

type MutableView = { -readonly [K in keyof OrderView]: OrderView[K] };

/** Applies valid order events in order (they are in order per user, which is all that matters). */
export function ordersOracle(events: readonly TributaryEvent[]): OrdersModel {
  const orders = new Map<string, { view: MutableView; paid: boolean; cancelled: boolean }>();
  const users = new Map<string, { ids: string[]; totals: OrderTotals }>();
  const stats: Record<string, number> = {};
  const count = (name: string) => (stats[name] = (stats[name] ?? 0) + 1);
  const add = (sums: Record<string, number>, currency: string, amount: number) =>
    (sums[currency] = (sums[currency] ?? 0) + amount);
  for (const e of events) {
    if (e.type === 'OrderPlaced') {
      const d = e.data;
      if (orders.has(d.orderId)) {
        count('duplicatePlacements');
        continue;
      }
      const items = d.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPrice: i.unitPrice }));
      const view: MutableView = {
        orderId: d.orderId,
        userId: d.userId,
        status: 'PLACED',
        totalAmount: d.totalAmount,
        currency: d.currency,
        itemCount: items.reduce((n, i) => n + i.quantity, 0),
        lineCount: items.length,
        items,
        placedAt: d.occurredAt,
      };
      orders.set(d.orderId, { view, paid: false, cancelled: false });
      let user = users.get(d.userId);
      if (!user) {
        const totals = {
          placed: 0,
          paid: 0,
          cancelled: 0,
          placedAmount: {},
          paidAmount: {},
          refundedAmount: {},
        };
        users.set(d.userId, (user = { ids: [], totals }));
      }
      user.ids.push(d.orderId);
      user.totals.placed++;
      add(user.totals.placedAmount, d.currency, d.totalAmount);
    } else if (e.type === 'OrderPaid') {
      const d = e.data;
      const o = orders.get(d.orderId);
      if (!o) count('orphanPayments');
      else if (o.paid) count('duplicatePayments');
      else {
        o.paid = true;
        if (o.cancelled) count('paymentsAfterCancel');
        else o.view.status = 'PAID';
        Object.assign(o.view, {
          paidAt: d.occurredAt,
          paidAmount: d.amount,
          paymentCurrency: d.currency,
          paymentMethod: d.paymentMethod,
          paymentId: d.paymentId,
        });
        const totals = users.get(o.view.userId)!.totals;
        totals.paid++;
        add(totals.paidAmount, d.currency, d.amount);
      }
    } else if (e.type === 'OrderCancelled') {
      const d = e.data;
      const o = orders.get(d.orderId);
      if (!o) count('orphanCancels');
      else if (o.cancelled) count('duplicateCancels');
      else {
        o.cancelled = true;
        o.view.status = 'CANCELLED';
        Object.assign(o.view, {
          cancelledAt: d.occurredAt,
          cancelReason: d.reason,
          refundAmount: d.refundAmount,
          refundCurrency: d.currency,
        });
        const totals = users.get(o.view.userId)!.totals;
        totals.cancelled++;
        if (d.refundAmount > 0) add(totals.refundedAmount, d.currency, d.refundAmount);
      }
    }
  }
  const model: OrdersModel = { users: new Map(), stats };
  for (const [userId, { ids, totals }] of users) {
    const views = ids.map((id) => orders.get(id)!.view);
    views.sort((a, b) => b.placedAt - a.placedAt || (a.orderId < b.orderId ? 1 : -1));
    model.users.set(userId, { orders: views, totals });
  }
  return model;
}

/**
 * Reads the whole read model through the query side's {@link readUserOrders} (the current key
 * version, `pageSize` orders at a time), and reports users stored in another partition than
 * murmur2 of their id names (the reader looks there), and scratch flags left behind (both must be
 * none). `topic` is `<topicPrefix>orders`.
 */
export async function readOrders(
  redis: Redis,
  prefix: string,
  topic: string,
  partitions: number,
  { pageSize = 7 } = {},
): Promise<{ model: OrdersModel; misplaced: string[]; scratchLeft: number }> {
  const keys = new ProjectionKeys(prefix, 'orders');
  const version = (await redis.get(keys.current())) ?? 'v1';
  const source: ReadModelSource = {
    redis,
    keyPrefix: prefix,
    topicPrefix: topic.slice(0, -'orders'.length),
    partitions: fixedPartitionCounts(partitions),
  };
  const model: OrdersModel = { users: new Map(), stats: {} };
  const misplaced: string[] = [];
  let scratchLeft = 0;
  for (let p = 0; p < partitions; p++) {
    const k = keys.partition(version, topic, p);
    scratchLeft += await redis.exists(orderKeys.scratch(k));
    for (const [name, value] of Object.entries(await redis.hgetall(orderKeys.stats(k))))
      model.stats[name] = (model.stats[name] ?? 0) + Number(value);
    for (const userId of await redis.smembers(orderKeys.users(k))) {
      const expected = partitionOf(userId, partitions);
      if (expected !== p) misplaced.push(`${userId}: in ${p}, looked up in ${expected}`);
      const orders: OrderView[] = [];
      let page = await readUserOrders(readerContext(source, 'orders'), userId, { limit: pageSize });
      if (page === null) {
        misplaced.push(`${userId}: listed in ${p}, but the reader found no orders`);
        continue;
      }
      orders.push(...page.orders);
      while (page.nextCursor !== null) {
        const next = await readUserOrders(readerContext(source, 'orders'), userId, {
          limit: pageSize,
          cursor: page.nextCursor,
        });
        if (next === null) break;
        page = next;
        orders.push(...page.orders);
      }
      model.users.set(userId, { orders, totals: page.totals });
    }
  }
  return { model, misplaced, scratchLeft };
}

/** Records the orders projection handled, summed over partitions (see `readProgress` for users). */
export async function readOrdersProgress(
  redis: Redis,
  prefix: string,
  topic: string,
  partitions: number,
  version = 'v1',
): Promise<number> {
  return projectionRecords(redis, prefix, 'orders', [topic], partitions, version);
}

/** Hand-made events, in publish order; `poison` maps the eventId of each invalid one to its field. */
export interface OrderEdgeCases {
  readonly events: TributaryEvent[];
  readonly poison: Map<string, string>;
}

/**
 * Events for the rules the generator never exercises, for users `edge-<tag>-…`: a repeated
 * placement, a repeated payment, a cancellation with refund after payment and its repeat, a
 * payment after a cancellation and its repeat, orphan payments and cancellations, a free order,
 * several orders in one millisecond (cursor ties), and one event per business rule broken.
 */
export function orderEdgeCases(tag: string, start = Date.UTC(2026, 1, 1)): OrderEdgeCases {
  const events: TributaryEvent[] = [];
  const poison = new Map<string, string>();
  let t = start;
  const u = (n: number) => `edge-${tag}-${n}`;
  const o = (n: string) => `edge-order-${tag}-${n}`;
  const push = <K extends EventType>(type: K, input: EventInput<K>, field?: string, at = (t += 1000)) => {
    const event = createEvent(type, input, at) as TributaryEvent;
    events.push(event);
    if (field) poison.set(event.data.eventId, field);
  };
  const line = (sku: string, quantity: number, unitPrice: number) => ({ sku, quantity, unitPrice });
  const place = (user: number, id: string, items: ReturnType<typeof line>[], total: number, cur = 'EUR') =>
    push('OrderPlaced', { orderId: o(id), userId: u(user), items, totalAmount: total, currency: cur });
  const pay = (user: number, id: string, amount: number, cur = 'EUR', field?: string) =>
    push(
      'OrderPaid',
      {
        orderId: o(id),
        userId: u(user),
        amount,
        currency: cur,
        paymentMethod: 'CARD',
        paymentId: `pay-${id}`,
      },
      field,
    );
  const cancel = (user: number, id: string, refundAmount: number, cur = 'EUR', field?: string) =>
    push(
      'OrderCancelled',
      { orderId: o(id), userId: u(user), reason: 'CUSTOMER_REQUEST', refundAmount, currency: cur },
      field,
    );

  place(1, 'a1', [line('sku-1', 2, 1250), line('sku-2', 1, 499)], 2999);
  place(1, 'a1', [line('sku-9', 1, 100)], 100); // a repeat with another payload: ignored
  pay(1, 'a1', 2999);
  pay(1, 'a1', 2999); // a repeat: ignored
  place(1, 'a2', [line('sku-3', 3, 700)], 2100, 'USD');
  pay(1, 'a2', 0, 'USD', 'data.amount'); // poison on a live order: must leave it unpaid
  cancel(1, 'a1', 2999); // after payment: a refund
  cancel(1, 'a1', 2999); // a repeat: ignored
  pay(1, 'a2', 2100, 'USD');
  place(2, 'b1', [line('sku-4', 1, 5000)], 5000, 'GBP');
  cancel(2, 'b1', 0, 'GBP');
  pay(2, 'b1', 5000, 'GBP'); // after the cancellation: recorded, status stays CANCELLED
  pay(2, 'b1', 5000, 'GBP'); // a repeat: ignored
  pay(3, 'z1', 1000); // orphans
  cancel(3, 'z2', 0);
  place(4, 'x1', [line('sku-5', 2, 300)], 601, 'EUR'); // poison, then its payment is an orphan
  poison.set(events.at(-1)!.data.eventId, 'data.totalAmount');
  pay(4, 'x1', 601);
  place(5, 'f1', [line('free-sample', 1, 0)], 0);
  const tie = (t += 1000);
  for (const id of ['d2', 'd1', 'd3'])
    push(
      'OrderPlaced',
      { orderId: o(id), userId: u(6), items: [line('s', 1, 10)], totalAmount: 10, currency: 'EUR' },
      undefined,
      tie,
    );
  place(6, 'd0', [line('s', 1, 20)], 20);
  pay(6, 'd1', 10);
  const invalid = (
    id: string,
    items: ReturnType<typeof line>[],
    total: number,
    cur: string,
    field: string,
  ) => {
    place(7, id, items, total, cur);
    poison.set(events.at(-1)!.data.eventId, field);
  };
  invalid('p1', [line('s', 0, 100)], 0, 'EUR', 'data.items[0].quantity');
  invalid('p2', [line('s', 1, 100), line('t', 1, -50)], 50, 'EUR', 'data.items[1].unitPrice');
  invalid('p3', [], 0, 'EUR', 'data.items');
  invalid('p4', [line('s', 1, 100)], 100, 'eur', 'data.currency');
  invalid('p5', [line('s', 1, -100)], -100, 'EUR', 'data.totalAmount');
  const noId = { orderId: '', userId: u(7), items: [line('s', 1, 100)], totalAmount: 100, currency: 'EUR' };
  push('OrderPlaced', noId, 'data.orderId');
  pay(7, 'p6', -100, 'EUR', 'data.amount');
  pay(7, 'p7', 100, 'EURO', 'data.currency');
  cancel(7, 'p8', -1, 'EUR', 'data.refundAmount');
  return { events, poison };
}
