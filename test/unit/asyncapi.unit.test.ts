import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { AVRO_SCHEMA_FORMAT, asyncApiDocument } from '../../schemas/asyncapi.js';
import { shopCatalog } from '../helpers/shop.js';

const config = loadConfig({
  TRIBUTARY_TOPIC_PREFIX: 'prod.',
  TRIBUTARY_TOPIC_PARTITIONS: '12',
  TRIBUTARY_KAFKA_BROKERS: 'kafka-1:9092,kafka-2:9092',
  TRIBUTARY_SCHEMA_REGISTRY_URL: 'https://registry.example.com',
});

/** Errors (severity 0) the parser finds, as `path: message` lines. */
async function errorsOf(doc: unknown): Promise<string[]> {
  const parser = new Parser();
  parser.registerSchemaParser(AvroSchemaParser());
  const { diagnostics } = await parser.parse(JSON.stringify(doc));
  return diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`);
}

describe('AsyncAPI document', () => {
  it('never carries the registry credentials', () => {
    const withSecret = loadConfig({
      TRIBUTARY_SCHEMA_REGISTRY_URL: 'https://key:s3cret@registry.example.com/apis/ccompat/v7',
    });
    const doc = JSON.stringify(asyncApiDocument(shopCatalog, withSecret, { title: 'shop', version: '1' }));
    expect(doc).not.toContain('s3cret');
    expect(doc).toContain('"schemaRegistryUrl":"https://registry.example.com/apis/ccompat/v7"');
  });

  it('of the shop is valid AsyncAPI 3.0 with Avro payloads, as @asyncapi/parser reads it', async () => {
    const doc = asyncApiDocument(shopCatalog, config, { title: 'shop', version: '1.2.3' });
    expect(await errorsOf(doc)).toEqual([]);

    const parser = new Parser();
    parser.registerSchemaParser(AvroSchemaParser());
    const { document } = await parser.parse(JSON.stringify(doc));
    expect(document).toBeDefined();
    expect(document!.version()).toBe('3.0.0');
    expect(document!.info().title()).toBe('shop');
    // A channel per topic, its messages the topic's events, its address the prefixed name.
    const channels = Object.fromEntries(
      document!
        .channels()
        .all()
        .map((c) => [c.id(), c]),
    );
    expect(Object.keys(channels).sort()).toEqual(
      ['analytics.late-events', 'analytics.windows', 'orders', 'page-views', 'user-created', 'users'].sort(),
    );
    expect(channels.users!.address()).toBe('prod.users');
    expect(
      channels
        .users!.messages()
        .all()
        .map((m) => m.id())
        .sort(),
    ).toEqual(['UserCreated', 'UserDeleted', 'UserUpdated']);
    const kafka = channels['page-views']!.bindings().get('kafka')!.value() as Record<string, unknown>;
    expect(kafka).toMatchObject({ topic: 'prod.page-views', partitions: 12 });
    // Each event's payload is its Avro schema, as registered; the binding says how to read the bytes.
    const viewed = document!.components().messages().get('PageViewed')!;
    expect(viewed.schemaFormat()).toBe(AVRO_SCHEMA_FORMAT);
    expect(doc.components).toMatchObject({
      messages: {
        PageViewed: {
          payload: { schema: shopCatalog.get('PageViewed').schema },
          bindings: {
            kafka: {
              schemaIdLocation: 'payload',
              schemaIdPayloadEncoding: 'confluent',
              schemaLookupStrategy: 'TopicRecordNameStrategy',
              key: { description: 'The first non-empty of `userId`, `sessionId`.' },
            },
          },
        },
      },
    });
    const server = document!.servers().get('kafka')!;
    expect(server.host()).toBe('kafka-1:9092,kafka-2:9092');
    expect(server.bindings().get('kafka')!.value()).toMatchObject({
      schemaRegistryUrl: 'https://registry.example.com',
      schemaRegistryVendor: 'confluent',
    });
    // Send and receive for every event topic, none for the others.
    const ops = document!
      .operations()
      .all()
      .map((o) => `${o.action()} ${o.channels().all()[0]!.id()}`);
    expect(ops.sort()).toEqual(
      ['orders', 'page-views', 'users'].flatMap((t) => [`receive ${t}`, `send ${t}`]).sort(),
    );
  });

  it('is refused by the parser when it breaks the spec (the check can fail)', async () => {
    const doc = asyncApiDocument(shopCatalog, config, { title: 'shop', version: '1.2.3' }) as Record<
      string,
      unknown
    >;
    expect(await errorsOf({ ...doc, asyncapi: '3.0.0', info: { title: 'no version' } })).not.toEqual([]);
    const broken = JSON.parse(JSON.stringify(doc)) as {
      components: { messages: Record<string, { payload: { schema: unknown } }> };
    };
    broken.components.messages.UserCreated!.payload.schema = { type: 'record', fields: 'nope' };
    expect(await errorsOf(broken)).not.toEqual([]);
  });
});
