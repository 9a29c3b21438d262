/**
 * The HTTP ingestion service on the real stack with the real Publisher: what it answers 202 for is
 * on the right topic, keyed by aggregate, with `event-type` / `event-id` headers, and decodes to
 * what was sent; what it refuses (400/401/403/413/429) leaves the topics empty; a shutdown in the
 * middle of traffic loses nothing it acknowledged.
 */
import type { Admin, KafkaMessage } from 'kafkajs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import type { TributaryConfig } from '../../lib/config.js';
import { engineNames } from '../../lib/engines/index.js';
import { createKafka } from '../../lib/kafka.js';
import { buildIngestServer } from '../../producers/http/server.js';
import { startIngestService } from '../../producers/http/service.js';
import type { IngestService } from '../../producers/http/service.js';
import { EventCodec } from '../../schemas/codec.js';
import { createSchemaRegistryClient } from '../../schemas/registry.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, uid } from '../helpers/stack.js';
import { shopApp, shopCatalog } from '../helpers/shop.js';

const WRITER = `writer-${uid()}-0123456789`;
const READER = `reader-${uid()}-0123456789`;
const LIMITED = `limited-${uid()}-0123456789`;

interface Received {
  readonly topic: string;
  readonly message: KafkaMessage;
}

async function setup(env: Record<string, string> = {}): Promise<{
  config: TributaryConfig;
  admin: Admin;
  service: IngestService;
}> {
  const config = testConfig({
    TRIBUTARY_AUTH_API_KEYS: `writer:${WRITER}=ingest,query; reader:${READER}=query; limited:${LIMITED}=ingest`,
    ...env,
  });
  const admin = await testAdmin(config);
  cleanupTopics(config, admin);
  await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
  const service = await startIngestService({
    catalog: shopCatalog,
    appRoutes: shopApp.ingestRoutes,
    config,
    logger: testLogger(),
    host: '127.0.0.1',
    port: 0,
  });
  onTestFinished(async () => {
    await service.close();
  });
  return { config, admin, service };
}

