/**
 * The orders-by-user read model. Topic `orders` is keyed by user id, so all of a user's orders
 * live in one partition and arrive in order. Keys, all under that partition's hash tag:
 *
 * - `orders:<userId>`: sorted set of the user's order ids, score = `placedAt` (event time, ms).
 * - `order:<orderId>`: hash of the order's details and status (fields as in `OrderView` of
 *   lib/read-models/orders.ts).
 * - `totals:<userId>`: hash of counts `placed`, `paid`, `cancelled` and, per ISO currency,
 *   `placedAmount:<CUR>`, `paidAmount:<CUR>`, `refundedAmount:<CUR>`: integers in minor units.
 * - `order-paid:<orderId>`, `order-cancelled:<orderId>`: markers, there once that payment or
 *   cancellation was applied (the script's guards test a key's existence, not a field). Nothing
 *   is ever deleted, so a repeat is recognised however late it comes.
 * - `order-users`: the user ids with orders in this partition; `stats`: counters of events that
 *   changed nothing or were odd (below); `scratch`: a flag that lives within one script run.
 *
 * Defined behaviour (so totals never count anything twice):
 * - `OrderPlaced` for a known order id changes nothing, whatever its payload (`duplicatePlacements`).
 * - `OrderPaid` for an unknown order is ignored (`orphanPayments`); for an order already paid it
 *   is ignored and the first payment stays (`duplicatePayments`). Otherwise the payment is recorded
 *   and counted in `paid` and `paidAmount:<payment currency>`; the status becomes `PAID`.
 * - A payment after a cancellation: a cancellation is final, so the status stays `CANCELLED`, but
 *   the capture is a fact and is recorded and counted like any payment; `paymentsAfterCancel`
 *   counts these (each owes the customer a refund).
 * - `OrderCancelled` for an unknown order is ignored (`orphanCancels`), for a cancelled one too
 *   (`duplicateCancels`). Otherwise the status becomes `CANCELLED` (also after a payment) and a
 *   positive `refundAmount` is counted in `refundedAmount:<CUR>`.
 * - Rules that need the stored order (payment currency = order currency, refund ≤ payment) are
 *   not checked: `apply` does no reads. Rules on the event alone are: a violation is thrown as an
 *   `UnrecoverableError` (`TRIBUTARY_EVENT_INVALID`) and the record is dead-lettered.
 *
 * The query side (lib/read-models/orders.ts) finds a user's partition with Kafka's murmur2 over
 * the user id, as the producer did, and reads pages of their orders there.
 */
import {
  defineProjection,
  defineReader,
  ErrorCodes,
  pageParams,
  UnrecoverableError,
  type AppliedRecord,
  type PartitionKeys,
  type WriteBatch,
} from 'tributary';
import { readUserOrders, type OrderTotals } from '../read-models/orders.js';
import { ORDERS_PAGE_SCHEMA } from '../read-models/schemas.js';
import { readUser } from '../read-models/users.js';

const NO_TOTALS: OrderTotals = {
  placed: 0,
  paid: 0,
  cancelled: 0,
  placedAmount: {},
  paidAmount: {},
  refundedAmount: {},
};
import type { AnyEvent, OrderCancelled, OrderPaid, OrderPlaced } from '../generated/events.js';
import { orderKeys } from '../keys.js';

const CURRENCY = /^[A-Z]{3}$/;

/**
 * The business rules an order event must meet beyond its Avro schema, one line per violation,
 * each naming the field (`data.items[1].quantity: must be at least 1, got 0`). Empty: valid.
 */
