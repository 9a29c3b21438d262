/**
 * Bridges: an app's upcasters of untyped records. Teams mid-migration keep writing old records
 * (JSON, say) to a topic of their own; a bridge, declared in the app (`defineApp({ bridges })`),
 * turns each into a typed event and publishes it through the publisher, so it is validated,
 * encoded and keyed like any other. The runner here consumes the source topic as its own group
 * (`<prefix>tributary-bridge-<name>`), dead-letters what the upcaster refuses or what is not a
 * valid event to `<source>.dlq` with the reason, and commits a batch only once its events and dead
 * letters are acknowledged: a crash replays the batch, so an upcaster must give a replayed record
 * the same event (ids derived from the source record's position, not random).
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { TributaryConfig } from '../lib/config.js';
import { deadLetterRecord } from '../lib/dead-letter.js';
import type { EngineProducer } from '../lib/engine.js';
import { createKafka } from '../lib/kafka.js';
import type { Logger } from '../lib/logger.js';
import { isUnrecoverable } from '../lib/errors.js';
import type { AppEvent, EventCatalog } from '../schemas/catalog.js';
import { validateEvent, validateEventTime, type EventClock } from '../schemas/validate.js';
import type { Publisher } from './publisher.js';
import { bridgeGroupId, dlqTopic } from '../lib/names.js';

/** Where a source record came from. */
export interface BridgeSource {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Record timestamp, epoch ms. */
  readonly timestamp: number;
}

/** An upcaster's answer: the event, or why the record cannot be one (it is dead-lettered). */
export type UpcastResult =
  | { readonly ok: true; readonly event: AppEvent<string, object> }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** A bridge as an app declares it. */
export interface BridgeDefinition {
  /** Names its consumer group: `<prefix>tributary-bridge-<name>`. */
  readonly name: string;
  /** The source topic's base name: declared in the app's topics, without events. */
  readonly from: string;
  /** Pure and deterministic: the same record gives the same event (a replay must not add one). */
  upcast(value: Buffer | null, source: BridgeSource): UpcastResult;
}

/** Declares a bridge. Identity. */
export function defineBridge(bridge: BridgeDefinition): BridgeDefinition {
  return Object.freeze(bridge);
}

export interface BridgeOptions {
  readonly bridge: BridgeDefinition;
  /** The app's events: what the upcast events are checked against. */
  readonly catalog: EventCatalog;
  readonly config: TributaryConfig;
  readonly logger: Logger;
  readonly publisher: Publisher;
  /** Producer for dead letters (raw bytes). */
  readonly deadLetters: EngineProducer;
  /** Consumer group; default `<prefix>tributary-bridge-<name>`. */
  readonly groupId?: string;
}

export interface BridgeStats {
  upcast: number;
  deadLettered: number;
}

/** A running bridge; `stop()` finishes the batch in hand, commits and leaves the group. */
export interface RunningBridge {
  readonly stats: Readonly<BridgeStats>;
  stop(): Promise<void>;
}

/**
 * The upcaster's answer for one record, checked against the catalog: an event the publisher
 * would refuse is dead-lettered here (`INVALID_FIELDS`), so it cannot fail the whole batch.
 */
export function upcastChecked(
  bridge: BridgeDefinition,
  catalog: EventCatalog,
  value: Buffer | null,
  source: BridgeSource,
  clock: EventClock = { now: Date.now(), maxClockSkewMs: Infinity },
): UpcastResult {
  let result: UpcastResult;
  try {
    result = bridge.upcast(value, source);
  } catch (err) {
    return { ok: false, code: 'UPCAST_FAILED', message: `the upcaster threw: ${(err as Error).message}` };
  }
  // An upcaster's answer is checked like input: whatever it returns, the batch goes on.
  const answer = result as Partial<{ ok: unknown; code: unknown; message: unknown; event: unknown }> | null;
  if (answer === null || typeof answer !== 'object' || typeof answer.ok !== 'boolean') {
    return {
      ok: false,
      code: 'UPCAST_FAILED',
      message: 'the upcaster returned neither { ok: true, event } nor { ok: false, code, message }',
    };
  }
  if (!result.ok) {
    return {
      ok: false,
      code: typeof answer.code === 'string' && answer.code !== '' ? answer.code : 'UPCAST_REFUSED',
      message: typeof answer.message === 'string' ? answer.message : 'refused by the upcaster',
    };
  }
  try {
    validateEvent(catalog, result.event);
    // The publisher refuses an event time too far ahead; refused here, it is one dead letter.
    validateEventTime(result.event, clock);
    catalog.eventKey(result.event);
  } catch (err) {
    if (!isUnrecoverable(err)) throw err;
    return { ok: false, code: 'INVALID_FIELDS', message: err.message };
  }
  return result;
}

/** Starts the bridge consumer. Resolves once it has joined its group and is fetching. */
export async function startBridge(options: BridgeOptions): Promise<RunningBridge> {
  const { bridge, catalog, config, publisher, deadLetters } = options;
  const prefix = config.topics.prefix;
  const source = `${prefix}${bridge.from}`;
  const dlq = dlqTopic(source);
  const groupId = options.groupId ?? bridgeGroupId(prefix, bridge.name);
  const log = options.logger.child({ component: 'bridge', bridge: bridge.name, source, groupId });
  const stats: BridgeStats = { upcast: 0, deadLettered: 0 };
  const consumer: Consumer = createKafka(config, log, { clientId: groupId }).consumer({ groupId });

  const eachBatch = async ({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
  }: EachBatchPayload) => {
    const clock = { now: Date.now(), maxClockSkewMs: config.events.maxClockSkewMs };
    const events: AppEvent<string, object>[] = [];
    const dead = [];
    for (const m of batch.messages) {
      const where = {
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        timestamp: Number(m.timestamp),
      };
      const result = upcastChecked(bridge, catalog, m.value, where, clock);
      if (result.ok) events.push(result.event);
      else {
        dead.push(
          deadLetterRecord(
            {
              ...where,
              key: m.key,
              value: m.value,
              headers: m.headers as Record<string, Buffer | undefined>,
            },
            { code: result.code, message: result.message, consumer: groupId },
          ),
        );
      }
    }
    // Both must be acknowledged before the offsets move: a crash here replays the batch, and the
    // deterministic ids make the replay harmless.
    await Promise.all([
      publisher.publishBatch(events),
      dead.length > 0 ? deadLetters.send(dlq, dead) : undefined,
    ]);
    stats.upcast += events.length;
    stats.deadLettered += dead.length;
    if (dead.length > 0)
      log.warn({ count: dead.length, partition: batch.partition }, 'records dead-lettered');
    const last = batch.messages.at(-1);
    if (last) resolveOffset(last.offset);
    await commitOffsetsIfNecessary();
    await heartbeat();
  };

  await consumer.connect();
  await consumer.subscribe({ topic: source, fromBeginning: true });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({ eachBatchAutoResolve: false, eachBatch });
  await joined;
  log.info('bridge running');
  return {
    stats,
    stop: async () => {
      await consumer.disconnect();
      log.info(stats, 'bridge stopped');
    },
  };
}
