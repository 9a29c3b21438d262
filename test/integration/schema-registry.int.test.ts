/**
 * The schema client and codec against the real registry: compatibility set on subjects, BACKWARD
 * evolution accepted and refused, and events decoded across schema versions both ways. Each test
 * writes under subjects of its own (a random topic prefix) and deletes them when it finishes.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { ErrorCodes, isUnrecoverable } from '../../lib/errors.js';
import type { AvroRecordSchema } from '../../schemas/avro-schema.js';
import { shopCatalog, EVENT_TYPES, createEvent, subjectOf } from '../helpers/shop.js';
import type { EventType, TributaryEvent } from '../helpers/shop.js';
import { eventCatalog } from '../helpers/shop.js';
import { EventCodec } from '../../schemas/codec.js';
import { SchemaRegistryClient } from '../../schemas/registry.js';
import { testConfig } from '../helpers/stack.js';

/** A topic prefix of this test's own; its subjects are deleted when the test finishes. */
function isolated(): { url: string; prefix: string; client: () => SchemaRegistryClient } {
  const config = testConfig();
  const url = config.registry.url.value;
  const prefix = config.topics.prefix;
  onTestFinished(async () => {
    const subjects = (await (await fetch(`${url}/subjects`)).json()) as string[];
    for (const s of subjects.filter((name) => name.startsWith(prefix))) {
      const path = `${url}/subjects/${encodeURIComponent(s)}`;
      await fetch(path, { method: 'DELETE' }).catch(() => undefined);
      await fetch(`${path}?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
    }
  });
  // Every call gives a client with empty caches, as a separate process would have.
  return { url, prefix, client: () => new SchemaRegistryClient({ url, clientId: 'tributary-test' }) };
}

/** Reads the registry directly, as the oracle, not through the client under test. */
async function registryGet<T>(url: string, path: string): Promise<T> {
  const res = await fetch(`${url}${path}`);
  expect(res.status, `GET ${path}`).toBe(200);
  return (await res.json()) as T;
}

function withField(schema: AvroRecordSchema, field: AvroRecordSchema['fields'][number]): AvroRecordSchema {
  return { ...schema, fields: [...schema.fields, field] };
}

const now = 1_700_000_000_000;
const samples: { [K in EventType]: TributaryEvent & { type: K } } = {
  UserCreated: createEvent(
    'UserCreated',
    { userId: 'u1', email: 'ada@x.test', name: 'Ada', plan: 'FREE', country: 'GB' },
    now,
  ),
  UserUpdated: createEvent(
    'UserUpdated',
    { userId: 'u1', email: null, name: null, plan: 'PRO', country: null },
    now + 1,
  ),
  UserDeleted: createEvent('UserDeleted', { userId: 'u1', reason: 'INACTIVITY' }, now + 2),
  OrderPlaced: createEvent(
    'OrderPlaced',
    {
      orderId: 'o1',
      userId: 'u1',
      items: [
        { sku: 'A', quantity: 2, unitPrice: 1050 },
        { sku: 'B', quantity: 1, unitPrice: 99 },
      ],
      totalAmount: 2199,
      currency: 'EUR',
    },
    now + 3,
  ),
  OrderPaid: createEvent(
    'OrderPaid',
    { orderId: 'o1', userId: 'u1', amount: 2199, currency: 'EUR', paymentMethod: 'PAYPAL', paymentId: 'p1' },
    now + 4,
  ),
  OrderCancelled: createEvent(
    'OrderCancelled',
    { orderId: 'o1', userId: 'u1', reason: 'CUSTOMER_REQUEST', refundAmount: 2199, currency: 'EUR' },
    now + 5,
  ),
  PageViewed: createEvent(
    'PageViewed',
    {
      userId: null,
      sessionId: 's1',
      url: 'https://x.test/p?q=1',
      path: '/p',
      referrer: null,
      userAgent: 'curl/8',
    },
    now + 6,
  ),
};

describe('schema registry', () => {
  it('registers every event under its subject with BACKWARD compatibility', async () => {
    const { url, prefix, client } = isolated();
    const codec = new EventCodec({ catalog: shopCatalog, registry: client(), topicPrefix: prefix });
    await codec.prepare();
    for (const type of EVENT_TYPES) {
      const subject = subjectOf(type, prefix);
      expect(subject).toBe(`${prefix}${eventCatalog[type].topic}-dev.tributary.events.${type}`);
      const config = await registryGet<{ compatibilityLevel: string }>(url, `/config/${subject}`);
      expect(config.compatibilityLevel).toBe('BACKWARD');
      const latest = await registryGet<{ id: number; version: number; schema: string }>(
        url,
        `/subjects/${subject}/versions/latest`,
      );
      expect(latest.id).toBe(codec.schemaId(type));
      expect(latest.version).toBe(1);
      expect(JSON.parse(latest.schema)).toMatchObject({ name: type, namespace: 'dev.tributary.events' });
    }
    // Another process, registering again or only looking up, gets the same ids.
    for (const schemaIds of ['register', 'lookup'] as const) {
      const other = new EventCodec({
        catalog: shopCatalog,
        registry: client(),
        topicPrefix: prefix,
        schemaIds,
      });
      await other.prepare();
      for (const type of EVENT_TYPES)
        expect(other.schemaId(type), `${schemaIds} ${type}`).toBe(codec.schemaId(type));
    }
  });

  it('accepts a new version that adds a defaulted field', async () => {
    const { url, prefix, client } = isolated();
    const registry = client();
    const subject = subjectOf('OrderPaid', prefix);
    const v1 = eventCatalog.OrderPaid.schema;
    const v2 = withField(v1, {
      name: 'installments',
      type: 'int',
      default: 1,
      doc: 'Number of instalments.',
    });

    const id1 = await registry.register(subject, v1);
    expect(await registry.getCompatibility(subject)).toBe('BACKWARD');
    expect(await registry.testCompatibility(subject, v2)).toMatchObject({ compatible: true });
    const id2 = await registry.register(subject, v2);
    expect(id2).not.toBe(id1);
    expect(await registryGet<number[]>(url, `/subjects/${subject}/versions`)).toEqual([1, 2]);
  });

  it('refuses an incompatible change with SCHEMA_INCOMPATIBLE and the registry’s reason', async () => {
    const { url, prefix, client } = isolated();
    const registry = client();
    const subject = subjectOf('OrderPaid', prefix);
    const v1 = eventCatalog.OrderPaid.schema;
    await registry.register(subject, v1);

    // A new required field: new readers could not read old events.
    const required = withField(v1, { name: 'installments', type: 'int' });
    // A changed type: amount as a string.
    const retyped: AvroRecordSchema = {
      ...v1,
      fields: v1.fields.map((f) => (f.name === 'amount' ? { ...f, type: 'string' } : f)),
    };
    for (const bad of [required, retyped]) {
      expect(await registry.testCompatibility(subject, bad)).toMatchObject({ compatible: false });
      const err = await registry.register(subject, bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isUnrecoverable(err), String(err)).toBe(true);
      expect(err).toMatchObject({ code: ErrorCodes.SCHEMA_INCOMPATIBLE });
      expect((err as Error).message).toContain(subject);
      expect((err as Error).message).toMatch(/HTTP 409: \S/);
    }
    expect(await registryGet<number[]>(url, `/subjects/${subject}/versions`)).toEqual([1]);
  });

  it('round-trips every event type, decoding in a process that fetches the writer schemas', async () => {
    const { url, prefix, client } = isolated();
    const producer = new EventCodec({ catalog: shopCatalog, registry: client(), topicPrefix: prefix });
    await producer.prepare();
    const values = EVENT_TYPES.map((type) => producer.encodeSync(samples[type]));

    for (const [i, value] of values.entries()) {
      const registered = await registryGet<{ schema: string }>(url, `/schemas/ids/${value.readUInt32BE(1)}`);
      expect(JSON.parse(registered.schema).name).toBe(EVENT_TYPES[i]);
    }

    const consumer = new EventCodec({ catalog: shopCatalog, registry: client(), topicPrefix: prefix });
    await consumer.loadWriters(values);
    expect(values.map((v) => consumer.decodeSync(v))).toEqual(EVENT_TYPES.map((t) => samples[t]));
  });

  it('decodes new events with an old reader and old events with a new reader', async () => {
    const { prefix, client } = isolated();
    const v1 = eventCatalog.PageViewed.schema;
    const v2 = withField(v1, {
      name: 'screenWidth',
      type: 'int',
      default: 0,
      doc: 'Viewport width, 0 if unknown.',
    });
    const oldWriter = new EventCodec({ catalog: shopCatalog, registry: client(), topicPrefix: prefix });
    const newWriter = new EventCodec({
      catalog: shopCatalog,
      registry: client(),
      topicPrefix: prefix,
      schemas: { PageViewed: v2 },
    });
    const view = samples.PageViewed;
    const oldValue = await oldWriter.encode(view);
    const newValue = await newWriter.encode({
      type: 'PageViewed',
      data: { ...view.data, screenWidth: 1280 },
    } as never);
    expect(newValue.readUInt32BE(1)).not.toBe(oldValue.readUInt32BE(1));

    // Fresh clients: the writer schemas come from the registry by id.
    const oldReader = new EventCodec({ catalog: shopCatalog, registry: client(), topicPrefix: prefix });
    const newReader = new EventCodec({
      catalog: shopCatalog,
      registry: client(),
      topicPrefix: prefix,
      schemas: { PageViewed: v2 },
    });
    expect(await oldReader.decode(newValue)).toEqual(view);
    expect(await oldReader.decode(oldValue)).toEqual(view);
    expect(await newReader.decode(oldValue)).toEqual({
      type: 'PageViewed',
      data: { ...view.data, screenWidth: 0 },
    });
    expect(await newReader.decode(newValue)).toEqual({
      type: 'PageViewed',
      data: { ...view.data, screenWidth: 1280 },
    });
  });

  it('reports a schema id the registry does not have as unrecoverable', async () => {
    const { client } = isolated();
    const codec = new EventCodec({ catalog: shopCatalog, registry: client() });
    const value = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 0x61]);
    const err = await codec.decode(value).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: ErrorCodes.SCHEMA_NOT_FOUND });
    expect(isUnrecoverable(err)).toBe(true);
    // Remembered: the synchronous path reports the same without asking again.
    expect(() => codec.decodeSync(value)).toThrow(
      expect.objectContaining({ code: ErrorCodes.SCHEMA_NOT_FOUND }),
    );
  });
});
