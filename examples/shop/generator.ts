/**
 * The shop's synthetic load generator: realistic, deterministic streams of its events. Users are
 * created before anything else of theirs happens; page popularity follows a Zipf law; visitors
 * browse in sessions; orders are placed, then paid or cancelled; a set fraction of page views
 * arrive out of order (a little behind the stream) or late (far behind it). The same seed gives
 * the same stream, byte for byte, so tests can compute oracles and the bench can repeat runs.
 */
import { createEvent, prng, zipfSampler, type GeneratorOptions as CommonOptions } from 'tributary';
import type { AnyEvent as TributaryEvent, EventType, OrderLineItem, UserPlan } from './generated/events.js';

export { prng, zipfSampler };

export interface GeneratorOptions extends CommonOptions {
  /** Distinct users. Default 1000. */
  readonly users?: number;
  /** Event time of the first event, epoch ms. Default 2026-01-01T00:00:00Z. */
  readonly startTime?: number;
  /** Event-time spacing of consecutive events, ms (1000 / rate). Default 1. */
  readonly intervalMs?: number;
  /** Distinct pages. Default 500. */
  readonly pages?: number;
  /** Zipf exponent of page popularity. Default 1.1. */
  readonly zipfExponent?: number;
  /** Fraction of page views whose event time is a little behind the stream. Default 0.05. */
  readonly outOfOrderFraction?: number;
  /** How far behind an out-of-order event may be, ms. Default 5 s. */
  readonly outOfOrderMaxMs?: number;
  /** Fraction of page views that arrive late, far behind the stream. Default 0.01. */
  readonly lateFraction?: number;
  /** How far behind a late event is, at least, ms. Default 10 min. */
  readonly lateByMs?: number;
}

/** How an event's event time relates to the stream around it. */
export type Timeliness = 'on-time' | 'out-of-order' | 'late';

export interface GeneratedEvent {
  readonly event: TributaryEvent;
  readonly timeliness: Timeliness;
}

