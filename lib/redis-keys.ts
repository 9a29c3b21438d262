/**
 * Every Redis key name the consumers write and the query side reads comes from here. Keys that
 * one partition's batch touches share that partition's hash tag, `{<namespace>:<topic>:<p>}`, so
 * a batch is one slot and its transaction works on Redis Cluster too. A namespace is a consumer
 * group's name plus a version (`users.v1`), so a rebuild fills a new version beside the live one.
 */

/** Keys of one partition of one projection version. */
export class PartitionKeys {
  /** The hash tag shared by every key of this partition. */
  readonly tag: string;
  private readonly base: string;

  constructor(
    readonly prefix: string,
    readonly namespace: string,
    readonly topic: string,
    readonly partition: number,
  ) {
    this.tag = `{${namespace}:${topic}:${partition}}`;
    this.base = `${prefix}${this.tag}`;
  }

  /** The last applied offset of this partition (the fence). */
  offset(): string {
    return `${this.base}:offset`;
  }

  /** Projection-specific key under this partition: `<prefix>{ns:topic:p}:<parts…>`. */
  key(...parts: (string | number)[]): string {
    return `${this.base}:${parts.join(':')}`;
  }
}

/** Keys of a projection as a whole (not per partition). */
export class ProjectionKeys {
  constructor(
    readonly prefix: string,
    readonly projection: string,
  ) {}

  /** Which version readers use now (a string like `v3`); swapped atomically by a rebuild. */
  current(): string {
    return `${this.prefix}projection:${this.projection}:current`;
  }

  /** Metadata of a version: partitions per topic, when it was built. */
  meta(version: string): string {
    return `${this.prefix}projection:${this.projection}:${version}:meta`;
  }

  /** The namespace of a version, the first part of its partition hash tags. */
  namespace(version: string): string {
    return `${this.projection}.${version}`;
  }

  partition(version: string, topic: string, partition: number): PartitionKeys {
    return new PartitionKeys(this.prefix, this.namespace(version), topic, partition);
  }
}

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

/** The per-partition counter of records handled, applied inside each fenced batch. */
export function progressKey(k: PartitionKeys): string {
  return k.key('progress');
}
