/** The Publisher over a fake engine producer and an in-memory registry: what each record carries. */
import type { Type } from 'avsc';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import type { EngineProducer, OutgoingRecord } from '../../lib/engine.js';
import { ErrorCodes } from '../../lib/errors.js';
import { initLogger } from '../../lib/logger.js';
import { EVENT_ID_HEADER, Publisher } from '../../producers/publisher.js';
import {
  shopCatalog,
  EVENT_TYPE_HEADER,
  createEvent,
  eventCatalog,
  type TributaryEvent,
} from '../helpers/shop.js';
import { EventCodec, type CodecRegistry } from '../../schemas/codec.js';

const logger = initLogger({ level: 'silent' });

/** Hands out ids from 7 on; nothing is fetched back in these tests. */
function memoryRegistry(): CodecRegistry {
  let next = 7;
  return {
    register: async () => next++,
    lookup: async () => next++,
    writerType: async () => undefined as unknown as Type,
    cachedWriterType: () => undefined,
  };
}

/** Records what `send` was given; acknowledges at once. */
function fakeProducer(): EngineProducer & { sent: { topic: string; records: OutgoingRecord[] }[] } {
  const sent: { topic: string; records: OutgoingRecord[] }[] = [];
  return {
    engine: 'kafkajs',
    sent,
    connect: async () => undefined,
    send: async (topic, records) => {
      sent.push({ topic, records: records.map((r) => ({ ...r, value: Buffer.from(r.value) })) });
    },
    flush: async () => undefined,
    disconnect: async () => undefined,
  } as EngineProducer & { sent: { topic: string; records: OutgoingRecord[] }[] };
}

async function publisher(env: Record<string, string> = {}) {
  const config = loadConfig({ TRIBUTARY_TOPIC_PREFIX: 'unit.', ...env });
  const codec = new EventCodec({
    catalog: shopCatalog,
    registry: memoryRegistry(),
    topicPrefix: config.topics.prefix,
  });
  const producer = fakeProducer();
  return {
    publisher: await Publisher.create(shopCatalog, config, logger, { codec, producer }),
    producer,
    codec,
  };
}

const view = (userId: string | null, sessionId: string): TributaryEvent =>
  createEvent('PageViewed', {
    userId,
    sessionId,
    url: 'https://a.test/x',
    path: '/x',
    referrer: null,
    userAgent: null,
  });

describe('Publisher', () => {
  it('sends each event with its key, headers and framed value, grouped by topic in order', async () => {
    const { publisher: p, producer, codec } = await publisher();
    const events = [
      view('u-1', 's-1'),
      createEvent('UserDeleted', { userId: 'u-2', reason: 'USER_REQUEST' }),
      view(null, 's-3'),
    ];
    const results = await p.publishBatch(events);
    expect(results.map((r) => r.topic)).toEqual(['unit.page-views', 'unit.users', 'unit.page-views']);
    expect(results.map((r) => r.eventId)).toEqual(events.map((e) => e.data.eventId));
    expect(producer.sent.map((s) => s.topic)).toEqual(['unit.page-views', 'unit.users']);
    const views = producer.sent[0]!.records;
    expect(views.map((r) => r.key)).toEqual(['u-1', 's-3']);
    expect(views.map((r) => String(r.headers?.[EVENT_TYPE_HEADER]))).toEqual(['PageViewed', 'PageViewed']);
    expect(views.map((r) => String(r.headers?.[EVENT_ID_HEADER]))).toEqual([
      events[0]!.data.eventId,
      events[2]!.data.eventId,
    ]);
    const avro = eventCatalog.PageViewed.avroType;
    expect(views[1]!.value.readUInt32BE(1)).toBe(codec.schemaId('PageViewed'));
    expect(avro.fromBuffer(views[1]!.value.subarray(5))).toEqual(events[2]!.data);
  });

  it('sends nothing when any event of a batch is invalid, naming the field', async () => {
    const { publisher: p, producer } = await publisher();
    const bad = { ...view('u-1', 's-1'), data: { ...view('u-1', 's-1').data, path: 42 } };
    await expect(
      p.publishBatch([view('u-2', 's-2'), bad as unknown as TributaryEvent]),
    ).rejects.toMatchObject({
      code: ErrorCodes.EVENT_INVALID,
      message: expect.stringContaining('data.path: expected string, got number 42'),
    });
    const unknown = { type: 'PageVisited', data: view('u-1', 's-1').data };
    await expect(p.publishBatch([unknown as unknown as TributaryEvent])).rejects.toMatchObject({
      code: ErrorCodes.EVENT_TYPE_UNKNOWN,
    });
    expect(producer.sent).toEqual([]);
  });

  it('refuses an event time further ahead of the clock than the allowed skew, sending nothing', async () => {
    const { publisher: p, producer } = await publisher({ TRIBUTARY_MAX_CLOCK_SKEW_MS: '60000' });
    const at = (offsetMs: number): TributaryEvent => {
      const e = view('u-1', 's-1');
      return { ...e, data: { ...e.data, occurredAt: Date.now() + offsetMs } } as TributaryEvent;
    };
    // Well inside the bound, and long past: accepted.
    await p.publishBatch([at(30_000), at(-365 * 24 * 3600 * 1000)]);
    expect(producer.sent.flatMap((s) => s.records)).toHaveLength(2);
    // An hour ahead, second in a batch: the whole batch is refused, naming the field.
    await expect(p.publishBatch([at(0), at(3600_000)])).rejects.toMatchObject({
      code: ErrorCodes.EVENT_INVALID,
      message: expect.stringMatching(
        /^invalid PageViewed event: data\.occurredAt: expected an event time at most 60000 ms ahead/,
      ),
    });
    expect(producer.sent.flatMap((s) => s.records)).toHaveLength(2);
  });
});
