import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createAnalyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import { WriteBatch } from '../../consumers/offset-fence.js';
import type { AppliedRecord, Projection } from '../../consumers/runtime/types.js';
import { loadConfig } from '../../lib/config.js';
import { ErrorCodes, hasCode } from '../../lib/errors.js';
import { ProjectionKeys } from '../../lib/redis-keys.js';
import { WindowResultCodec, windowResultSchema, type WindowResult } from '../../schemas/analytics-window.js';
import { parseSchema } from '../../schemas/avro-schema.js';
import { createEvent, type TributaryEvent } from '../helpers/shop.js';
import { shopCatalog } from '../helpers/shop.js';

const T0 = Date.UTC(2026, 0, 1);
const env = {
  TRIBUTARY_TOPIC_PREFIX: 't.',
  TRIBUTARY_ANALYTICS_TUMBLING_MS: '1000',
  TRIBUTARY_ANALYTICS_HOPPING_SIZE_MS: '5000',
  TRIBUTARY_ANALYTICS_HOPPING_ADVANCE_MS: '1000',
  TRIBUTARY_ANALYTICS_ALLOWED_LATENESS_MS: '500',
  TRIBUTARY_ANALYTICS_GRACE_MS: '500',
  TRIBUTARY_ANALYTICS_RETENTION_MS: '3600000',
};
const keys = new ProjectionKeys('p:', 'analytics').partition('v1', 't.page-views', 0);

function projection(): Projection {
  return createAnalyticsProjection({
    catalog: shopCatalog,
    config: loadConfig(env),
    logger: pino({ enabled: false }),
    groupId: 'g',
    version: 'v1',
  });
}

let offset = 0;
function record(event: TributaryEvent): AppliedRecord {
  return {
    event,
    topic: keys.topic,
    partition: 0,
    offset: String(offset++),
    timestamp: 0,
    key: Buffer.from('k'),
    value: Buffer.from(`value-${offset}`),
    headers: { 'event-type': event.type },
  };
}

const view = (at: number, userId: string | null, path = '/a') =>
  createEvent(
    'PageViewed',
    { userId, sessionId: 's1', url: `https://x${path}`, path, referrer: null, userAgent: null },
    T0 + at,
  ) as TributaryEvent;
const paid = (at: number, amount: number, currency = 'EUR') =>
  createEvent(
    'OrderPaid',
    { orderId: 'o1', userId: 'u2', amount, currency, paymentMethod: 'CARD', paymentId: 'p1' },
    T0 + at,
  ) as TributaryEvent;

/** The batch's operations as word lists; bounded sums (applied first by the fence) as HINCRBY. */
function ops(batch: WriteBatch): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < batch.sums.length; i += 4) {
    if (batch.sums[i + 3] === '1') out.push(['HINCRBY', ...batch.sums.slice(i, i + 3)]);
  }
  for (let i = 0; i < batch.words.length;) {
    const n = Number(batch.words[i]);
    out.push(batch.words.slice(i + 1, i + 1 + n));
    i += 1 + n;
  }
  return out;
}

/** Runs one batch of `events` through the hooks, as the runtime does. */
function runBatch(p: Projection, events: TributaryEvent[]) {
  const batch = new WriteBatch();
  p.begin!(keys);
  for (const e of events) p.apply(record(e), batch, keys);
  const outcome = p.finish!(batch, keys)!;
  return { batch, outcome, ops: ops(batch) };
}

const id = (kind: string, size: number, start: number) =>
  `${kind}:${size}:${kind === 'tumbling' ? size : 1000}:${T0 + start}`;

