/** What a projection (or the analytics group) gives the consumer runtime. */
import type { Redis } from 'ioredis';
import type { Admin } from 'kafkajs';
import type { TributaryConfig } from '../../lib/config.js';
import type { EngineProducer, OutgoingRecord } from '../../lib/engine.js';
import type { Logger } from '../../lib/logger.js';
import type { AppEvent, EventCatalog } from '../../schemas/catalog.js';
import type { Reader } from '../../lib/read-models/reader.js';
import type { PartitionKeys, ProjectionKeys } from '../keys.js';
import type { SliceFloor, WriteBatch } from '../offset-fence.js';
import type { ConsumerMetrics } from './consumer-metrics.js';

/** A decoded event with where it came from. */
export interface AppliedRecord<E extends AppEvent = AppEvent> {
  readonly event: E;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Broker timestamp of the record (epoch ms): arrival, not event time. */
  readonly timestamp: number;
  /** The record as consumed (set by the runtime), for side outputs that forward it unchanged. */
  readonly key?: Buffer | null;
  readonly value?: Buffer | null;
  readonly headers?: Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;
}

/**
 * A read model built by one consumer group. `apply` turns one partition's batch of events into
 * Redis writes; it must be deterministic and do no I/O (the runtime applies the writes behind the
 * offset fence, in one round trip). Throw an `UnrecoverableError` for an event that can never be
 * applied (it goes to the dead-letter topic); any other error is retried with backoff. Event
 * types it has no case for are skipped (`apply` returns without writes), never dead-lettered: a
 * topic may carry events that newer producers added.
 *
 * `E` is the union of the events it reads (an app's generated `AnyEvent`).
 */
export interface Projection<E extends AppEvent = AppEvent> {
  /** Name of the projection; its consumer group is `<topic prefix>tributary-<name>.<key version>`. */
  readonly name: string;
  /** Base names of the topics it reads. */
  readonly topics: readonly string[];
  /** Adds the writes for `record` to `batch`; keys come from `keys` (the record's partition). */
  apply(record: AppliedRecord<E>, batch: WriteBatch, keys: PartitionKeys): void;
  /**
   * How the model is read: served at `GET /models/<name>/<reader>` and by
   * `tributary query <name> <reader>` (see lib/read-models/reader.ts).
   */
  readonly readers?: Readonly<Record<string, Reader<never>>>;

  // Optional hooks, for projections with state across batches (the analytics group). A projection
  // without them runs exactly as before. Per partition batch the runtime calls: `restore` (first
  // batch of the partition in an assignment, and after the fence found the batch applied by
  // someone else), `begin`, `apply` per record, `finish`, then fences the writes.

  /**
   * Makes the instance that one runtime runs, for a projection with in-memory state: called once
   * per runtime start, before anything else.
   */
  configure?(ctx: ProjectionSetup): Projection<E>;
  /** Loads the partition's state from Redis (what the last applied batch stored). */
  restore?(keys: PartitionKeys, redis: Redis): Promise<void>;
  /**
   * Redis was found behind this consumer (it lost writes): forget every in-memory state that came
   * from it, for all partitions. `restore` runs again before each partition's next batch.
   */
  reset?(): void;
  /** A new attempt at building a batch of this partition starts: drop what a failed one built. */
  begin?(keys: PartitionKeys): void;
  /**
   * Adds batch-level writes after the last `apply` (merged aggregates, state), and hands back
   * records to produce before the batch is fenced and a callback for when it was applied.
   */
  finish?(batch: WriteBatch, keys: PartitionKeys): BatchOutcome | undefined;
  /** Work the runtime runs every `intervalMs` while it consumes (e.g. emitting final windows). */
  readonly periodic?: PeriodicTask;
}

/** What {@link Projection.configure} is given. */
export interface ProjectionSetup {
  readonly catalog: EventCatalog;
  readonly config: TributaryConfig;
  readonly logger: Logger;
  readonly groupId: string;
  readonly version: string;
  readonly metrics?: ConsumerMetrics;
}

/** Records for one topic, produced by the runtime before it fences the batch. */
export interface SideOutput {
  readonly topic: string;
  readonly records: readonly OutgoingRecord[];
}

/** What {@link Projection.finish} hands back. */
export interface BatchOutcome {
  /**
   * Produced (acks=all, retried) before the batch is fenced, like dead letters: at least once. A
   * crash after they are produced and before the fence produces them again on the replay.
   */
  readonly sideOutputs?: readonly SideOutput[];
  /** Called once the fence applied the batch (not when it dropped it as applied before). */
  readonly onApplied?: () => void;
  /**
   * The floor the batch was built with: the fence refuses the batch if the floor moved on since
   * (see `SliceFloor`); the runtime then calls `onFloorRaised` with the floor Redis holds and
   * builds the batch again (its side outputs are produced again: at least once).
   */
  readonly floor?: SliceFloor;
  readonly onFloorRaised?: (floor: number) => void;
}

/** A task run every `intervalMs` (after the previous run finished) until the runtime stops. */
export interface PeriodicTask {
  readonly intervalMs: number;
  run(ctx: PeriodicContext): Promise<void>;
}

/** What a {@link PeriodicTask} may use: the runtime's own connections. */
export interface PeriodicContext {
  readonly config: TributaryConfig;
  readonly redis: Redis;
  readonly admin: Admin;
  /** The runtime's producer (the one dead letters and side outputs go through). */
  readonly producer: EngineProducer;
  readonly keys: ProjectionKeys;
  readonly version: string;
  readonly groupId: string;
  readonly logger: Logger;
  /** Aborted when the runtime stops. */
  readonly signal: AbortSignal;
  /** Resolves once every partition batch in hand now has been fenced (or given up). */
  drain(): Promise<void>;
}
