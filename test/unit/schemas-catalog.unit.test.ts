import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../lib/errors.js';
import { findSchemaDir } from '../../schemas/avro-schema.js';
import {
  EVENT_TYPES,
  createEvent,
  eventCatalog,
  eventKey,
  eventTypeOfRecord,
  isEventType,
  subjectOf,
  topicOf,
} from '../helpers/shop.js';
import type { TributaryEvent } from '../helpers/shop.js';

const schemaDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/shop/schemas');
const avscFiles = readdirSync(schemaDir).filter((f) => f.endsWith('.avsc'));

// The expected catalog, written out by hand from DESIGN.md §3.
const expected = {
  UserCreated: { topic: 'users', key: ['userId'] },
  UserUpdated: { topic: 'users', key: ['userId'] },
  UserDeleted: { topic: 'users', key: ['userId'] },
  OrderPlaced: { topic: 'orders', key: ['userId'] },
  OrderPaid: { topic: 'orders', key: ['userId'] },
  OrderCancelled: { topic: 'orders', key: ['userId'] },
  PageViewed: { topic: 'page-views', key: ['userId', 'sessionId'] },
} as const;

describe('event catalog', () => {
  it('has exactly one event per .avsc file, and every file parses with plain avsc', () => {
    expect(avscFiles).toHaveLength(7);
    expect([...EVENT_TYPES].sort()).toEqual(Object.keys(expected).sort());
    const recordNames = avscFiles.map((file) => {
      const schema = JSON.parse(readFileSync(path.join(schemaDir, file), 'utf8'));
      const type = avro.Type.forSchema(schema);
      expect(type.typeName).toBe('record');
      return type.name;
    });
    expect(recordNames.sort()).toEqual(
      Object.keys(expected)
        .map((n) => `dev.tributary.events.${n}`)
        .sort(),
    );
  });

  it('gives every event eventId (uuid), occurredAt (timestamp-millis) and docs everywhere', () => {
    for (const type of EVENT_TYPES) {
      const { schema } = eventCatalog[type];
      expect(schema.doc, type).toBeTruthy();
      expect(schema.fields[0]).toMatchObject({
        name: 'eventId',
        type: { type: 'string', logicalType: 'uuid' },
      });
      expect(schema.fields[1]).toMatchObject({
        name: 'occurredAt',
        type: { type: 'long', logicalType: 'timestamp-millis' },
      });
      for (const field of schema.fields) expect(field.doc, `${type}.${field.name}`).toBeTruthy();
    }
  });

  it('keeps money out of floating point', () => {
    const text = avscFiles.map((f) => readFileSync(path.join(schemaDir, f), 'utf8')).join('\n');
    expect(text).not.toMatch(/"(float|double)"/);
    const placed = eventCatalog.OrderPlaced.schema.fields.find((f) => f.name === 'totalAmount');
    expect(placed?.type).toBe('long');
  });

  it('maps each event to its topic, key fields and TopicRecordNameStrategy subject', () => {
    for (const [type, want] of Object.entries(expected)) {
      if (!isEventType(type)) throw new Error(type);
      expect(eventCatalog[type].topic).toBe(want.topic);
      expect(eventCatalog[type].keyFields).toEqual(want.key);
      expect(topicOf(type)).toBe(want.topic);
      expect(topicOf(type, 'staging.')).toBe(`staging.${want.topic}`);
      expect(subjectOf(type)).toBe(`${want.topic}-dev.tributary.events.${type}`);
      expect(subjectOf(type, 'staging.')).toBe(`staging.${want.topic}-dev.tributary.events.${type}`);
      expect(eventTypeOfRecord(`dev.tributary.events.${type}`)).toBe(type);
    }
    expect(eventTypeOfRecord('dev.tributary.events.OrderLineItem')).toBeUndefined();
    expect(eventTypeOfRecord('com.example.UserCreated')).toBeUndefined();
    expect(isEventType('toString')).toBe(false);
  });

  it('keys page views by user when signed in, else by session', () => {
    const view = (userId: string | null, sessionId: string): TributaryEvent =>
      createEvent('PageViewed', {
        userId,
        sessionId,
        url: 'https://x.test/',
        path: '/',
        referrer: null,
        userAgent: null,
      });
    expect(eventKey(view('u1', 's1'))).toBe('u1');
    expect(eventKey(view(null, 's1'))).toBe('s1');
    expect(() => eventKey(view(null, ''))).toThrow(
      expect.objectContaining({ code: ErrorCodes.EVENT_INVALID }),
    );
  });

  it('keys orders by user, so a user’s orders stay in one partition', () => {
    const paid = createEvent('OrderPaid', {
      orderId: 'o1',
      userId: 'u9',
      amount: 1999,
      currency: 'EUR',
      paymentMethod: 'CARD',
      paymentId: 'pay_1',
    });
    expect(eventKey(paid)).toBe('u9');
  });

  it('fills eventId and occurredAt in createEvent unless given', () => {
    const e = createEvent('UserDeleted', { userId: 'u1', reason: 'USER_REQUEST' }, 1_700_000_000_000);
    expect(e.type).toBe('UserDeleted');
    expect(e.data.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(e.data.occurredAt).toBe(1_700_000_000_000);
    const given = createEvent('UserDeleted', {
      userId: 'u1',
      reason: 'OTHER',
      eventId: 'e-1',
      occurredAt: 5,
    });
    expect(given.data).toEqual({ userId: 'u1', reason: 'OTHER', eventId: 'e-1', occurredAt: 5 });
    // Given as undefined counts as not given.
    const blank = createEvent(
      'UserDeleted',
      { userId: 'u1', reason: 'OTHER', eventId: undefined, occurredAt: undefined },
      7,
    );
    expect(blank.data.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(blank.data.occurredAt).toBe(7);
  });

  it('finds the engine’s own .avsc files from the build output too (dist/schemas/*.js)', () => {
    const engineSchemas = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schemas');
    const probe = path.join('analytics', 'analytics-window.avsc');
    const fromDist = `file://${path.join(engineSchemas, '..', 'dist', 'schemas', 'analytics-window.js')}`;
    expect(findSchemaDir(fromDist, probe)).toBe(engineSchemas);
    expect(() => findSchemaDir('file:///nonexistent/x/y.js', probe)).toThrow(
      expect.objectContaining({ code: ErrorCodes.SCHEMA_INVALID }),
    );
  });
});