describe('analytics projection', () => {
  it('merges a batch into one write per window and field, with expiry, index, state and an update', () => {
    const p = projection();
    const { ops: written, outcome } = runBatch(p, [
      view(200, 'u1'),
      view(300, null, '/b'),
      view(400, 'u1'),
      paid(450, 500),
      paid(460, 250),
    ]);
    const sums = keys.key('sums', id('tumbling', 1000, 0));
    expect(written).toContainEqual(['HINCRBY', sums, 'event:PageViewed', '3']);
    expect(written).toContainEqual(['HINCRBY', sums, 'event:OrderPaid', '2']);
    expect(written).toContainEqual(['HINCRBY', sums, 'revenue:EUR', '750']);
    expect(written).toContainEqual(['PEXPIRE', sums, '3600000']);
    expect(written).toContainEqual([
      'PFADD',
      keys.key('visitors', id('tumbling', 1000, 0)),
      'u1',
      'session:s1',
      'u2',
    ]);
    expect(written).toContainEqual(['ZINCRBY', keys.key('pages', id('tumbling', 1000, 0)), '2', '/a']);
    expect(written).toContainEqual(['ZADD', keys.key('windows'), String(T0 + 1000), id('tumbling', 1000, 0)]);
    // One tumbling and five hopping windows, each written once.
    expect(written.filter((o) => o[0] === 'ZADD')).toHaveLength(6);
    expect(written.filter((o) => o[0] === 'HINCRBY' && o[2] === 'event:PageViewed')).toHaveLength(6);
    expect(written).toContainEqual(['HSET', keys.key('state'), 'maxEventTime', String(T0 + 460)]);
    const publish = written.find((o) => o[0] === 'PUBLISH')!;
    expect(publish[1]).toBe('p:analytics:updates');
    expect(JSON.parse(publish[2]!)).toMatchObject({
      type: 'batch',
      topic: 't.page-views',
      partition: 0,
      events: 5,
      late: 0,
      watermark: T0 - 40,
    });
    expect(outcome.sideOutputs).toEqual([{ topic: 't.analytics.late-events', records: [] }]);
  });

  it('refuses an event for the windows already closed, counts it per kind and forwards it unchanged', () => {
    const p = projection();
    const rec = record(view(100, 'u1'));
    const batch = new WriteBatch();
    p.begin!(keys);
    p.apply(record(view(3_000, 'u1')), batch, keys);
    // Watermark 3 s − 0.5 s = 2.5 s: windows ending by 2 s (plus 0.5 s grace) are closed.
    p.apply(rec, batch, keys);
    const outcome = p.finish!(batch, keys)!;
    const written = ops(batch);
    expect(written).toContainEqual(['HINCRBY', keys.key('late'), 'tumbling', '1']);
    expect(written).toContainEqual(['HINCRBY', keys.key('late'), 'hopping', '1']);
    const [late] = outcome.sideOutputs![0]!.records;
    expect(late!.value).toBe(rec.value);
    expect(late!.key).toBe(rec.key);
    expect(late!.headers).toMatchObject({
      'event-type': 'PageViewed',
      'late-windows': [id('tumbling', 1000, 0), id('hopping', 5000, -4000), id('hopping', 5000, -3000)].join(
        ',',
      ),
      'late-window-kinds': 'tumbling,hopping',
      'late-watermark': String(T0 + 2_500),
      'late-source-topic': 't.page-views',
      'late-source-offset': rec.offset,
      'late-consumer': 'g',
    });
    // Still added to the hopping windows that are open.
    expect(written).toContainEqual([
      'HINCRBY',
      keys.key('sums', id('hopping', 5000, -2000)),
      'event:PageViewed',
      '1',
    ]);
    expect(written.some((o) => o[1] === keys.key('sums', id('tumbling', 1000, 0)))).toBe(false);
  });

  it('carries the watermark to the next batch only once the fence applied the batch', () => {
    const p = projection();
    const lateAfter = (applied: boolean) => {
      const first = runBatch(p, [view(3_000, 'u1')]);
      if (applied) first.outcome.onApplied!();
      return runBatch(p, [view(100, 'u1')]).outcome.sideOutputs![0]!.records.length;
    };
    // Dropped by the fence (applied before by someone else): the next batch starts from what the
    // runtime restores, not from this attempt.
    expect(lateAfter(false)).toBe(0);
    expect(lateAfter(true)).toBe(1);
  });

  it('starts a retried batch afresh', () => {
    const p = projection();
    const batch = new WriteBatch();
    p.begin!(keys);
    p.apply(record(view(3_000, 'u1')), batch, keys);
    // The runtime retries the batch with a new WriteBatch after a handler error: begin again.
    const { ops: written } = runBatch(p, [view(100, 'u1')]);
    expect(written.some((o) => o[0] === 'HINCRBY' && o[1] === keys.key('late'))).toBe(false);
  });

  it('dead-letters an OrderPaid whose revenue cannot be summed, leaving the batch as it was', () => {
    const p = projection();
    const batch = new WriteBatch();
    p.begin!(keys);
    p.apply(record(paid(10, 100)), batch, keys);
    let err: unknown;
    try {
      p.apply(record(paid(20, 100, 'eur')), batch, keys);
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, ErrorCodes.EVENT_INVALID)).toBe(true);
    p.finish!(batch, keys);
    expect(ops(batch)).toContainEqual([
      'HINCRBY',
      keys.key('sums', id('tumbling', 1000, 0)),
      'event:OrderPaid',
      '1',
    ]);
  });
});

