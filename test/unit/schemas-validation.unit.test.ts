import { describe, expect, it } from 'vitest';
import { ErrorCodes, isUnrecoverable } from '../../lib/errors.js';
import { shopCatalog, eventCatalog } from '../helpers/shop.js';
import type { TributaryEvent } from '../helpers/shop.js';
import { findIssues, validateEvent } from '../../schemas/validate.js';

const placed = {
  eventId: '6f1c1e9e-3d1a-4c55-9d3e-4c8f0b6d2a11',
  occurredAt: 1_700_000_000_000,
  orderId: 'o-1',
  userId: 'u-1',
  items: [
    { sku: 'SKU-1', quantity: 2, unitPrice: 1250 },
    { sku: 'SKU-2', quantity: 1, unitPrice: 499 },
  ],
  totalAmount: 2999,
  currency: 'EUR',
};

/** The error `validateEvent` throws for `event` (as `unknown`: tests feed it what the types forbid). */
function errorFor(event: unknown): { code: string; message: string } {
  try {
    validateEvent(shopCatalog, event as TributaryEvent);
  } catch (err) {
    expect(isUnrecoverable(err)).toBe(true);
    return err as { code: string; message: string };
  }
  throw new Error('expected validateEvent to throw');
}

describe('event validation', () => {
  it('accepts a valid event', () => {
    expect(() => validateEvent(shopCatalog, { type: 'OrderPlaced', data: placed })).not.toThrow();
    expect(findIssues(eventCatalog.OrderPlaced.avroType, placed)).toEqual([]);
  });

  it('names the path of a bad nested value', () => {
    const items = [placed.items[0], { sku: 'SKU-2', quantity: 1.5, unitPrice: 499 }];
    const err = errorFor({ type: 'OrderPlaced', data: { ...placed, items } });
    expect(err.code).toBe(ErrorCodes.EVENT_INVALID);
    expect(err.message).toContain('invalid OrderPlaced event');
    expect(err.message).toContain('data.items[1].quantity: expected an int (32-bit integer), got number 1.5');
  });

  it('refuses money as a float', () => {
    const err = errorFor({ type: 'OrderPlaced', data: { ...placed, totalAmount: 29.99 } });
    expect(err.message).toContain('data.totalAmount: expected a long (integer), got number 29.99');
  });

  it('names missing fields, wrong enum symbols and undeclared fields, all at once', () => {
    // No email, a plan that does not exist, and a misspelt field.
    const withoutEmail = {
      eventId: 'e',
      occurredAt: 1,
      userId: 'u',
      name: 'Ada',
      plan: 'GOLD',
      country: 'DE',
      emial: 'typo@b.test',
    };
    const err = errorFor({ type: 'UserCreated', data: withoutEmail });
    expect(err.message).toContain('data.email: expected string, got nothing (missing)');
    expect(err.message).toContain(
      'data.plan: expected one of UNKNOWN, FREE, PRO, ENTERPRISE, got string "GOLD"',
    );
    expect(err.message).toContain('data.emial: not a field of UserCreated');
  });

  it('keeps string values (personal data) out of the message', () => {
    const err = errorFor({
      type: 'UserCreated',
      data: {
        eventId: 'e',
        occurredAt: 1,
        userId: 'u',
        email: 'secret@x.test',
        name: 7,
        plan: 'FREE',
        country: 'DE',
      },
    });
    expect(err.message).toContain('data.name: expected string, got number 7');
    expect(err.message).not.toContain('secret@x.test');
  });

  it('describes a nullable field and an undeclared field inside an array item', () => {
    const view = {
      eventId: 'e',
      occurredAt: 1,
      userId: 42,
      sessionId: 's',
      url: 'https://x.test/a',
      path: '/a',
      referrer: null,
      userAgent: null,
    };
    expect(errorFor({ type: 'PageViewed', data: view }).message).toContain(
      'data.userId: expected null or string, got number 42',
    );
    const items = [{ sku: 'S', quantity: 1, unitPrice: 1, colour: 'red' }];
    expect(errorFor({ type: 'OrderPlaced', data: { ...placed, items } }).message).toContain(
      'data.items[0].colour: not a field of OrderLineItem',
    );
  });

  it('refuses a payload that is not an object, and unknown event types', () => {
    expect(errorFor({ type: 'UserDeleted', data: 'nope' }).message).toContain(
      'data: expected a UserDeleted object, got a string',
    );
    const unknown = errorFor({ type: 'UserExploded', data: {} });
    expect(unknown.code).toBe(ErrorCodes.EVENT_TYPE_UNKNOWN);
    expect(errorFor(null).code).toBe(ErrorCodes.EVENT_TYPE_UNKNOWN);
  });

  it('refuses longs beyond 2^53 (they would lose precision in JavaScript)', () => {
    const err = errorFor({ type: 'OrderPlaced', data: { ...placed, occurredAt: 2 ** 60 } });
    expect(err.message).toContain('data.occurredAt: expected a long (integer)');
  });
});
