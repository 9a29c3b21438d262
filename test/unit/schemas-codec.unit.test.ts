/** The codec against an in-memory registry: framing, validation, caching and evolution, no servers. */
import type { Type } from 'avsc';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, UnrecoverableError, isUnrecoverable } from '../../lib/errors.js';
import { parseSchema } from '../../schemas/avro-schema.js';
import type { AvroRecordSchema } from '../../schemas/avro-schema.js';
import { shopCatalog, EVENT_TYPES, eventCatalog } from '../helpers/shop.js';
import type { TributaryEvent } from '../helpers/shop.js';
import { EventCodec } from '../../schemas/codec.js';
import type { CodecRegistry } from '../../schemas/codec.js';
import type { SchemaSource } from '../../schemas/registry.js';

/**
 * Behaves like SchemaRegistryClient: ids start at 1000 (not to be confused with counters), and a
 * schema this process registered is cached as a writer Type at once.
 */
class MemoryRegistry implements CodecRegistry {
  readonly registered: { subject: string; id: number }[] = [];
  fetches = 0;
  private readonly ids = new Map<string, number>();
  private readonly types = new Map<number, Type>();
  private readonly loaded = new Set<number>();

  async register(subject: string, schema: SchemaSource): Promise<number> {
    const text = typeof schema === 'string' ? schema : JSON.stringify(schema);
    let id = this.ids.get(text);
    if (id === undefined) {
      id = 1000 + this.ids.size;
      this.ids.set(text, id);
      this.types.set(id, parseSchema(JSON.parse(text) as AvroRecordSchema));
    }
    this.loaded.add(id);
    this.registered.push({ subject, id });
    return id;
  }

  async lookup(subject: string, schema: SchemaSource): Promise<number> {
    const id = this.ids.get(typeof schema === 'string' ? schema : JSON.stringify(schema));
    if (id === undefined) throw new UnrecoverableError(ErrorCodes.SCHEMA_NOT_FOUND, `not under ${subject}`);
    return id;
  }

  async writerType(id: number): Promise<Type> {
    this.fetches += 1;
    const type = this.types.get(id);
    if (!type)
      throw new UnrecoverableError(ErrorCodes.SCHEMA_NOT_FOUND, `schema id ${id} is not in the registry`);
    this.loaded.add(id);
    return type;
  }

  /** Empties the writer cache, as in a process that has not fetched anything yet. */
  forgetLoaded(): void {
    this.loaded.clear();
  }

  cachedWriterType(id: number): Type | undefined {
    return this.loaded.has(id) ? this.types.get(id) : undefined;
  }
}

const samples: TributaryEvent[] = [
  {
    type: 'UserCreated',
    data: {
      eventId: 'e1',
      occurredAt: 1,
      userId: 'u1',
      email: 'a@b.test',
      name: 'Ada',
      plan: 'PRO',
      country: 'GB',
    },
  },
  {
    type: 'UserUpdated',
    data: {
      eventId: 'e2',
      occurredAt: 2,
      userId: 'u1',
      email: null,
      name: 'Ada L.',
      plan: null,
      country: null,
    },
  },
  { type: 'UserDeleted', data: { eventId: 'e3', occurredAt: 3, userId: 'u1', reason: 'USER_REQUEST' } },
  {
    type: 'OrderPlaced',
    data: {
      eventId: 'e4',
      occurredAt: 4,
      orderId: 'o1',
      userId: 'u1',
      items: [{ sku: 'S-1', quantity: 3, unitPrice: 1999 }],
      totalAmount: 5997,
      currency: 'EUR',
    },
  },
  {
    type: 'OrderPaid',
    data: {
      eventId: 'e5',
      occurredAt: 5,
      orderId: 'o1',
      userId: 'u1',
      amount: 5997,
      currency: 'EUR',
      paymentMethod: 'CARD',
      paymentId: 'pi_1',
    },
  },
  {
    type: 'OrderCancelled',
    data: {
      eventId: 'e6',
      occurredAt: 6,
      orderId: 'o1',
      userId: 'u1',
      reason: 'OUT_OF_STOCK',
      refundAmount: 5997,
      currency: 'EUR',
    },
  },
  {
    type: 'PageViewed',
    data: {
      eventId: 'e7',
      occurredAt: 7,
      userId: null,
      sessionId: 's1',
      url: 'https://x.test/a?b=c',
      path: '/a',
      referrer: null,
      userAgent: 'Mozilla/5.0',
    },
  },
];