function call(
  service: IngestService,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  const json: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  return fetch(`${service.url}${path}`, {
    method,
    headers: { 'x-api-key': WRITER, ...json, ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

/** Reads `expected` records from the test's data topics with a fresh consumer group. */
async function readRecords(config: TributaryConfig, expected: number): Promise<Received[]> {
  const p = config.topics.prefix;
  const consumer = createKafka(config, testLogger()).consumer({ groupId: `ingest-read-${uid()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [`${p}users`, `${p}orders`, `${p}page-views`], fromBeginning: true });
  const out: Received[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${out.length}/${expected} records within 60 s`)),
        60_000,
      );
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) out.push({ topic: batch.topic, message });
          if (out.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Sum of the high watermarks of the test's data topics: how many records they hold. */
async function recordCount(admin: Admin, config: TributaryConfig): Promise<number> {
  let total = 0;
  for (const base of ['users', 'orders', 'page-views']) {
    for (const p of await admin.fetchTopicOffsets(`${config.topics.prefix}${base}`)) total += Number(p.high);
  }
  return total;
}

describe('HTTP ingestion service on the real stack', () => {
  it.each(engineNames)(
    'publishes exactly what it acknowledges (%s engine): topic, key, headers, payload',
    async (engine) => {
      const { config, service } = await setup({ TRIBUTARY_CLIENT_ENGINE: engine });
      expect(service.publisher.engine).toBe(engine);
      expect((await call(service, 'GET', '/readyz')).status).toBe(200);

      // The oracle: what each request should put on Kafka, written out by hand.
      const expected: {
        eventId: string;
        topic: string;
        key: string;
        type: string;
        data: Record<string, unknown>;
      }[] = [];
      const accept = async (res: Response, rows: Omit<(typeof expected)[number], 'eventId'>[]) => {
        expect(res.status, await res.clone().text()).toBe(202);
        const { eventIds } = (await res.json()) as { eventIds: string[] };
        expect(eventIds).toHaveLength(rows.length);
        rows.forEach((row, i) => expected.push({ ...row, eventId: eventIds[i]! }));
      };

      const ada = { userId: 'u-ada', email: 'ada@example.com', name: 'Ada', plan: 'PRO', country: 'GB' };
      await accept(
        await call(service, 'POST', '/events', {
          type: 'UserCreated',
          data: { ...ada, occurredAt: '2026-03-01T12:00:00.5Z' },
        }),
        [
          {
            topic: 'users',
            key: 'u-ada',
            type: 'UserCreated',
            data: { ...ada, occurredAt: Date.UTC(2026, 2, 1, 12, 0, 0, 500) },
          },
        ],
      );

      const order = {
        orderId: 'o-1',
        userId: 'u-ada',
        items: [{ sku: 'SKU-1', quantity: 2, unitPrice: 1250 }],
        totalAmount: 2500,
        currency: 'EUR',
        occurredAt: 1_767_225_600_000,
      };
      const view = {
        sessionId: 's-42',
        userId: null,
        url: 'https://shop.example/p?q=1',
        path: '/p',
        referrer: null,
        userAgent: null,
        occurredAt: 1_767_225_601_000,
      };
      const ndjson = [
        { type: 'OrderPlaced', data: order },
        { type: 'PageViewed', data: view },
      ]
        .map((e) => JSON.stringify(e))
        .join('\n');
      await accept(
        await call(service, 'POST', '/events/batch', ndjson, { 'content-type': 'application/x-ndjson' }),
        [
          { topic: 'orders', key: 'u-ada', type: 'OrderPlaced', data: order },
          { topic: 'page-views', key: 's-42', type: 'PageViewed', data: view },
        ],
      );

      const bob = {
        email: 'bob@example.com',
        name: 'Bob',
        plan: 'FREE',
        country: 'DE',
        occurredAt: 1_767_225_602_000,
      };
      const created = await call(service, 'POST', '/users', bob);
      const { userId: bobId } = (await created.clone().json()) as { userId: string };
      await accept(created, [
        { topic: 'users', key: bobId, type: 'UserCreated', data: { ...bob, userId: bobId } },
      ]);
      await accept(
        await call(service, 'PATCH', `/users/${bobId}`, {
          plan: 'ENTERPRISE',
          occurredAt: 1_767_225_603_000,
        }),
        [
          {
            topic: 'users',
            key: bobId,
            type: 'UserUpdated',
            data: {
              userId: bobId,
              email: null,
              name: null,
              plan: 'ENTERPRISE',
              country: null,
              occurredAt: 1_767_225_603_000,
            },
          },
        ],
      );
      await accept(await call(service, 'DELETE', `/users/${bobId}?reason=USER_REQUEST`), [
        { topic: 'users', key: bobId, type: 'UserDeleted', data: { userId: bobId, reason: 'USER_REQUEST' } },
      ]);

      const records = await readRecords(config, expected.length);
      expect(records).toHaveLength(expected.length);
      const codec = new EventCodec({
        catalog: shopCatalog,
        registry: createSchemaRegistryClient(config),
        topicPrefix: config.topics.prefix,
        schemaIds: 'lookup',
      });
      const byId = new Map(records.map((r) => [r.message.headers!['event-id']!.toString(), r]));
      for (const want of expected) {
        const got = byId.get(want.eventId);
        expect(got, `record of ${want.type} ${want.eventId}`).toBeDefined();
        expect(got!.topic).toBe(`${config.topics.prefix}${want.topic}`);
        expect(got!.message.key!.toString()).toBe(want.key);
        expect(got!.message.headers!['event-type']!.toString()).toBe(want.type);
        const event = await codec.decode(got!.message.value);
        expect(event.type).toBe(want.type);
        expect(event.data).toMatchObject({ ...want.data, eventId: want.eventId });
        expect(typeof event.data.occurredAt).toBe('number');
      }
      // Bob's three events kept their order in his partition.
      const bobs = records
        .filter((r) => r.message.key?.toString() === bobId)
        .map((r) => r.message.headers!['event-type']!.toString());
      expect(bobs).toEqual(['UserCreated', 'UserUpdated', 'UserDeleted']);

      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      expect(metrics).toContain(
        'tributary_ingest_events_accepted_total{type="UserCreated",service="ingest"} 2',
      );
    },
  );

  it('refuses bad requests with 400/401/403/413/429 and publishes none of them', async () => {
    const { config, admin, service } = await setup({
      TRIBUTARY_INGEST_BODY_LIMIT_BYTES: '4096',
      TRIBUTARY_INGEST_BATCH_MAX_EVENTS: '3',
      TRIBUTARY_INGEST_RATE_LIMIT_PER_MINUTE: '5',
    });
    const user = { userId: 'u-1', email: 'a@example.com', name: 'A', plan: 'FREE', country: 'FR' };

    const invalid = await call(service, 'POST', '/events', {
      type: 'UserCreated',
      data: { ...user, email: 42 },
    });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ error: 'invalid_event', fields: [{ path: 'data.email' }] });
    const unknown = await call(service, 'POST', '/events', { type: 'UserVanished', data: user });
    expect(unknown.status).toBe(400);
    const broken = await call(service, 'POST', '/events', '{"type":');
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ error: 'invalid_json' });
    const huge = await call(service, 'POST', '/events', {
      type: 'UserCreated',
      data: { ...user, name: 'x'.repeat(5000) },
    });
    expect(huge.status).toBe(413);
    // Fifth request of this key: still under the limit of 5.
    const many = await call(
      service,
      'POST',
      '/events/batch',
      [1, 2, 3, 4].map(() => ({ type: 'UserCreated', data: user })),
    );
    expect(many.status).toBe(413);
    expect(await many.json()).toMatchObject({ error: 'batch_too_large' });

    const anonymous = await call(
      service,
      'POST',
      '/events',
      { type: 'UserCreated', data: user },
      { 'x-api-key': '' },
    );
    expect(anonymous.status).toBe(401);
    const noHeader = await fetch(`${service.url}/events`, { method: 'POST' });
    expect(noHeader.status).toBe(401);
    expect(noHeader.headers.get('www-authenticate')).toContain('Bearer');
    const readOnly = await call(
      service,
      'POST',
      '/events',
      { type: 'UserCreated', data: user },
      { 'x-api-key': READER },
    );
    expect(readOnly.status).toBe(403);

    // The writer has used its 5 requests this minute; another key has its own budget.
    const limited = await call(service, 'POST', '/events', { type: 'UserCreated', data: user });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const other = await call(
      service,
      'POST',
      '/events',
      { type: 'UserCreated', data: { ...user, email: 1 } },
      { 'x-api-key': LIMITED },
    );
    expect(other.status).toBe(400);

    expect(await recordCount(admin, config)).toBe(0);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    for (const reason of [
      'invalid_event',
      'unknown_event_type',
      'invalid_json',
      'payload_too_large',
      'batch_too_large',
      'unauthorized',
      'forbidden',
      'rate_limited',
    ]) {
      expect(metrics).toContain(
        `tributary_ingest_requests_rejected_total{reason="${reason}",service="ingest"}`,
      );
    }
  });

  it('shuts down gracefully: requests in flight finish, nothing acknowledged is lost', async () => {
    const { config, service } = await setup({ TRIBUTARY_INGEST_RATE_LIMIT_PER_MINUTE: '0' });
    const bodies = Array.from({ length: 40 }, (_, i) => ({
      type: 'PageViewed',
      data: { sessionId: `s-${i % 7}`, url: `https://x.example/${i}`, path: `/${i}` },
    }));
    const inFlight = bodies.map(async (body) => {
      try {
        const res = await call(service, 'POST', '/events', body);
        return {
          status: res.status,
          ids: res.status === 202 ? ((await res.json()) as { eventIds: string[] }).eventIds : [],
        };
      } catch {
        return { status: 0, ids: [] as string[] }; // connection refused once the listener is closed
      }
    });
    // Close as soon as the first answer is in: the others are in flight, queued or not yet sent.
    await Promise.race(inFlight);
    expect(await service.close()).toBe(true);
    const outcomes = await Promise.all(inFlight);
    for (const o of outcomes) expect([0, 202, 503]).toContain(o.status);
    const acked = outcomes.flatMap((o) => o.ids);
    expect(acked.length).toBeGreaterThan(0);

    const records = await readRecords(config, acked.length);
    const ids = new Set(records.map((r) => r.message.headers!['event-id']!.toString()));
    for (const id of acked) expect(ids.has(id), `acknowledged event ${id} is on Kafka`).toBe(true);
  });

  it('answers 503 when the publisher cannot publish, and /readyz names what is unreachable', async () => {
    const { config, service } = await setup();
    // A registry nobody answers: the readiness probes are real, against the real broker too.
    const deadRegistry = {
      ...config,
      registry: { ...config.registry, url: { value: 'http://127.0.0.1:9/ccompat', external: true } },
    };
    const probed = await buildIngestServer({
      catalog: shopCatalog,
      appRoutes: shopApp.ingestRoutes,
      config: deadRegistry,
      logger: testLogger(),
      publisher: service.publisher,
      auth: service.auth.settings,
    });
    onTestFinished(() => probed.app.close());
    const ready = await probed.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    const report = ready.json<{ status: string; checks: Record<string, string> }>();
    expect(report.status).toBe('not_ready');
    expect(report.checks.kafka).toBe('ok');
    expect(report.checks['schema-registry']).not.toBe('ok');

    // The publisher of a service that is shutting down refuses to publish: same path as a broker outage.
    await service.publisher.close();
    const res = await call(service, 'POST', '/events', {
      type: 'UserCreated',
      data: { userId: 'u-1', email: 'a@example.com', name: 'A', plan: 'FREE', country: 'FR' },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toMatchObject({ error: 'unavailable' });
    expect((await call(service, 'GET', '/healthz')).status).toBe(200);
  });
});
