/**
 * The shop's Redis key layouts, within one partition of a projection (every key under that
 * partition's hash tag, so a batch is one slot). Ids come last: they may hold `:`.
 */
import type { PartitionKeys } from 'tributary';

/** Key layout of the users projection within one partition of `users`. */
export const userKeys = {
  user: (k: PartitionKeys, userId: string): string => k.key('user', userId),
  ids: (k: PartitionKeys): string => k.key('user-ids'),
  stats: (k: PartitionKeys): string => k.key('stats'),
};

/** Key layout of the user-count projection within one partition of `users`. */
export const userCountKeys = {
  ids: (k: PartitionKeys): string => k.key('ids'),
  totals: (k: PartitionKeys): string => k.key('totals'),
};

/**
 * Key layout of the orders projection within one partition of `orders` (keyed by user id, so all
 * of a user's orders share a partition). Ids come last: they may hold `:`.
 */
export const orderKeys = {
  userOrders: (k: PartitionKeys, userId: string): string => k.key('orders', userId),
  order: (k: PartitionKeys, orderId: string): string => k.key('order', orderId),
  totals: (k: PartitionKeys, userId: string): string => k.key('totals', userId),
  paid: (k: PartitionKeys, orderId: string): string => k.key('order-paid', orderId),
  cancelled: (k: PartitionKeys, orderId: string): string => k.key('order-cancelled', orderId),
  users: (k: PartitionKeys): string => k.key('order-users'),
  stats: (k: PartitionKeys): string => k.key('stats'),
  scratch: (k: PartitionKeys): string => k.key('scratch'),
};
