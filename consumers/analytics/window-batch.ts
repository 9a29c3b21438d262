/**
 * What one partition batch adds to the analytics windows, merged in memory first: a batch of
 * 500 page views of one minute becomes one HINCRBY per event type, one PFADD and one ZINCRBY per
 * page for each window it touches, instead of a write per event and window. The writes go into
 * the batch's fenced script with a PEXPIRE per touched key (retention counts from the last update).
 */
import { ErrorCodes, UnrecoverableError } from '../../lib/errors.js';
import type { OutgoingRecord } from '../../lib/engine.js';
import { analyticsKeys, type PartitionKeys } from '../../lib/redis-keys.js';
import type { AnyEvent as TributaryEvent, EventType } from '../../examples/shop/generated/events.js';
import type { SumSource, WriteBatch } from '../offset-fence.js';
import type { TimeWindow, WindowKind } from './windows.js';

/** What one event contributes to each of its windows. */
export interface EventFacts {
  readonly type: EventType;
  /** Who acted: the user id, or `session:<sessionId>` for an anonymous page view. */
  readonly visitor: string;
  /** The page path of a page view. */
  readonly page?: string;
  /** The amount captured by an `OrderPaid`, in minor units of `currency`. */
  readonly revenue?: { readonly currency: string; readonly amount: number };
}

const CURRENCY = /^[A-Z]{3}$/;

/**
 * The facts of `event`. Unique users count user ids; an anonymous page view has none, so its
 * session counts as one visitor (prefixed `session:`, so it never collides with a user id).
 *
 * @throws {@link UnrecoverableError} `TRIBUTARY_EVENT_INVALID` for an event time that is not an
 *   integer, or an `OrderPaid` whose amount or currency cannot be summed (the record is then
 *   dead-lettered, not guessed at).
 */
export function factsOf(event: TributaryEvent): EventFacts {
  const t = event.data.occurredAt;
  if (!Number.isSafeInteger(t)) {
    throw new UnrecoverableError(
      ErrorCodes.EVENT_INVALID,
      `${event.type} data.occurredAt: not an integer (${t})`,
    );
  }
  switch (event.type) {
    case 'PageViewed': {
      const d = event.data;
      return { type: event.type, visitor: d.userId ?? `session:${d.sessionId}`, page: d.path };
    }
    case 'OrderPaid': {
      const d = event.data;
      if (!CURRENCY.test(d.currency) || !Number.isSafeInteger(d.amount) || d.amount < 0) {
        throw new UnrecoverableError(
          ErrorCodes.EVENT_INVALID,
          `OrderPaid revenue cannot be summed: amount ${d.amount} ${JSON.stringify(d.currency.slice(0, 16))}`,
        );
      }
      return { type: event.type, visitor: d.userId, revenue: { currency: d.currency, amount: d.amount } };
    }
    default:
      return { type: event.type, visitor: event.data.userId };
  }
}

/** A bounded sum of one window in a batch: what to add, and the records that add it. */
interface BoundedSum {
  amount: number;
  readonly sources: SumSource[];
}

/** One window's share of a batch. */
interface WindowDelta {
  readonly window: TimeWindow;
  /** `event:<Type>` → count to add. */
  readonly sums: Map<string, number>;
  /** `revenue:<CUR>` → amount to add (a bounded sum: see `WriteBatch.sum`). */
  readonly revenue: Map<string, BoundedSum>;
  readonly visitors: Set<string>;
  readonly pages: Map<string, number>;
}

/** Members per PFADD: keeps each command's argument list short inside the script. */
const PFADD_CHUNK = 200;

/** A partition batch's contribution to its windows, late events and per-type counts. */
export class WindowBatch {
  private readonly windows = new Map<string, WindowDelta>();
  /** Events refused by at least one window of the kind. */
  readonly lateByKind = new Map<WindowKind, number>();
  readonly lateRecords: OutgoingRecord[] = [];
  /** Events seen, late ones included, by type. */
  readonly eventsByType = new Map<string, number>();
  /** Offset of the last record applied. */
  lastOffset = '';

  /** Adds one event's facts to `window`; `offset` is the record's (it is a source of its revenue). */
  add(window: TimeWindow, facts: EventFacts, offset: string): void {
    let d = this.windows.get(window.id);
    if (!d) {
      d = { window, sums: new Map(), revenue: new Map(), visitors: new Set(), pages: new Map() };
      this.windows.set(window.id, d);
    }
    increment(d.sums, `event:${facts.type}`, 1);
    if (facts.revenue) {
      const field = `revenue:${facts.revenue.currency}`;
      const sum = d.revenue.get(field);
      if (sum) {
        sum.amount += facts.revenue.amount;
        sum.sources.push({ offset, amount: facts.revenue.amount });
      } else {
        const amount = facts.revenue.amount;
        d.revenue.set(field, { amount, sources: [{ offset, amount }] });
      }
    }
    d.visitors.add(facts.visitor);
    if (facts.page !== undefined) increment(d.pages, facts.page, 1);
  }

  /** Counts one event, by type. */
  seen(type: string): void {
    increment(this.eventsByType, type, 1);
  }

  /** Records an event refused by `windows` (at least one), to be produced as `record`. */
  late(windows: readonly TimeWindow[], record: OutgoingRecord): void {
    for (const kind of new Set(windows.map((w) => w.kind))) increment(this.lateByKind, kind, 1);
    this.lateRecords.push(record);
  }

  /** Ids of the windows this batch adds to. */
  windowIds(): string[] {
    return [...this.windows.keys()];
  }

  /** Total events seen. */
  get events(): number {
    let n = 0;
    for (const c of this.eventsByType.values()) n += c;
    return n;
  }

  /** Total late events (each counted once, whatever the kinds that refused it). */
  get lateEvents(): number {
    return this.lateRecords.length;
  }

  /**
   * Adds the window writes to `writes`: counters, HyperLogLog, pages, the expiry of each touched
   * key, and the window in the partition's index of windows with data (for the finalizer).
   */
  writeTo(writes: WriteBatch, keys: PartitionKeys, retentionMs: number): void {
    for (const { window, sums, revenue, visitors, pages } of this.windows.values()) {
      const sumsKey = analyticsKeys.sums(keys, window.id);
      for (const [field, n] of sums) writes.command('HINCRBY', sumsKey, field, n);
      for (const [field, { amount, sources }] of revenue) writes.sum(sumsKey, field, amount, sources);
      writes.command('PEXPIRE', sumsKey, retentionMs);
      const visitorsKey = analyticsKeys.visitors(keys, window.id);
      const members = [...visitors];
      for (let i = 0; i < members.length; i += PFADD_CHUNK) {
        writes.command('PFADD', visitorsKey, ...members.slice(i, i + PFADD_CHUNK));
      }
      writes.command('PEXPIRE', visitorsKey, retentionMs);
      if (pages.size > 0) {
        const pagesKey = analyticsKeys.pages(keys, window.id);
        for (const [path, n] of pages) writes.command('ZINCRBY', pagesKey, n, path);
        writes.command('PEXPIRE', pagesKey, retentionMs);
      }
      writes.command('ZADD', analyticsKeys.windows(keys), window.end, window.id);
    }
    for (const [kind, n] of this.lateByKind) writes.command('HINCRBY', analyticsKeys.late(keys), kind, n);
  }
}

function increment(map: Map<string, number>, key: string, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}
