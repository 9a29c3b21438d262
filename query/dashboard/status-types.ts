/**
 * The body of `GET /dashboard/status`, shared by the server (status.ts) and the browser code
 * (client/), so both sides agree on it at compile time. Plain data; no imports.
 */

/** How a consumer group is doing, worst first. */
export type ConsumerHealth = 'down' | 'lagging' | 'ok' | 'unknown';

/** One partition of one topic as one projection version sees it. */
export interface PartitionProgress {
  readonly topic: string;
  readonly partition: number;
  /** Last offset applied to Redis behind the offset fence; null before the first batch. */
  readonly appliedOffset: number | null;
  /** The partition's high watermark (next offset to be written); null when Kafka did not answer. */
  readonly endOffset: number | null;
  /** Records written to the partition but not yet applied; null when unknown. */
  readonly lag: number | null;
  /** Records this projection handled from the partition (its `progress` counter). */
  readonly records: number;
}

/** One projection (or the analytics group): its live key version and its consumer group. */
export interface ProjectionProgress {
  readonly name: string;
  /** The key version readers use now (`v1`, `v2` after a rebuild). */
  readonly version: string;
  readonly groupId: string;
  /** Kafka's state of the group (`Stable`, `Empty`, `PreparingRebalance`, …); null when unknown. */
  readonly groupState: string | null;
  /** Consumers in the group now; null when unknown. */
  readonly members: number | null;
  /** Records handled, summed over partitions. */
  readonly records: number;
  /** Records behind, summed over partitions; null when Kafka did not answer. */
  readonly lag: number | null;
  readonly health: ConsumerHealth;
  readonly partitions: readonly PartitionProgress[];
}

/** The analytics group's windows as it stores them (lib/read-models/analytics.ts), and its progress. */
export interface AnalyticsProgress {
  readonly version: string;
  readonly windows: {
    readonly tumbling: { readonly sizeMs: number; readonly advanceMs: number };
    readonly hopping: { readonly sizeMs: number; readonly advanceMs: number };
  };
  readonly allowedLatenessMs: number;
  readonly graceMs: number;
  /** Every window whose end plus grace is at or below this (epoch ms) is final; null before the first. */
  readonly frontier: number | null;
  /** Events that arrived after their window had closed, per window kind (also on the late-events topic). */
  readonly late: { readonly tumbling: number; readonly hopping: number };
}

/** `GET /dashboard/status`. */
export interface DashboardStatusBody {
  /** When this answer was computed (epoch ms); answers are cached for a moment. */
  readonly at: number;
  /** A group is `lagging` beyond this many records. */
  readonly lagThreshold: number;
  readonly kafka: { readonly ok: boolean; readonly error?: string };
  readonly projections: readonly ProjectionProgress[];
  /** Null until the analytics group has run. */
  readonly analytics: AnalyticsProgress | null;
}
