/**
 * The shop's bridge for its old JSON topic. Teams mid-migration keep writing untyped JSON
 * (`{ "name": …, "email": … }`) to `user-created`; the bridge upcasts each record to a typed
 * `UserCreated` on `users`. Ids are deterministic: the user id from the e-mail address, the event
 * id from the source record's position, so a replay of the old topic never yields a new event.
 * Records that are not JSON or lack fields go to `user-created.dlq` with the reason.
 */
import { defineBridge, type BridgeSource } from 'tributary';
import { v5 as uuidv5 } from 'uuid';
import type { EventOf, UserPlan } from './generated/events.js';

/** Namespace of the bridge's name-based (v5) UUIDs. Never change it: ids would change. */
export const BRIDGE_UUID_NAMESPACE = '0b6f5f0e-3c1a-5d7e-9a57-7c2b1e4f8a10';

/** Base name of the legacy topic (the configured prefix goes in front). */
export const LEGACY_USER_CREATED_TOPIC = 'user-created';

const PLANS: readonly UserPlan[] = ['UNKNOWN', 'FREE', 'PRO', 'ENTERPRISE'];
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** The upcaster's answer for one old record. */
export type LegacyUpcast =
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
 * Pure: one legacy JSON record → a typed `UserCreated`, or the reason it cannot be one (the
 * bridge runner also checks the event against the schema, and dead-letters what fails).
 */
export function upcastLegacyUserCreated(value: Buffer | null, source: BridgeSource): LegacyUpcast {
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
  return { ok: true, event: { type: 'UserCreated', data } };
}

/** The bridge as the shop declares it. */
export const legacyUserBridge = defineBridge({
  name: 'user-created',
  from: LEGACY_USER_CREATED_TOPIC,
  upcast: upcastLegacyUserCreated,
});