export function orderEventIssues(event: AnyEvent): string[] {
  const issues: string[] = [];
  const atLeast = (path: string, value: number, min: number): boolean => {
    const ok = Number.isSafeInteger(value) && value >= min;
    if (!ok) issues.push(`${path}: must be an integer ≥ ${min}, got ${value}`);
    return ok;
  };
  const common = (d: { readonly orderId: string; readonly currency: string }) => {
    if (d.orderId === '') issues.push('data.orderId: must not be empty');
    if (!CURRENCY.test(d.currency))
      issues.push(
        `data.currency: must be three capital letters (ISO 4217), got ${JSON.stringify(d.currency.slice(0, 16))}`,
      );
  };
  switch (event.type) {
    case 'OrderPlaced': {
      const d = event.data;
      common(d);
      if (d.items.length === 0) issues.push('data.items: must hold at least one line');
      let sum: bigint | undefined = 0n;
      d.items.forEach((item, i) => {
        const ok = atLeast(`data.items[${i}].quantity`, item.quantity, 1);
        if (atLeast(`data.items[${i}].unitPrice`, item.unitPrice, 0) && ok && sum !== undefined)
          sum += BigInt(item.quantity) * BigInt(item.unitPrice);
        else sum = undefined;
      });
      if (atLeast('data.totalAmount', d.totalAmount, 0) && sum !== undefined && BigInt(d.totalAmount) !== sum)
        issues.push(`data.totalAmount: ${d.totalAmount} is not the sum of quantity × unitPrice (${sum})`);
      break;
    }
    case 'OrderPaid':
      common(event.data);
      atLeast('data.amount', event.data.amount, 1);
      break;
    case 'OrderCancelled':
      common(event.data);
      atLeast('data.refundAmount', event.data.refundAmount, 0);
      break;
    default:
      break;
  }
  return issues;
}

/** Throws `UnrecoverableError` (`TRIBUTARY_EVENT_INVALID`) naming every broken business rule. */
export function assertValidOrderEvent(event: AnyEvent): void {
  const issues = orderEventIssues(event);
  if (issues.length > 0)
    throw new UnrecoverableError(ErrorCodes.EVENT_INVALID, `${event.type} ${issues.join('; ')}`);
}

type Op = readonly [command: string, key: string, ...args: (string | number)[]];

/**
 * Adds `ops`, to run only if every `exists` key exists and every `missing` key does not. The
 * script's guards test one key each, so the conjunction is first worked out into the scratch
 * flag, which then guards every op. The ops may thus create or delete the keys tested.
 */
function when(
  w: WriteBatch,
  k: PartitionKeys,
  cond: { readonly exists?: readonly string[]; readonly missing?: readonly string[] },
  ops: readonly Op[],
): void {
  const flag = orderKeys.scratch(k);
  w.command('SET', flag, 1);
  for (const key of cond.exists ?? []) w.ifNotExists(key, 'DEL', flag);
  for (const key of cond.missing ?? []) w.ifExists(key, 'DEL', flag);
  for (const [name, key, ...args] of ops) w.ifExists(flag, name, key, ...args);
  w.command('DEL', flag);
}

function placed(d: OrderPlaced, w: WriteBatch, k: PartitionKeys): void {
  const order = orderKeys.order(k, d.orderId);
  const totals = orderKeys.totals(k, d.userId);
  const items = d.items.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice }));
  const itemCount = items.reduce((n, i) => n + i.quantity, 0);
  // The totals' amounts can never overflow Redis's integers: checked as if each were added.
  w.bound(totals, `placedAmount:${d.currency}`, d.totalAmount);
  w.ifExists(order, 'HINCRBY', orderKeys.stats(k), 'duplicatePlacements', 1);
  when(w, k, { missing: [order] }, [
    ['ZADD', orderKeys.userOrders(k, d.userId), d.occurredAt, d.orderId],
    ['HINCRBY', totals, 'placed', 1],
    ['HINCRBY', totals, `placedAmount:${d.currency}`, d.totalAmount],
    ['SADD', orderKeys.users(k), d.userId],
    ['HSET', order, 'orderId', d.orderId, 'userId', d.userId, 'status', 'PLACED'],
    ['HSET', order, 'totalAmount', d.totalAmount, 'currency', d.currency, 'placedAt', d.occurredAt],
    ['HSET', order, 'itemCount', itemCount, 'lineCount', items.length, 'items', JSON.stringify(items)],
  ]);
}

