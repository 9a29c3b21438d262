/**
 * Schema evolution in pure form: avsc resolvers, no registry. What the registry's BACKWARD check
 * allows must also be readable here, in both directions.
 */
import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../schemas/avro-schema.js';
import type { AvroComplexSchema, AvroRecordSchema } from '../../schemas/avro-schema.js';
import { eventCatalog } from '../helpers/shop.js';

const v1Schema = eventCatalog.PageViewed.schema;
const v2Schema: AvroRecordSchema = {
  ...v1Schema,
  fields: [
    ...v1Schema.fields,
    { name: 'screenWidth', type: 'int', default: 0, doc: 'Viewport width in CSS pixels, 0 if unknown.' },
  ],
};
const v1 = parseSchema(v1Schema);
const v2 = parseSchema(v2Schema);

const viewV1 = {
  eventId: '0b3c2c0e-8f0e-4a4e-9d7e-2b1f5d7f3a90',
  occurredAt: 1_700_000_000_123,
  userId: null,
  sessionId: 'sess-1',
  url: 'https://shop.test/pricing?ref=ad',
  path: '/pricing',
  referrer: 'https://search.test/',
  userAgent: null,
};

describe('schema evolution with avsc resolvers', () => {
  it('a v2 reader with a new defaulted field reads v1 bytes, filling the default', () => {
    const bytes = v1.toBuffer(viewV1);
    const read = v2.fromBuffer(bytes, v2.createResolver(v1));
    expect(read).toEqual({ ...viewV1, screenWidth: 0 });
  });

  it('a v1 reader reads v2 bytes, skipping the field it does not know', () => {
    const bytes = v2.toBuffer({ ...viewV1, screenWidth: 1440 });
    const read = v1.fromBuffer(bytes, v1.createResolver(v2));
    expect(read).toEqual(viewV1);
    expect(read).not.toHaveProperty('screenWidth');
  });

  it('bytes of one schema are garbage to the other without a resolver', () => {
    const bytes = v2.toBuffer({ ...viewV1, screenWidth: 1440 });
    expect(() => v1.fromBuffer(bytes)).toThrow(/trailing data/);
  });

  it('an old reader maps an enum symbol it does not know to the enum default', () => {
    const planField = eventCatalog.UserCreated.schema.fields.find((f) => f.name === 'plan');
    const plan = planField?.type as AvroComplexSchema;
    const newer = parseSchema({
      ...eventCatalog.UserCreated.schema,
      fields: eventCatalog.UserCreated.schema.fields.map((f) =>
        f.name === 'plan' ? { ...f, type: { ...plan, symbols: [...(plan.symbols ?? []), 'TEAM'] } } : f,
      ),
    });
    const user = {
      eventId: 'e',
      occurredAt: 1,
      userId: 'u1',
      email: 'a@b.test',
      name: 'Ada',
      plan: 'TEAM',
      country: 'GB',
    };
    const old = eventCatalog.UserCreated.avroType;
    expect(old.fromBuffer(newer.toBuffer(user), old.createResolver(newer))).toEqual({
      ...user,
      plan: 'UNKNOWN',
    });
  });

  it('a new field without a default cannot read old bytes (what BACKWARD refuses)', () => {
    const strict = parseSchema({
      ...v1Schema,
      fields: [...v1Schema.fields, { name: 'screenWidth', type: 'int' }],
    });
    expect(() => strict.createResolver(v1)).toThrow(/screenWidth/);
  });
});
