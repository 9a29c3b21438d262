/**
 * The bridge for the old JSON topic. Teams mid-migration keep writing untyped JSON
 * (`{ "name": …, "email": … }`) to `user-created`; the bridge upcasts each record to a typed
 * `UserCreated` on `users`. Ids are deterministic: the user id from the e-mail address, the event
 * id from the source record's position, so a replay of the old topic never yields a new event.
 * Records that are not JSON or lack fields go to `user-created.dlq` with the reason.
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import { v5 as uuidv5 } from 'uuid';
import type { TributaryConfig } from '../lib/config.js';
import { deadLetterRecord } from '../lib/dead-letter.js';
import type { EngineProducer } from '../lib/engine.js';
import { createKafka } from '../lib/kafka.js';
import type { Logger } from '../lib/logger.js';
import type { EventCatalog } from '../schemas/catalog.js';
import type { EventOf, UserPlan } from '../examples/shop/generated/events.js';
import { findIssues } from '../schemas/validate.js';
import type { Publisher } from './publisher.js';

/** Namespace of the bridge's name-based (v5) UUIDs. Never change it: ids would change. */
export const BRIDGE_UUID_NAMESPACE = '0b6f5f0e-3c1a-5d7e-9a57-7c2b1e4f8a10';

/** Base name of the legacy topic (the configured prefix goes in front). */
export const LEGACY_USER_CREATED_TOPIC = 'user-created';

const PLANS: readonly UserPlan[] = ['UNKNOWN', 'FREE', 'PRO', 'ENTERPRISE'];
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export interface LegacySource {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Record timestamp, epoch ms: becomes the event time. */
  readonly timestamp: number;
}

export type UpcastResult =
  | { readonly ok: true; readonly event: EventOf<'UserCreated'> }
  | {
      readonly ok: false;
      readonly code: 'INVALID_JSON' | 'MISSING_FIELDS' | 'INVALID_FIELDS';
      readonly message: string;
    };

/** The user id the bridge gives an e-mail address (case-insensitive, stable forever). */
export function legacyUserId(email: string): string {
  return uuidv5(`email:${email.trim().toLowerCase()}`, BRIDGE_UUID_NAMESPACE);
}

/**
 * Pure: one legacy JSON record → a typed `UserCreated` (checked against the catalog's schema of
 * it), or the reason it cannot be one.
 */
export function upcastLegacyUserCreated(
  catalog: EventCatalog,
  value: Buffer | null,
  source: LegacySource,
): UpcastResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value?.toString('utf8') ?? '');
  } catch (err) {
    return { ok: false, code: 'INVALID_JSON', message: `not valid JSON: ${(err as Error).message}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, code: 'INVALID_JSON', message: 'expected a JSON object' };
  }
  const o = parsed as Record<string, unknown>;
  const missing = ['name', 'email'].filter((f) => typeof o[f] !== 'string' || (o[f] as string).trim() === '');
  if (missing.length > 0) {
    return {
      ok: false,
      code: 'MISSING_FIELDS',
      message: `missing or empty string field(s): ${missing.join(', ')}`,
    };
  }
  const email = (o.email as string).trim();
  if (!EMAIL.test(email))
    return { ok: false, code: 'INVALID_FIELDS', message: 'email: not an e-mail address' };
  const plan = typeof o.plan === 'string' && PLANS.includes(o.plan.toUpperCase() as UserPlan);
  const country = typeof o.country === 'string' && /^[A-Za-z]{2}$/.test(o.country);
  const data = {
    eventId: uuidv5(`${source.topic}/${source.partition}/${source.offset}`, BRIDGE_UUID_NAMESPACE),
    occurredAt: source.timestamp,
    userId: legacyUserId(email),
    email,
    name: (o.name as string).trim(),
    plan: plan ? ((o.plan as string).toUpperCase() as UserPlan) : 'UNKNOWN',
    // ISO 3166 user-assigned "unknown" code: the old events never carried a country.
    country: country ? (o.country as string).toUpperCase() : 'ZZ',
  };
  const issues = findIssues(catalog.get('UserCreated').avroType, data);
  if (issues.length > 0) return { ok: false, code: 'INVALID_FIELDS', message: issues.join('; ') };
  return { ok: true, event: { type: 'UserCreated', data } };
}

export interface BridgeOptions {
  /** The app's events (the shop's, with `UserCreated`). */
  readonly catalog: EventCatalog;
  readonly config: TributaryConfig;
  readonly logger: Logger;
  readonly publisher: Publisher;
  /** Producer for dead letters (raw bytes). */
  readonly deadLetters: EngineProducer;
  /** Consumer group; default `<prefix>tributary-bridge-user-created`. */
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

/** Starts the bridge consumer. Resolves once it has joined its group and is fetching. */
export async function startLegacyBridge(options: BridgeOptions): Promise<RunningBridge> {
  const { config, publisher, deadLetters } = options;
  const prefix = config.topics.prefix;
  const source = `${prefix}${LEGACY_USER_CREATED_TOPIC}`;
  const dlq = `${source}.dlq`;
  const groupId = options.groupId ?? `${prefix}tributary-bridge-user-created`;
  const log = options.logger.child({ component: 'legacy-bridge', source, groupId });
  const stats: BridgeStats = { upcast: 0, deadLettered: 0 };
  const consumer: Consumer = createKafka(config, log, { clientId: groupId }).consumer({ groupId });

  const eachBatch = async ({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
  }: EachBatchPayload) => {
    const events: EventOf<'UserCreated'>[] = [];
    const dead = [];
    for (const m of batch.messages) {
      const where = {
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        timestamp: Number(m.timestamp),
      };
      const result = upcastLegacyUserCreated(options.catalog, m.value, where);
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