function paid(d: OrderPaid, offset: string, w: WriteBatch, k: PartitionKeys): void {
  const order = orderKeys.order(k, d.orderId);
  const marker = orderKeys.paid(k, d.orderId);
  const cancelled = orderKeys.cancelled(k, d.orderId);
  const totals = orderKeys.totals(k, d.userId);
  const stats = orderKeys.stats(k);
  w.bound(totals, `paidAmount:${d.currency}`, d.amount);
  w.ifNotExists(order, 'HINCRBY', stats, 'orphanPayments', 1);
  w.ifExists(marker, 'HINCRBY', stats, 'duplicatePayments', 1);
  // The cancellation marker implies the order exists.
  when(w, k, { exists: [cancelled], missing: [marker] }, [['HINCRBY', stats, 'paymentsAfterCancel', 1]]);
  when(w, k, { exists: [order], missing: [marker, cancelled] }, [['HSET', order, 'status', 'PAID']]);
  when(w, k, { exists: [order], missing: [marker] }, [
    ['HSET', order, 'paidAt', d.occurredAt, 'paidAmount', d.amount, 'paymentCurrency', d.currency],
    ['HSET', order, 'paymentMethod', d.paymentMethod, 'paymentId', d.paymentId],
    ['HINCRBY', totals, 'paid', 1],
    ['HINCRBY', totals, `paidAmount:${d.currency}`, d.amount],
    ['SET', marker, offset],
  ]);
}

function cancelled(d: OrderCancelled, offset: string, w: WriteBatch, k: PartitionKeys): void {
  const order = orderKeys.order(k, d.orderId);
  const marker = orderKeys.cancelled(k, d.orderId);
  const totals = orderKeys.totals(k, d.userId);
  const stats = orderKeys.stats(k);
  w.ifNotExists(order, 'HINCRBY', stats, 'orphanCancels', 1);
  w.ifExists(marker, 'HINCRBY', stats, 'duplicateCancels', 1);
  if (d.refundAmount > 0) w.bound(totals, `refundedAmount:${d.currency}`, d.refundAmount);
  const refund: Op[] =
    d.refundAmount > 0 ? [['HINCRBY', totals, `refundedAmount:${d.currency}`, d.refundAmount]] : [];
  when(w, k, { exists: [order], missing: [marker] }, [
    ['HSET', order, 'status', 'CANCELLED', 'cancelledAt', d.occurredAt, 'cancelReason', d.reason],
    ['HSET', order, 'refundAmount', d.refundAmount, 'refundCurrency', d.currency],
    ['HINCRBY', totals, 'cancelled', 1],
    ...refund,
    ['SET', marker, offset],
  ]);
}

/** The orders-by-user projection: topic `orders`, its own consumer group (`tributary-orders…`). */
export const ordersProjection = defineProjection<AnyEvent>({
  name: 'orders',
  topics: ['orders'],
  apply({ event, offset }: AppliedRecord<AnyEvent>, w: WriteBatch, k: PartitionKeys): void {
    // Validate before the first write: a rejected event leaves the batch untouched.
    assertValidOrderEvent(event);
    switch (event.type) {
      case 'OrderPlaced':
        return placed(event.data, w, k);
      case 'OrderPaid':
        return paid(event.data, offset, w, k);
      case 'OrderCancelled':
        return cancelled(event.data, offset, w, k);
      default:
        // Other event types on this topic (from newer producers) are not part of this model.
        return;
    }
  },
  readers: {
    'of-user': defineReader<{ userId: string; limit: number; cursor?: string }, object>({
      description: "A user's orders, newest first, with status, and the user's totals",
      params: {
        type: 'object',
        required: ['userId'],
        properties: {
          userId: { type: 'string', minLength: 1, maxLength: 256, description: 'The user id' },
          ...pageParams(),
        },
      },
      answer: ORDERS_PAGE_SCHEMA,
      notFound: 'No such user and no orders of theirs.',
      async read({ userId, ...page }, ctx) {
        const found = await readUserOrders(ctx, userId, page);
        if (found) return { userId, ...found };
        // No orders: an empty page for a known user, nothing (404) for an unknown one.
        if (!(await readUser(ctx.of('users'), userId))) return null;
        return { userId, orders: [], totals: NO_TOTALS, nextCursor: null };
      },
    }),
  },
});