/** A deterministic UUID-shaped id (v4 layout) drawn from the PRNG. */
function uuidFrom(random: () => number): string {
  const hex = (n: number) =>
    Math.floor(random() * 16 ** n)
      .toString(16)
      .padStart(n, '0');
  const variant = (8 + Math.floor(random() * 4)).toString(16);
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(12)}`;
}

const COUNTRIES = ['DE', 'FR', 'US', 'GB', 'NL', 'ES', 'IT', 'PL', 'SE', 'JP'] as const;
const PLANS: readonly UserPlan[] = ['FREE', 'FREE', 'FREE', 'PRO', 'PRO', 'ENTERPRISE'];
const CURRENCIES = ['EUR', 'EUR', 'USD', 'GBP'] as const;
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64)',
  'Mozilla/5.0 (Macintosh)',
  'Mozilla/5.0 (iPhone)',
] as const;
const SESSION_MS = 30 * 60 * 1000;

interface UserState {
  readonly id: string;
  created: boolean;
  deleted: boolean;
  session: string;
  sessionStarted: number;
  openOrders: { orderId: string; amount: number; currency: string }[];
}

/**
 * Yields `count` events (or forever when `count` is undefined) in emission order. Event time
 * advances by `intervalMs` per event; out-of-order and late page views carry an earlier time.
 */
export function* generateEvents(options: GeneratorOptions, count?: number): Generator<GeneratedEvent> {
  const random = prng(options.seed);
  const userCount = options.users ?? 1000;
  const start = options.startTime ?? Date.UTC(2026, 0, 1);
  const interval = options.intervalMs ?? 1;
  const page = zipfSampler(options.pages ?? 500, options.zipfExponent ?? 1.1, random);
  const outOfOrder = options.outOfOrderFraction ?? 0.05;
  const outOfOrderMax = options.outOfOrderMaxMs ?? 5_000;
  const late = options.lateFraction ?? 0.01;
  const lateBy = options.lateByMs ?? 10 * 60 * 1000;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

  const users: UserState[] = Array.from({ length: userCount }, (_, i) => ({
    id: `user-${options.seed}-${i}`,
    created: false,
    deleted: false,
    session: '',
    sessionStarted: -Infinity,
    openOrders: [],
  }));
  let orderSeq = 0;
  let now = start;

  const make = <K extends EventType>(type: K, data: object): TributaryEvent =>
    createEvent<K, object>(type, { ...data, eventId: uuidFrom(random), occurredAt: now }) as TributaryEvent;

  for (let n = 0; count === undefined || n < count; n++) {
    now = Math.round(start + n * interval);
    const user = users[Math.floor(random() * userCount)]!;
    if (user.deleted) {
      // A deleted account comes back as a new sign-up with the same id: tests see re-creation.
      user.deleted = false;
      user.created = false;
    }
    if (!user.created) {
      user.created = true;
      yield {
        timeliness: 'on-time',
        event: make('UserCreated', {
          userId: user.id,
          email: `${user.id}@example.com`,
          name: `User ${user.id.split('-').pop()}`,
          plan: pick(PLANS),
          country: pick(COUNTRIES),
        }),
      };
      continue;
    }
    const roll = random();
    if (roll < 0.72) {
      if (now - user.sessionStarted > SESSION_MS || random() < 0.02) {
        user.session = uuidFrom(random);
        user.sessionStarted = now;
      }
      const anonymous = random() < 0.1;
      const path = `/products/${page()}`;
      const t = random();
      const timeliness: Timeliness = t < late ? 'late' : t < late + outOfOrder ? 'out-of-order' : 'on-time';
      const shift =
        timeliness === 'late'
          ? lateBy + Math.floor(random() * lateBy)
          : timeliness === 'out-of-order'
            ? 1 + Math.floor(random() * outOfOrderMax)
            : 0;
      const event = make('PageViewed', {
        userId: anonymous ? null : user.id,
        sessionId: anonymous ? `anon-${uuidFrom(random)}` : user.session,
        url: `https://shop.example.com${path}`,
        path,
        referrer: random() < 0.3 ? 'https://search.example.com/' : null,
        userAgent: pick(AGENTS),
      });
      const data = { ...event.data, occurredAt: now - shift };
      yield { timeliness, event: { type: 'PageViewed', data } as TributaryEvent };
    } else if (roll < 0.86) {
      const currency = pick(CURRENCIES);
      const items: OrderLineItem[] = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
        sku: `sku-${page()}`,
        quantity: 1 + Math.floor(random() * 3),
        unitPrice: 199 + Math.floor(random() * 20_000),
      }));
      const totalAmount = items.reduce((sum, i) => sum + i.quantity * i.unitPrice, 0);
      const orderId = `order-${options.seed}-${orderSeq++}`;
      user.openOrders.push({ orderId, amount: totalAmount, currency });
      yield {
        timeliness: 'on-time',
        event: make('OrderPlaced', { orderId, userId: user.id, items, totalAmount, currency }),
      };
    } else if (roll < 0.95 && user.openOrders.length > 0) {
      const order = user.openOrders.shift()!;
      yield {
        timeliness: 'on-time',
        event: make('OrderPaid', {
          orderId: order.orderId,
          userId: user.id,
          amount: order.amount,
          currency: order.currency,
          paymentMethod: pick(['CARD', 'CARD', 'PAYPAL', 'BANK_TRANSFER'] as const),
          paymentId: `pay-${order.orderId}`,
        }),
      };
    } else if (roll < 0.965 && user.openOrders.length > 0) {
      const order = user.openOrders.shift()!;
      yield {
        timeliness: 'on-time',
        event: make('OrderCancelled', {
          orderId: order.orderId,
          userId: user.id,
          reason: pick(['CUSTOMER_REQUEST', 'OUT_OF_STOCK', 'PAYMENT_FAILED'] as const),
          refundAmount: 0,
          currency: order.currency,
        }),
      };
    } else if (roll < 0.995) {
      yield {
        timeliness: 'on-time',
        event: make('UserUpdated', {
          userId: user.id,
          email: null,
          name: null,
          plan: pick(PLANS),
          country: random() < 0.2 ? pick(COUNTRIES) : null,
        }),
      };
    } else {
      user.deleted = true;
      user.openOrders = [];
      yield {
        timeliness: 'on-time',
        event: make('UserDeleted', { userId: user.id, reason: 'USER_REQUEST' }),
      };
    }
  }
}
