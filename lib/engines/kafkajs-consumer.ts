/**
 * The kafkajs engine's consumer. kafkajs has no rebalance callbacks: it reports a new
 * assignment with the `GROUP_JOIN` event and the start of a rebalance with `REBALANCING`, and
 * awaits neither listener. So every batch waits for the latest assignment's `onAssigned`
 * (a gate), and a batch fetched before `onAssigned` sought its partition is dropped: kafkajs
 * reports it stale (`isStale()`, a seek is pending) and fetches again from the sought offset.
 *
 * Offsets: `eachBatchAutoResolve` is off; a finished batch resolves its last offset and
 * kafkajs's runner commits after every batch (autoCommit), before it rejoins on a rebalance,
 * and when a seek is applied (it commits the sought offset).
 */
import type { Consumer, ConsumerConfig, EachBatchPayload } from 'kafkajs';
import type { TributaryConfig } from '../config.js';
import type { EngineConsumerOptions, TopicPartition } from '../engine.js';
import { createKafka } from '../kafka.js';
import type { Logger } from '../logger.js';
import { ConsumerBase, type PartitionOffset } from './consumer-base.js';
import { fetchBudgetBytes } from './consumer-options.js';
import { registerKafkajsCodecs } from './kafkajs-codecs.js';

/**
 * A member sees a few REBALANCE_IN_PROGRESS answers on every rebalance, which kafkajs logs as
 * errors: those are how it learns to rejoin.
 */
const rebalancing = (_message: string, error: unknown): boolean =>
  typeof error === 'string' && /rebalanc/i.test(error);

/** `{ topic: [partitions] }` (kafkajs's shape) from a flat list, and back. */
function byTopic(partitions: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const topics = new Map<string, number[]>();
  for (const { topic, partition } of partitions) topics.set(topic, [...(topics.get(topic) ?? []), partition]);
  return [...topics].map(([topic, ps]) => ({ topic, partitions: ps }));
}

function flatten(assignment: Record<string, number[]>): TopicPartition[] {
  return Object.entries(assignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
}

/**
 * An {@link EngineConsumer} over kafkajs. Caveat of the engine: kafkajs rejoins the group without
 * waiting for `onRevoked` (it is called when the rebalance starts, after the batches in hand
 * finished), so another member may get the partitions while it still runs; the next
 * `onAssigned` here does wait for it. On `disconnect()` it is awaited before leaving.
 */
export class KafkajsConsumer extends ConsumerBase {
  readonly engine = 'kafkajs' as const;
  readonly #consumer: Consumer;
  /** Settles when the latest assignment's `onAssigned` has run. */
  #gate: Promise<void> = Promise.resolve();
  readonly #listeners: (() => void)[] = [];

  constructor(config: TributaryConfig, logger: Logger, options: EngineConsumerOptions) {
    super('kafkajs', logger, options);
    registerKafkajsCodecs();
    const o = this.options;
    const clientId = [config.kafka.clientId, o.clientId].filter(Boolean).join('-');
    const consumerConfig: ConsumerConfig = {
      groupId: o.groupId,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: Math.min(3_000, Math.floor(o.sessionTimeoutMs / 3)),
      maxBytesPerPartition: o.maxBytesPerPartition,
      // kafkajs decodes a whole fetch response before handing out its batches: cap it.
      maxBytes: Math.max(o.maxBytesPerPartition, fetchBudgetBytes),
      allowAutoTopicCreation: false,
    };
    const kafka = createKafka(config, this.log, {
      clientId,
      expectedLogs: rebalancing,
    });
    this.#consumer = kafka.consumer(consumerConfig);
  }

  async connect(): Promise<void> {
    await this.#consumer.connect();
    this.state = 'connected';
  }

  async subscribe(topics: readonly string[]): Promise<void> {
    await this.#consumer.subscribe({ topics: [...topics], fromBeginning: true });
  }

  protected async engineStart(concurrency: number): Promise<void> {
    const { GROUP_JOIN, REBALANCING, CRASH } = this.#consumer.events;
    this.#listeners.push(
      this.#consumer.on(GROUP_JOIN, (e) => {
        // Eager: whatever was owned is gone (a rejoin after a crash or stale metadata comes
        // without REBALANCING). Set synchronously, before kafkajs fetches for the new generation.
        void this.revoke(this.assignment());
        this.#gate = this.assign(flatten(e.payload.memberAssignment));
      }),
      // Emitted after the fetchers stopped, i.e. the batches in hand finished and were committed.
      this.#consumer.on(REBALANCING, () => void this.revoke(this.assignment())),
      this.#consumer.on(CRASH, (e) => {
        const { error, restart } = e.payload;
        this.log[restart ? 'warn' : 'error']({ err: error, restart }, 'kafkajs consumer crashed');
        if (!restart) this.crashed = true;
      }),
    );
    await this.#consumer.run({
      eachBatchAutoResolve: false,
      autoCommit: true,
      autoCommitInterval: this.options.commitIntervalMs,
      partitionsConsumedConcurrently: concurrency,
      eachBatch: (payload) => this.#onBatch(payload),
    });
  }

  async #onBatch(payload: EachBatchPayload): Promise<void> {
    // Wait for the assignment this batch belongs to; a newer one may replace the gate meanwhile.
    for (let gate = this.#gate; ; gate = this.#gate) {
      await gate;
      if (gate === this.#gate) break;
    }
    await this.processBatch(payload);
  }

  protected engineSeek(topic: string, partition: number, offset: string): void {
    this.#consumer.seek({ topic, partition, offset });
  }

  protected async engineCommit(offsets: readonly PartitionOffset[]): Promise<void> {
    await this.#consumer.commitOffsets(
      offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
    );
  }

  protected enginePause(partitions: readonly TopicPartition[]): void {
    if (partitions.length > 0) this.#consumer.pause(byTopic(partitions));
  }

  protected async engineStop(): Promise<void> {
    for (const remove of this.#listeners.splice(0)) remove();
    await this.#consumer.disconnect();
  }
}