function thrown(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected a throw');
}

describe('EventCodec', () => {
  it('registers every event under its TopicRecordNameStrategy subject, once', async () => {
    const registry = new MemoryRegistry();
    const codec = new EventCodec({ catalog: shopCatalog, registry, topicPrefix: 'dev.' });
    await codec.prepare();
    await codec.prepare();
    expect(registry.registered.map((r) => r.subject).sort()).toEqual(
      EVENT_TYPES.map((t) => `dev.${eventCatalog[t].topic}-dev.tributary.events.${t}`).sort(),
    );
  });

  it('round-trips every event type through the wire format', async () => {
    const registry = new MemoryRegistry();
    const codec = new EventCodec({ catalog: shopCatalog, registry });
    await codec.prepare();
    expect(samples.map((s) => s.type).sort()).toEqual([...EVENT_TYPES].sort());
    for (const event of samples) {
      const value = codec.encodeSync(event);
      expect(value[0]).toBe(0);
      expect(value.readUInt32BE(1)).toBe(codec.schemaId(event.type));
      expect(await codec.decode(value)).toEqual(event);
    }
  });

  it('encodes and decodes without I/O once caches are warm', async () => {
    const registry = new MemoryRegistry();
    const producer = new EventCodec({ catalog: shopCatalog, registry });
    const first = samples[0] as TributaryEvent;
    expect(thrown(() => producer.encodeSync(first)).code).toBe(ErrorCodes.SCHEMA_NOT_CACHED);
    const value = await producer.encode(first); // registers on first use

    registry.forgetLoaded(); // from here on, as a consumer process that never saw this id
    const consumer = new EventCodec({ catalog: shopCatalog, registry });
    expect(thrown(() => consumer.decodeSync(value)).code).toBe(ErrorCodes.SCHEMA_NOT_CACHED);
    await consumer.loadWriters([value, value, null, Buffer.from('junk')]);
    expect(registry.fetches).toBe(1);
    expect(consumer.decodeSync(value)).toEqual(first);
    for (let i = 0; i < 100; i++) consumer.decodeSync(producer.encodeSync(first));
    expect(registry.fetches).toBe(1);
  });

  it('validates before encoding and registers nothing for an invalid event', async () => {
    const registry = new MemoryRegistry();
    const codec = new EventCodec({ catalog: shopCatalog, registry });
    const bad = { type: 'UserDeleted', data: { eventId: 'e', occurredAt: 1, userId: 'u', reason: 'BORED' } };
    await expect(codec.encode(bad as unknown as TributaryEvent)).rejects.toMatchObject({
      code: ErrorCodes.EVENT_INVALID,
      message: expect.stringContaining('data.reason: expected one of'),
    });
    expect(registry.registered).toEqual([]);
  });

  it('reads old events with a new reader and new events with an old reader', async () => {
    const registry = new MemoryRegistry();
    const v1Schema = eventCatalog.OrderPaid.schema;
    const v2Schema: AvroRecordSchema = {
      ...v1Schema,
      fields: [
        ...v1Schema.fields,
        { name: 'installments', type: 'int', default: 1, doc: 'Number of instalments.' },
      ],
    };
    const oldCodec = new EventCodec({ catalog: shopCatalog, registry });
    const newCodec = new EventCodec({ catalog: shopCatalog, registry, schemas: { OrderPaid: v2Schema } });
    const paid = samples.find((s) => s.type === 'OrderPaid') as TributaryEvent;
    const oldBytes = await oldCodec.encode(paid);
    const newBytes = await newCodec.encode({
      type: 'OrderPaid',
      data: { ...paid.data, installments: 3 },
    } as never);
    expect(oldBytes.readUInt32BE(1)).not.toBe(newBytes.readUInt32BE(1));

    expect(await newCodec.decode(oldBytes)).toEqual({
      type: 'OrderPaid',
      data: { ...paid.data, installments: 1 },
    });
    expect(await oldCodec.decode(newBytes)).toEqual(paid);
  });

  it('sends undecodable values to the dead-letter path with unrecoverable errors', async () => {
    const registry = new MemoryRegistry();
    const codec = new EventCodec({ catalog: shopCatalog, registry });
    const value = await codec.encode(samples[2] as TributaryEvent);

    const unknownId = Buffer.from(value);
    unknownId.writeUInt32BE(999_999, 1);
    await codec.loadWriters([unknownId]); // does not throw: the record is what is bad
    await expect(codec.decode(unknownId)).rejects.toMatchObject({ code: ErrorCodes.SCHEMA_NOT_FOUND });

    const truncated = value.subarray(0, value.length - 2);
    const corrupt = thrown(() => codec.decodeSync(truncated));
    expect(corrupt.code).toBe(ErrorCodes.DECODE_FAILED);
    expect(isUnrecoverable(corrupt)).toBe(true);

    const otherId = await registry.register('x', {
      type: 'record',
      name: 'Other',
      namespace: 'com.example',
      fields: [],
    });
    const foreign = Buffer.from([0, 0, 0, 0, 0]);
    foreign.writeUInt32BE(otherId, 1);
    await expect(codec.decode(foreign)).rejects.toMatchObject({ code: ErrorCodes.EVENT_TYPE_UNKNOWN });

    await expect(codec.decode(Buffer.from([1, 2]))).rejects.toMatchObject({
      code: ErrorCodes.WIRE_TOO_SHORT,
    });
  });

  it('refuses a writer schema the reader cannot resolve', async () => {
    const registry = new MemoryRegistry();
    const reader = new EventCodec({ catalog: shopCatalog, registry });
    const v1 = eventCatalog.UserDeleted.schema;
    const renamedField: AvroRecordSchema = {
      ...v1,
      fields: v1.fields.map((f) => (f.name === 'userId' ? { ...f, name: 'accountId' } : f)),
    };
    const writer = new EventCodec({ catalog: shopCatalog, registry, schemas: { UserDeleted: renamedField } });
    const value = await writer.encode({
      type: 'UserDeleted',
      data: { eventId: 'e', occurredAt: 1, accountId: 'a1', reason: 'OTHER' },
    } as never);
    await expect(reader.decode(value)).rejects.toMatchObject({
      code: ErrorCodes.DECODE_FAILED,
      message: expect.stringContaining('cannot be read with this reader'),
    });
  });

  it('looks ids up instead of registering when told to', async () => {
    const registry = new MemoryRegistry();
    const lookupOnly = new EventCodec({ catalog: shopCatalog, registry, schemaIds: 'lookup' });
    await expect(lookupOnly.prepare(['UserCreated'])).rejects.toMatchObject({
      code: ErrorCodes.SCHEMA_NOT_FOUND,
    });
    await new EventCodec({ catalog: shopCatalog, registry }).prepare(['UserCreated']);
    await lookupOnly.prepare(['UserCreated']);
    expect(lookupOnly.schemaId('UserCreated')).toBe(1000);
  });

  it('refuses a schema override for another record', () => {
    const registry = new MemoryRegistry();
    expect(
      thrown(
        () =>
          new EventCodec({
            catalog: shopCatalog,
            registry,
            schemas: { UserCreated: eventCatalog.UserDeleted.schema },
          }),
      ).code,
    ).toBe(ErrorCodes.SCHEMA_INVALID);
    expect(parseSchema(eventCatalog.UserCreated.schema).equals(eventCatalog.UserCreated.avroType)).toBe(true);
  });
});
