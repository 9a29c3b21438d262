/** JSON schemas of the shop's readers: what `/models/users/…` and `/models/orders/…` answer. */
import type { JsonSchema } from 'tributary';

const millis = (description: string): JsonSchema => ({ type: 'integer', description });

/** A user as `GET /models/users/get` returns it. */
export const USER_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['userId', 'email', 'name', 'plan', 'country', 'createdAt', 'updatedAt'],
  properties: {
    userId: { type: 'string' },
    email: { type: 'string' },
    name: { type: 'string' },
    plan: { type: 'string' },
    country: { type: 'string' },
    createdAt: millis('First sign-up, event time, epoch ms'),
    updatedAt: millis('Last change, event time, epoch ms'),
  },
};

export const NEXT_CURSOR: JsonSchema = {
  type: ['string', 'null'],
  description: 'Pass as `cursor` for the next page; null after the last page.',
};

/** `GET /models/users/list`. */
export const USERS_PAGE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['users', 'total', 'nextCursor'],
  properties: {
    users: { type: 'array', items: USER_SCHEMA },
    total: {
      type: ['integer', 'null'],
      description: 'Live users (user-count projection); null when that projection has not run',
    },
    nextCursor: NEXT_CURSOR,
  },
};

const AMOUNTS: JsonSchema = {
  type: 'object',
  additionalProperties: { type: 'integer' },
  description: 'Per ISO 4217 currency code, in minor units',
};

/** One order of `GET /models/orders/of-user`. */
export const ORDER_SCHEMA: JsonSchema = {
  type: 'object',
  required: [
    'orderId',
    'userId',
    'status',
    'totalAmount',
    'currency',
    'itemCount',
    'lineCount',
    'items',
    'placedAt',
  ],
  properties: {
    orderId: { type: 'string' },
    userId: { type: 'string' },
    status: { type: 'string', enum: ['PLACED', 'PAID', 'CANCELLED'] },
    totalAmount: { type: 'integer', description: 'Minor units of `currency`' },
    currency: { type: 'string' },
    itemCount: { type: 'integer', description: 'Units ordered (sum of quantities)' },
    lineCount: { type: 'integer' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['sku', 'quantity', 'unitPrice'],
        properties: {
          sku: { type: 'string' },
          quantity: { type: 'integer' },
          unitPrice: { type: 'integer' },
        },
      },
    },
    placedAt: millis('Event time, epoch ms'),
    paidAt: millis('Event time of the payment, epoch ms'),
    paidAmount: { type: 'integer' },
    paymentCurrency: { type: 'string' },
    paymentMethod: { type: 'string' },
    paymentId: { type: 'string' },
    cancelledAt: millis('Event time of the cancellation, epoch ms'),
    cancelReason: { type: 'string' },
    refundAmount: { type: 'integer' },
    refundCurrency: { type: 'string' },
  },
};

/** `GET /users/:id/orders`. */
export const ORDERS_PAGE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['userId', 'orders', 'totals', 'nextCursor'],
  properties: {
    userId: { type: 'string' },
    orders: { type: 'array', items: ORDER_SCHEMA, description: 'Newest first' },
    totals: {
      type: 'object',
      description: "The user's totals over all their orders",
      required: ['placed', 'paid', 'cancelled', 'placedAmount', 'paidAmount', 'refundedAmount'],
      properties: {
        placed: { type: 'integer' },
        paid: { type: 'integer' },
        cancelled: { type: 'integer' },
        placedAmount: AMOUNTS,
        paidAmount: AMOUNTS,
        refundedAmount: AMOUNTS,
      },
    },
    nextCursor: NEXT_CURSOR,
  },
};