describe('window result codec', () => {
  const result: WindowResult = {
    windowId: `tumbling:1000:1000:${T0}`,
    kind: 'TUMBLING',
    sizeMs: 1000,
    advanceMs: 1000,
    start: T0,
    end: T0 + 1000,
    events: { PageViewed: 3, OrderPaid: 1 },
    totalEvents: 4,
    uniqueUsers: 2,
    revenue: { EUR: '500' },
    ordersPlaced: 0,
    ordersPaid: 1,
    topPages: [{ path: '/a', views: 2 }],
    frontier: T0 + 1500,
    emittedAt: 1,
  };
  const registry = {
    register: async () => 42,
    writerType: async () => windowResultSchema().type,
  };

  it('registers under TopicRecordNameStrategy and round-trips a result', async () => {
    const codec = new WindowResultCodec(registry, 't.analytics.windows');
    expect(codec.subject).toBe('t.analytics.windows-dev.tributary.analytics.WindowResult');
    expect(() => codec.encode(result)).toThrow(/prepare/);
    expect(await codec.prepare()).toBe(42);
    const value = codec.encode(result);
    expect(value.readUInt32BE(1)).toBe(42);
    expect(await codec.decode(value)).toEqual(result);
  });

  it('refuses a result that does not fit the schema, naming the field', async () => {
    const codec = new WindowResultCodec(registry, 't.analytics.windows');
    await codec.prepare();
    expect(() => codec.encode({ ...result, totalEvents: 1.5 })).toThrow(/totalEvents/);
  });

  it('keeps revenue exact past 2^53 as decimal strings, in the plain Avro long a registry holds', async () => {
    // The registry's writer type is the schema text parsed the ordinary way (longs as numbers).
    const plain = parseSchema(windowResultSchema().schema);
    const codec = new WindowResultCodec({ register: async () => 42, writerType: async () => plain }, 't.w');
    await codec.prepare();
    const revenue = {
      EUR: (3n * 9_007_199_254_740_991n).toString(),
      USD: (2n ** 63n - 1n).toString(),
      GBP: '-5',
      JPY: '0',
    };
    const big = { ...result, revenue };
    expect((await codec.decode(codec.encode(big))).revenue).toEqual(revenue);
    // The same bytes as a plain long: small values decode as numbers anywhere, and the wire is Avro's long.
    const small = codec.encode({ ...result, revenue: { EUR: '9000000000000000' } });
    expect((plain.fromBuffer(small.subarray(5)) as WindowResult).revenue).toEqual({
      EUR: 9_000_000_000_000_000,
    });
    // Written by an older writer (a resolver from a plain long): still strings.
    const type = windowResultSchema().type;
    const old = plain.toBuffer({ ...result, revenue: { EUR: 9_000_000_000_000_000 } });
    expect((type.fromBuffer(old, type.createResolver(plain)) as WindowResult).revenue).toEqual({
      EUR: '9000000000000000',
    });
    // What cannot be a 64-bit long is refused, naming the field, never rounded or wrapped.
    for (const bad of [500, '2e3', '007', '', (2n ** 63n).toString(), (-(2n ** 63n) - 1n).toString()]) {
      expect(() => codec.encode({ ...result, revenue: { EUR: bad as string } }), String(bad)).toThrow(
        /revenue\.EUR/,
      );
    }
  });
});
