/**
 * Reader of the orders-by-user read model (projections/orders.ts, layout in keys.ts `orderKeys`),
 * served at `/models/orders/of-user`. `orders` is keyed by user id, so a user's orders and totals
 * sit in one partition, found from the id (`ctx.partition`).
 *
 * Pages are newest first (by `placedAt`, event time; ties by order id, descending). The cursor is
 * a position, (`placedAt`, order id) of the last order served, so orders placed meanwhile neither
 * repeat nor shift a page; it also names the key version, and a rebuild since makes it expire.
 */
import {
  ReadModelError,
  ReadModelErrorCodes,
  cursorInt,
  cursorString,
  decodeCursor,
  encodeCursor,
  type ReaderContext,
} from 'tributary';
import { orderKeys } from '../keys.js';
import { ORDER_SCHEMA } from './schemas.js';

export const ORDERS_TOPIC = 'orders';

export type OrderStatus = 'PLACED' | 'PAID' | 'CANCELLED';

/** One line of an order; `unitPrice` in minor units of the order's currency. */
export interface OrderLine {
  readonly sku: string;
  readonly quantity: number;
  readonly unitPrice: number;
}

/**
 * An order as the projection stores it; times are epoch milliseconds (event time), amounts
 * integers in minor units. Payment and cancellation fields appear once those happened.
 */
export interface OrderView {
  readonly orderId: string;
  readonly userId: string;
  readonly status: OrderStatus;
  readonly totalAmount: number;
  readonly currency: string;
  /** Units ordered: the sum of the lines' quantities. */
  readonly itemCount: number;
  readonly lineCount: number;
  readonly items: readonly OrderLine[];
  readonly placedAt: number;
  readonly paidAt?: number;
  readonly paidAmount?: number;
  readonly paymentCurrency?: string;
  readonly paymentMethod?: string;
  readonly paymentId?: string;
  readonly cancelledAt?: number;
  readonly cancelReason?: string;
  readonly refundAmount?: number;
  readonly refundCurrency?: string;
}

/** A user's totals over all their orders; amounts per ISO currency code, in minor units. */
export interface OrderTotals {
  placed: number;
  paid: number;
  cancelled: number;
  placedAmount: Record<string, number>;
  paidAmount: Record<string, number>;
  refundedAmount: Record<string, number>;
}

/** One page of a user's orders, with the user's totals. */
export interface UserOrdersPage {
  readonly orders: OrderView[];
  readonly totals: OrderTotals;
  /** Pass back as `cursor` for the next page; null after the last page. */
  readonly nextCursor: string | null;
}

const NUMERIC = new Set([
  'totalAmount',
  'itemCount',
  'lineCount',
  'placedAt',
  'paidAt',
  'paidAmount',
  'cancelledAt',
  'refundAmount',
]);
const TOTAL_KINDS = new Set(['placedAmount', 'paidAmount', 'refundedAmount']);
const VERSION = /^v\d{1,9}$/;

/** The fields of a view in the order its schema lists them (the hash keeps the order they were written in). */
const FIELD_ORDER = Object.keys(ORDER_SCHEMA.properties as Record<string, unknown>);

function toView(h: Record<string, string>): OrderView {
  const view: Record<string, unknown> = {};
  for (const field of [...FIELD_ORDER, ...Object.keys(h)]) {
    const value = h[field];
    if (value === undefined || field in view) continue;
    view[field] = field === 'items' ? JSON.parse(value) : NUMERIC.has(field) ? Number(value) : value;
  }
  return view as unknown as OrderView;
}

function toTotals(h: Record<string, string>): OrderTotals {
  const totals: OrderTotals = {
    placed: Number(h.placed ?? 0),
    paid: Number(h.paid ?? 0),
    cancelled: Number(h.cancelled ?? 0),
    placedAmount: {},
    paidAmount: {},
    refundedAmount: {},
  };
  for (const [field, value] of Object.entries(h)) {
    const [kind, currency] = field.split(':');
    if (currency !== undefined && TOTAL_KINDS.has(kind!)) {
      (totals[kind as 'placedAmount'] as Record<string, number>)[currency] = Number(value);
    }
  }
  return totals;
}

function exec<T>(results: [Error | null, unknown][] | null): T {
  return (results ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  }) as T;
}

/** Member/score pairs of a `ZRANGE … WITHSCORES` reply. */
function pairs(flat: readonly string[]): [id: string, placedAt: string][] {
  return Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!]);
}

/**
 * A page of at most `limit` of `userId`'s orders, newest first, and the user's totals; null when
 * the user has no orders (or no orders model exists yet).
 *
 * @throws {@link ReadModelError} `invalid_cursor`, or `cursor_expired` after a rebuild.
 */
export async function readUserOrders(
  ctx: ReaderContext,
  userId: string,
  page: { readonly limit: number; readonly cursor?: string | undefined },
): Promise<UserOrdersPage | null> {
  const limit = Math.max(1, Math.trunc(page.limit));
  let after: { version: string; placedAt: number; orderId: string } | undefined;
  if (page.cursor !== undefined) {
    const [version, placedAt, orderId] = decodeCursor('orders', page.cursor, 3);
    after = {
      version: cursorString(version, VERSION),
      placedAt: cursorInt(placedAt, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      orderId: cursorString(orderId),
    };
  }
  const version = await ctx.version();
  if (after && after.version !== version) {
    throw new ReadModelError(
      ReadModelErrorCodes.CURSOR_EXPIRED,
      'the orders read model was rebuilt since this cursor was issued: list again from the start',
    );
  }
  const k = await ctx.partition(ORDERS_TOPIC, userId);
  if (version === null || k === null) return null;
  const list = orderKeys.userOrders(k, userId);

  // One MULTI: the totals and the page's ids are one consistent snapshot.
  const tx = ctx.redis.multi().hgetall(orderKeys.totals(k, userId)).zcard(list);
  if (after) {
    // Orders at the cursor's own time that sort after it (smaller ids), then the older ones.
    tx.zrange(list, after.placedAt, after.placedAt, 'BYSCORE', 'REV', 'WITHSCORES');
    tx.zrange(list, `(${after.placedAt}`, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit + 1, 'WITHSCORES');
  } else {
    tx.zrange(list, 0, limit, 'REV', 'WITHSCORES');
  }
  const [totals, size, first, older = []] = exec<
    [Record<string, string>, number, string[], string[] | undefined]
  >(await tx.exec());
  if (size === 0 && Object.keys(totals).length === 0) return null;
  // Redis orders members of one score by their bytes: compare the same way.
  const afterId = after && Buffer.from(after.orderId);
  const entries = afterId
    ? [...pairs(first).filter(([id]) => Buffer.compare(Buffer.from(id), afterId) < 0), ...pairs(older)]
    : pairs(first);
  const shown = entries.slice(0, limit);

  let orders: OrderView[] = [];
  if (shown.length > 0) {
    const reads = ctx.redis.pipeline();
    for (const [orderId] of shown) reads.hgetall(orderKeys.order(k, orderId));
    orders = exec<Record<string, string>[]>(await reads.exec())
      .filter((h) => h.orderId !== undefined)
      .map(toView);
  }
  const last = shown.at(-1);
  return {
    orders,
    totals: toTotals(totals),
    nextCursor:
      entries.length > limit && last ? encodeCursor('orders', [version, Number(last[1]), last[0]]) : null,
  };
}
