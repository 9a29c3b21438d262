/**
 * A seeded stream of `users` events for the fault tests, and a fast way to publish it. Unlike the
 * load generator (≈17% user events), every event is a user event, and the mix exercises every
 * rule of the users projection: first and repeated creates, updates of some fields, updates and
 * deletes of unknown users, deletes followed by a new sign-up with the same id.
 */
import { eventKey, type EventOf, type TributaryEvent } from './shop.js';
import type { UserPlan } from '../../examples/shop/generated/events.js';
import { prng } from '../../examples/shop/generator.js';
import type { Publisher } from '../../producers/publisher.js';

export interface UserStreamOptions {
  readonly seed: number;
  /** Distinct user ids. Default: a tenth of the events. */
  readonly users?: number;
  /** Event time of the first event, epoch ms. Default 2026-01-01T00:00:00Z. */
  readonly startTime?: number;
}

const PLANS: readonly UserPlan[] = ['FREE', 'FREE', 'PRO', 'ENTERPRISE'];
const COUNTRIES = ['DE', 'FR', 'US', 'GB', 'NL', 'JP'] as const;

/** `count` user events, the same ones for the same seed. */
export function userEventStream(options: UserStreamOptions, count: number): TributaryEvent[] {
  const random = prng(options.seed);
  const userCount = options.users ?? Math.max(1, Math.floor(count / 10));
  const start = options.startTime ?? Date.UTC(2026, 0, 1);
  const created = new Uint8Array(userCount);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const hex = () =>
    Math.floor(random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  const uuid = () => {
    const h = hex() + hex() + hex() + hex();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  const events: TributaryEvent[] = new Array(count);
  for (let n = 0; n < count; n++) {
    const i = Math.floor(random() * userCount);
    const userId = `u${options.seed}-${i}`;
    const occurredAt = start + n;
    const eventId = uuid();
    const roll = random();
    if (!created[i] ? roll < 0.9 : roll < 0.08) {
      // A sign-up; rarely a repeated one, which overwrites the profile and keeps createdAt.
      created[i] = 1;
      events[n] = {
        type: 'UserCreated',
        data: {
          eventId,
          occurredAt,
          userId,
          email: `${userId}.${n}@example.com`,
          name: `User ${i}/${n}`,
          plan: pick(PLANS),
          country: pick(COUNTRIES),
        },
      } satisfies EventOf<'UserCreated'>;
    } else if (!created[i] ? roll < 0.95 : roll < 0.9) {
      // Some fields change; an update of an unknown user is ignored by the model.
      events[n] = {
        type: 'UserUpdated',
        data: {
          eventId,
          occurredAt,
          userId,
          email: random() < 0.3 ? `${userId}.${n}@example.org` : null,
          name: random() < 0.3 ? `Renamed ${i}/${n}` : null,
          plan: random() < 0.5 ? pick(PLANS) : null,
          country: random() < 0.2 ? pick(COUNTRIES) : null,
        },
      } satisfies EventOf<'UserUpdated'>;
    } else {
      created[i] = 0;
      events[n] = {
        type: 'UserDeleted',
        data: { eventId, occurredAt, userId, reason: 'USER_REQUEST' },
      } satisfies EventOf<'UserDeleted'>;
    }
  }
  return events;
}

/**
 * Publishes `events` fast and in order per user: events are split into `lanes` by user id, each
 * lane publishes its chunks of `chunk` events one after the other, and the lanes run concurrently.
 * (Concurrent chunks of one user could otherwise be reordered by the producer's retries.)
 */
export async function publishAll(
  publisher: Publisher,
  events: readonly TributaryEvent[],
  options: { chunk?: number; lanes?: number } = {},
): Promise<void> {
  const chunk = options.chunk ?? 5_000;
  const lanes = options.lanes ?? 8;
  const byLane: TributaryEvent[][] = Array.from({ length: lanes }, () => []);
  for (const e of events) byLane[laneOf(eventKey(e), lanes)]!.push(e);
  await Promise.all(
    byLane.map(async (list) => {
      for (let i = 0; i < list.length; i += chunk) await publisher.publishBatch(list.slice(i, i + chunk));
    }),
  );
}

function laneOf(key: string, lanes: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return (h >>> 0) % lanes;
}
