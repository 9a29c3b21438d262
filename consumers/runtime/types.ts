/** What a projection (or the analytics group) gives the consumer runtime. */
import type { TopicName, TributaryEvent } from '../../schemas/catalog.js';
import type { PartitionKeys } from '../keys.js';
import type { WriteBatch } from '../offset-fence.js';

/** A decoded event with where it came from. */
export interface AppliedRecord {
  readonly event: TributaryEvent;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Broker timestamp of the record (epoch ms): arrival, not event time. */
  readonly timestamp: number;
}

/**
 * A read model built by one consumer group. `apply` turns one partition's batch of events into
 * Redis writes; it must be deterministic and do no I/O (the runtime applies the writes behind the
 * offset fence, in one round trip). Throw an `UnrecoverableError` for an event that can never be
 * applied (it goes to the dead-letter topic); any other error is retried with backoff.
 */
export interface Projection {
  /** Name of the projection; its consumer group is `<topic prefix>tributary-<name>.<key version>`. */
  readonly name: string;
  /** Base names of the topics it reads. */
  readonly topics: readonly TopicName[];
  /** Adds the writes for `record` to `batch`; keys come from `keys` (the record's partition). */
  apply(record: AppliedRecord, batch: WriteBatch, keys: PartitionKeys): void;
}
