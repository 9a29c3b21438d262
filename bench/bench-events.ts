/**
 * The events each scenario sends, sized to `--size` bytes (the Avro body in the Confluent wire
 * format) by padding one free-text string field: `PageViewed.userAgent` for produce and e2e,
 * `UserCreated.name` / `UserUpdated.name` for consume. Padding is random base64 text, so lz4
 * finds as little to squeeze as in the Java tool's random payloads.
 */
import { randomUUID } from 'node:crypto';
import type { EventGenerator } from '../producers/event-generator.js';
import { prng } from '../producers/random.js';
import type { EventCatalog } from '../schemas/catalog.js';
import type { AnyEvent as TributaryEvent, EventType } from '../examples/shop/generated/events.js';

/** The Confluent wire format's header: magic byte and schema id. */
const WIRE_HEADER_BYTES = 5;

/** A function that makes the next event, with `occurredAt` = the intended send time. */
export type EventFactory = (intendedMs: number) => TributaryEvent;

/** Bytes of `event` as the codec writes it (wire header + Avro body). */
export function encodedSize(catalog: EventCatalog, event: TributaryEvent): number {
  return WIRE_HEADER_BYTES + catalog.get(event.type).avroType.toBuffer(event.data).length;
}

/** `count` padding strings of `length` characters, drawn from a seeded PRNG. */
function paddings(length: number, count: number, seed: number): string[] {
  const random = prng(seed);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  return Array.from({ length: count }, () => {
    let s = '';
    for (let i = 0; i < length; i++) s += alphabet[Math.floor(random() * 64)];
    return s;
  });
}

/** How many characters to add to `field` so that `samples` encode to about `size` bytes on average. */
function padLength(
  catalog: EventCatalog,
  samples: readonly TributaryEvent[],
  field: string,
  size: number,
): number {
  let bare = 0;
  for (const sample of samples) {
    const data = sample.data as unknown as Record<string, unknown>;
    bare += encodedSize(catalog, {
      ...sample,
      data: { ...data, [field]: String(data[field] ?? '') },
    } as unknown as TributaryEvent);
  }
  // The string's length prefix grows by a byte past 63 characters (zig-zag varint).
  const extra = size - Math.round(bare / Math.max(1, samples.length));
  return Math.max(0, extra > 60 ? extra - 1 : extra);
}

/**
 * PageViewed events of about `size` bytes, keyed over `users` user ids: the produce scenario's
 * load. Cheap per call (a fresh UUID, a template copy), so the bench measures the publisher.
 */
export function pageViewFactory(catalog: EventCatalog, size: number, users = 10_000, seed = 1): EventFactory {
  const templates = Array.from({ length: 1024 }, (_, i) => ({
    userId: `user-${i % users}`,
    sessionId: `session-${i}`,
    url: `https://shop.example.com/products/${i % 500}`,
    path: `/products/${i % 500}`,
    referrer: i % 3 === 0 ? 'https://search.example.com/' : null,
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
  }));
  const samples: TributaryEvent[] = templates.map((t, i) => ({
    type: 'PageViewed',
    data: { ...t, userId: `user-${i % users}`, eventId: randomUUID(), occurredAt: Date.now() },
  }));
  const pad = paddings(padLength(catalog, samples, 'userAgent', size), 256, seed);
  // Built up front, as Java's ProducerPerformance pre-generates its payloads: per event only the
  // id and the time are new, so the bench measures the publisher rather than string building.
  const agents = pad.map((p) => `${templates[0]!.userAgent}${p}`);
  const userIds = Array.from({ length: users }, (_, u) => `user-${u}`);
  let n = 0;
  return (intendedMs) => {
    const i = n++;
    const t = templates[i & 1023]!;
    return {
      type: 'PageViewed',
      data: {
        eventId: randomUUID(),
        occurredAt: intendedMs,
        userId: userIds[i % users]!,
        sessionId: t.sessionId,
        url: t.url,
        path: t.path,
        referrer: t.referrer,
        userAgent: agents[i & 255]!,
      },
    };
  };
}

/**
 * The consume scenario's stream on `users`: each user is created first, then mostly updated,
 * now and then deleted (and created again later). Names are padded to reach about `size` bytes.
 */
export function userEventFactory(catalog: EventCatalog, size: number, users: number, seed = 7): EventFactory {
  const random = prng(seed);
  const state = new Uint8Array(users); // 0 = unknown, 1 = live
  const sample: TributaryEvent = {
    type: 'UserCreated',
    data: {
      eventId: randomUUID(),
      occurredAt: Date.now(),
      userId: `user-${users - 1}`,
      email: `user-${users - 1}@example.com`,
      name: 'User',
      plan: 'FREE',
      country: 'DE',
    },
  };
  const pad = paddings(padLength(catalog, [sample], 'name', size), 256, seed);
  const plans = ['FREE', 'PRO', 'ENTERPRISE'] as const;
  let n = 0;
  return (intendedMs) => {
    const i = n++;
    const u = Math.floor(random() * users);
    const userId = `user-${u}`;
    const name = `User ${u} ${pad[i & 255]!}`;
    const envelope = { eventId: randomUUID(), occurredAt: intendedMs, userId };
    if (state[u] === 0) {
      state[u] = 1;
      const email = `${userId}@example.com`;
      return { type: 'UserCreated', data: { ...envelope, email, name, plan: plans[u % 3]!, country: 'DE' } };
    }
    if (random() < 0.02) {
      state[u] = 0;
      return { type: 'UserDeleted', data: { ...envelope, reason: 'USER_REQUEST' } };
    }
    const plan = random() < 0.5 ? plans[Math.floor(random() * 3)]! : null;
    return { type: 'UserUpdated', data: { ...envelope, email: null, name, plan, country: null } };
  };
}

/**
 * The e2e scenario's stream: the synthetic generator (users before their events, Zipf pages,
 * sessions, orders placed then paid or cancelled), limited to `types` (those some running
 * consumer group reads), page views padded to about `size` bytes, event time = intended time.
 */
export function mixedEventFactory(
  catalog: EventCatalog,
  generator: EventGenerator,
  size: number,
  types: ReadonlySet<EventType>,
  seed = 42,
): EventFactory {
  const stream = generator({ seed, users: 10_000, outOfOrderFraction: 0, lateFraction: 0 });
  const views = pageViewFactory(catalog, 0);
  const samples = Array.from({ length: 256 }, () => views(Date.now()));
  const pad = paddings(padLength(catalog, samples, 'userAgent', size), 256, seed);
  let n = 0;
  return (intendedMs) => {
    for (;;) {
      const next = stream.next();
      if (next.done) throw new Error('the generator ended');
      const { event } = next.value;
      if (!types.has(event.type as EventType)) continue;
      const data = { ...event.data, occurredAt: intendedMs } as Record<string, unknown>;
      if (event.type === 'PageViewed') data.userAgent = `${String(data.userAgent)}${pad[n++ & 255]!}`;
      return { type: event.type, data } as unknown as TributaryEvent;
    }
  };
}
