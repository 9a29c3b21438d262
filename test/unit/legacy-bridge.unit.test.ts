import { describe, expect, it } from 'vitest';
import {
  legacyUserBridge,
  legacyUserId,
  upcastLegacyUserCreated,
} from '../../examples/shop/legacy-bridge.js';
import { defineBridge, upcastChecked } from '../../producers/bridge.js';
import { shopCatalog } from '../helpers/shop.js';

const at = { topic: 'user-created', partition: 2, offset: '41', timestamp: 1_767_225_600_000 };
const json = (o: unknown) => Buffer.from(JSON.stringify(o));

describe('legacy UserCreated upcast', () => {
  it('turns the old { name, email } JSON into a typed UserCreated', () => {
    const r = upcastLegacyUserCreated(json({ name: 'Ada', email: 'ada@example.com' }), at);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.event.type).toBe('UserCreated');
    expect(r.event.data).toMatchObject({
      name: 'Ada',
      email: 'ada@example.com',
      plan: 'UNKNOWN',
      country: 'ZZ',
      occurredAt: at.timestamp,
      userId: legacyUserId('ada@example.com'),
    });
  });

  it('gives the same ids on replay and different event ids for different records', () => {
    const a = upcastLegacyUserCreated(json({ name: 'Ada', email: 'ada@example.com' }), at);
    const b = upcastLegacyUserCreated(json({ name: 'Ada', email: 'ada@example.com' }), at);
    const c = upcastLegacyUserCreated(json({ name: 'Ada', email: 'ada@example.com' }), {
      ...at,
      offset: '42',
    });
    if (!a.ok || !b.ok || !c.ok) throw new Error('expected ok');
    expect(b.event.data.eventId).toBe(a.event.data.eventId);
    expect(c.event.data.eventId).not.toBe(a.event.data.eventId);
    expect(c.event.data.userId).toBe(a.event.data.userId);
    expect(a.event.data.eventId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('keys users by e-mail case-insensitively', () => {
    expect(legacyUserId(' Ada@Example.com ')).toBe(legacyUserId('ada@example.com'));
    expect(legacyUserId('bob@example.com')).not.toBe(legacyUserId('ada@example.com'));
  });

  it('keeps a known plan and country when the old record has them', () => {
    const r = upcastLegacyUserCreated(
      json({ name: 'Bo', email: 'bo@example.com', plan: 'pro', country: 'se' }),
      at,
    );
    expect(r.ok && r.event.data).toMatchObject({ plan: 'PRO', country: 'SE' });
  });

  it.each([
    [Buffer.from('{not json'), 'INVALID_JSON'],
    [null, 'INVALID_JSON'],
    [json([1, 2]), 'INVALID_JSON'],
    [json({ name: 'Ada' }), 'MISSING_FIELDS'],
    [json({ email: 'x@example.com', name: '  ' }), 'MISSING_FIELDS'],
    [json({ name: 'Ada', email: 'not-an-email' }), 'INVALID_FIELDS'],
  ])('rejects %s as %s', (value, code) => {
    const r = upcastLegacyUserCreated(value, at);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });
});

describe('a bridge runner', () => {
  it('dead-letters an event its upcaster made that the schema or the key refuses, and an upcaster that throws', () => {
    const made = (data: object) =>
      defineBridge({
        name: 'x',
        from: 'user-created',
        upcast: () => ({ ok: true, event: { type: 'UserCreated', data } }),
      });
    const good = upcastChecked(
      legacyUserBridge,
      shopCatalog,
      json({ name: 'Ada', email: 'ada@example.com' }),
      at,
    );
    expect(good.ok).toBe(true);
    const base = {
      eventId: '0b6f5f0e-3c1a-4d7e-9a57-7c2b1e4f8a10',
      occurredAt: 1,
      email: 'a@b.c',
      name: 'A',
      plan: 'PRO',
      country: 'DE',
    };
    const badPlan = upcastChecked(made({ ...base, userId: 'u', plan: 'GOLD' }), shopCatalog, null, at);
    expect(badPlan).toMatchObject({
      ok: false,
      code: 'INVALID_FIELDS',
      message: expect.stringContaining('data.plan'),
    });
    const noKey = upcastChecked(made({ ...base, userId: '' }), shopCatalog, null, at);
    expect(noKey).toMatchObject({
      ok: false,
      code: 'INVALID_FIELDS',
      message: expect.stringContaining('partition key'),
    });
    const unknown = upcastChecked(
      defineBridge({ name: 'x', from: 'y', upcast: () => ({ ok: true, event: { type: 'Nope', data: {} } }) }),
      shopCatalog,
      null,
      at,
    );
    expect(unknown).toMatchObject({
      ok: false,
      code: 'INVALID_FIELDS',
      message: expect.stringContaining('Nope'),
    });
    const throws = upcastChecked(
      defineBridge({
        name: 'x',
        from: 'y',
        upcast: () => {
          throw new Error('bad day');
        },
      }),
      shopCatalog,
      null,
      at,
    );
    expect(throws).toEqual({ ok: false, code: 'UPCAST_FAILED', message: 'the upcaster threw: bad day' });
    // Garbage from the upcaster is a dead letter too, never an exception that stalls the batch.
    const garbage = defineBridge({ name: 'x', from: 'y', upcast: () => undefined as never });
    expect(upcastChecked(garbage, shopCatalog, null, at)).toMatchObject({ ok: false, code: 'UPCAST_FAILED' });
    const noCode = defineBridge({ name: 'x', from: 'y', upcast: () => ({ ok: false }) as never });
    expect(upcastChecked(noCode, shopCatalog, null, at)).toEqual({
      ok: false,
      code: 'UPCAST_REFUSED',
      message: 'refused by the upcaster',
    });
    // An event time further ahead than the clock allows: the publisher would refuse the batch.
    const ahead = upcastChecked(
      legacyUserBridge,
      shopCatalog,
      json({ name: 'Ada', email: 'ada@example.com' }),
      at,
      {
        now: at.timestamp - 600_000,
        maxClockSkewMs: 300_000,
      },
    );
    expect(ahead).toMatchObject({
      ok: false,
      code: 'INVALID_FIELDS',
      message: expect.stringContaining('data.occurredAt'),
    });
  });
});
