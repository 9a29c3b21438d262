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

  /**
   * The event ids this partition applied within the de-duplication horizon (a sorted set scored
   * by record time), checked and extended by the fence.
   */
  seen(): string {
    return `${this.base}:seen`;
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

  /** Held by the `rebuild` of this projection that runs now (SET NX PX, renewed while it runs). */
  rebuildLock(): string {
    return `${this.prefix}projection:${this.projection}:rebuild-lock`;
  }

  /** The namespace of a version, the first part of its partition hash tags. */
  namespace(version: string): string {
    return `${this.projection}.${version}`;
  }

  partition(version: string, topic: string, partition: number): PartitionKeys {
    return new PartitionKeys(this.prefix, this.namespace(version), topic, partition);
  }
}

/** The per-partition counter of records handled, applied inside each fenced batch. */
export function progressKey(k: PartitionKeys): string {
  return k.key('progress');
}

/** The kinds of analytics windows (consumers/analytics/windows.ts). */
export type AnalyticsWindowKind = 'tumbling' | 'hopping';

/**
 * The id of an analytics window: `<kind>:<size ms>:<advance ms>:<start ms>`, e.g.
 * `hopping:300000:60000:1767225600000`. It names the window's keys, keys its final result on the
 * `analytics.windows` topic, and changes with the configured sizes, so results of different sizes
 * never mix.
 */
export function analyticsWindowId(
  kind: AnalyticsWindowKind,
  sizeMs: number,
  advanceMs: number,
  start: number,
): string {
  return `${kind}:${sizeMs}:${advanceMs}:${start}`;
}

/**
 * Key layout of the analytics group within one partition of `users`, `orders` or `page-views`
 * (namespace `analytics.<version>`). Each partition keeps partial aggregates of every window it
 * has events of; readers merge the partitions. Window ids come last.
 *
 * - `state`: hash `maxEventTime` (largest event time seen; the watermark is this minus the allowed
 *   lateness) and `activeAt` (wall-clock ms of the last applied batch, for idleness).
 * - `windows`: sorted set of the ids of windows with data here, score = window end; the finalizer
 *   removes a window once its final result is emitted.
 * - `late`: hash, per window kind, of events refused by at least one window of that kind.
 * - `sums:<window>`: hash `event:<EventType>` (events per type, so also orders placed and paid) and
 *   `revenue:<CUR>` (`OrderPaid` amounts in minor units).
 * - `visitors:<window>`: HyperLogLog of user ids, and of `session:<sessionId>` for anonymous page views.
 * - `pages:<window>`: sorted set of page paths, score = views.
 * - `frontier`: the finality frontier as this partition's slot knows it (raised by the finalizer
 *   before the group's frontier, never lowered); the fence refuses a batch built on a lower one.
 * - `finalizer-token`: the newest finalizer fencing token that wrote to this slot.
 */
export const analyticsKeys = {
  state: (k: PartitionKeys): string => k.key('state'),
  frontier: (k: PartitionKeys): string => k.key('frontier'),
  finalizerToken: (k: PartitionKeys): string => k.key('finalizer-token'),
  windows: (k: PartitionKeys): string => k.key('windows'),
  late: (k: PartitionKeys): string => k.key('late'),
  sums: (k: PartitionKeys, windowId: string): string => k.key('sums', windowId),
  visitors: (k: PartitionKeys, windowId: string): string => k.key('visitors', windowId),
  pages: (k: PartitionKeys, windowId: string): string => k.key('pages', windowId),
};

/**
 * Keys of one version of the analytics group as a whole, written by its finalizer (not by
 * batches): `<prefix>{analytics.<version>:group}:<name>`, one slot of their own, and removed with
 * the version's partition keys (their hash tag starts like theirs). The version's layout (window
 * sizes, partitions per topic) is in {@link ProjectionKeys.meta}, field `analytics`.
 */
export class AnalyticsGroupKeys {
  private readonly base: string;

  constructor(
    readonly prefix: string,
    readonly namespace: string,
  ) {
    this.base = `${prefix}{${namespace}:group}`;
  }

  /** The finality frontier (ms): every window whose end plus grace is at or below it is final. */
  frontier(): string {
    return `${this.base}:frontier`;
  }

  /** The finalizer lease: the id of the process that emits final windows now. */
  leader(): string {
    return `${this.base}:leader`;
  }

  /** The newest fencing token of the finalizer lease (never expires, only grows). */
  leaderToken(): string {
    return `${this.base}:leader-token`;
  }

  /** Set once a window's final result was produced (value: when, epoch ms). */
  emitted(windowId: string): string {
    return `${this.base}:emitted:${windowId}`;
  }
}

/** The Pub/Sub channel of live analytics updates (one message per applied batch and per final window). */
export function analyticsUpdatesChannel(prefix: string): string {
  return `${prefix}analytics:updates`;
}
