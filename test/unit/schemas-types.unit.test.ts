import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ErrorCodes } from '../../lib/errors.js';
import type { AvroRecordSchema, AvscFile } from '../../schemas/avro-schema.js';
import type { EventData, EventType, TributaryEvent } from '../helpers/shop.js';
import type { OrderLineItem, UserPlan } from '../../examples/shop/generated/events.js';
import { generateEventTypes, renderEventTypes } from '../../schemas/codegen.js';

const shopDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/shop');
const target = {
  schemaDir: path.join(shopDir, 'schemas'),
  outFile: path.join(shopDir, 'generated', 'events.ts'),
};

function file(name: string, fields: AvroRecordSchema['fields']): AvscFile {
  return {
    path: `/x/${name}.avsc`,
    schema: { type: 'record', name, namespace: 'dev.tributary.events', fields },
  };
}

describe('generated event types', () => {
  it('of the shop are what `tributary codegen` produces from its .avsc files now (run `npm run gen:types` if this fails)', async () => {
    const committed = readFileSync(target.outFile, 'utf8');
    expect(committed).toBe(await generateEventTypes(target));
  });

  it('map Avro types to the TypeScript types avsc reads', () => {
    expectTypeOf<EventType>().toEqualTypeOf<
      | 'UserCreated'
      | 'UserUpdated'
      | 'UserDeleted'
      | 'OrderPlaced'
      | 'OrderPaid'
      | 'OrderCancelled'
      | 'PageViewed'
    >();
    expectTypeOf<EventData<'OrderPlaced'>['totalAmount']>().toEqualTypeOf<number>();
    expectTypeOf<EventData<'OrderPlaced'>['items']>().toEqualTypeOf<readonly OrderLineItem[]>();
    expectTypeOf<EventData<'PageViewed'>['userId']>().toEqualTypeOf<string | null>();
    expectTypeOf<EventData<'UserUpdated'>['plan']>().toEqualTypeOf<UserPlan | null>();
    expectTypeOf<UserPlan>().toEqualTypeOf<'UNKNOWN' | 'FREE' | 'PRO' | 'ENTERPRISE'>();
    expectTypeOf<Extract<TributaryEvent, { type: 'UserDeleted' }>['data']>().toEqualTypeOf<
      EventData<'UserDeleted'>
    >();
  });

  it('renders maps, arrays of nullables, fixed, bytes and docs', () => {
    const out = renderEventTypes([
      file('Thing', [
        { name: 'tags', type: { type: 'map', values: 'long' }, doc: 'Counts by tag.' },
        { name: 'maybe', type: { type: 'array', items: ['null', 'string'] } },
        { name: 'hash', type: { type: 'fixed', name: 'Sha256', size: 32 } },
        { name: 'raw', type: 'bytes', default: '' },
        { name: 'flag', type: 'boolean', doc: 'Ends a comment */ early?' },
      ]),
    ]);
    expect(out).toContain('/** Counts by tag. */\n  readonly tags: { readonly [key: string]: number };');
    expect(out).toContain('readonly maybe: readonly (string | null)[];');
    expect(out).toContain('export type Sha256 = Buffer;');
    expect(out).toContain('readonly hash: Sha256;');
    expect(out).toContain('/** Default: `""`. */\n  readonly raw: Buffer;');
    expect(out).toContain('Ends a comment *\\/ early?');
    expect(out).toContain('readonly Thing: Thing;');
    // The union a projection narrows on `type`.
    expect(out).toContain('export type AnyEvent = { [K in EventType]: EventOf<K> }[EventType];');
  });

  it('refuses unions that avsc would wrap, rather than generate wrong types', () => {
    expect(() => renderEventTypes([file('A', [{ name: 'n', type: ['int', 'long'] }])])).toThrow(
      expect.objectContaining({
        code: ErrorCodes.SCHEMA_INVALID,
        message: expect.stringContaining('two number'),
      }),
    );
  });

  it('refuses one named type defined two ways across files', () => {
    const plan = (symbols: string[]) => ({ name: 'plan', type: { type: 'enum', name: 'Plan', symbols } });
    expect(() => renderEventTypes([file('A', [plan(['X'])]), file('B', [plan(['X'])])])).not.toThrow();
    expect(() => renderEventTypes([file('A', [plan(['X'])]), file('B', [plan(['X', 'Y'])])])).toThrow(
      /dev\.tributary\.events\.Plan is defined differently in A\.avsc and B\.avsc/,
    );
  });
});
