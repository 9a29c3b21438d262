/**
 * The ingestion app's routing, auth, validation and error mapping, through `app.inject` with a
 * stand-in publisher (no broker). That the events really land in Kafka is the integration test's job.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { initLogger } from '../../lib/logger.js';
import { buildIngestServer } from '../../producers/http/server.js';
import type { IngestPublisher } from '../../producers/http/routes.js';
import type { ReadinessProbe } from '../../producers/http/readiness.js';
import { shopApp, shopCatalog, topicOf } from '../helpers/shop.js';
import type { TributaryEvent } from '../helpers/shop.js';

const WRITER = 'writer-key-0123456789abcdef';
const READER = 'reader-key-0123456789abcdef';
const logger = initLogger({ level: 'silent' });
const user = { userId: 'u-1', email: 'ada@example.com', name: 'Ada', plan: 'FREE', country: 'GB' };

/** Stands in for the Publisher: records batches, or fails like a broker that is down. */
class FakePublisher implements IngestPublisher {
  readonly batches: TributaryEvent[][] = [];
  failure: Error | undefined;

  async publishBatch(events: readonly TributaryEvent[]) {
    if (this.failure) throw this.failure;
    this.batches.push([...events]);
    return events.map((e) => ({ eventId: e.data.eventId, type: e.type, topic: topicOf(e.type) }));
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function setup(env: Record<string, string> = {}, probes: ReadinessProbe[] = []) {
  const config = loadConfig({
    TRIBUTARY_AUTH_API_KEYS: `writer:${WRITER}=ingest,query; reader:${READER}=query`,
    ...env,
  });
  const publisher = new FakePublisher();
  const server = await buildIngestServer({
    catalog: shopCatalog,
    appRoutes: shopApp.ingestRoutes,
    config,
    logger,
    publisher,
    probes,
  });
  closers.push(() => server.app.close());
  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    server.app.inject({
      method: 'POST',
      url,
      headers: { 'x-api-key': WRITER, 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  return { server, app: server.app, publisher, post };
}

describe('POST /events', () => {
  it('publishes one event and answers 202 with its id once acknowledged', async () => {
    const { post, publisher } = await setup();
    const res = await post('/events', { type: 'UserCreated', data: user });
    expect(res.statusCode).toBe(202);
    const { eventIds } = res.json<{ eventIds: string[] }>();
    expect(publisher.batches).toHaveLength(1);
    const [event] = publisher.batches[0]!;
    expect(event).toMatchObject({ type: 'UserCreated', data: { ...user, eventId: eventIds[0] } });
    expect(typeof event!.data.occurredAt).toBe('number');
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('answers 400 with field paths for an invalid event, and publishes nothing', async () => {
    const { post, publisher } = await setup();
    const res = await post('/events', { type: 'UserCreated', data: { ...user, email: null, plan: 'GOLD' } });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: string; message: string; fields: { path: string }[] }>();
    expect(body.error).toBe('invalid_event');
    expect(body.fields.map((f) => f.path).sort()).toEqual(['data.email', 'data.plan']);
    expect(body.message).toMatch(/^data\.email: expected string, got null \(and 1 more problem\)$/);
    expect(publisher.batches).toHaveLength(0);
  });

  it('answers 400 naming data.occurredAt for an event time too far ahead of the clock', async () => {
    const { post, publisher } = await setup({ TRIBUTARY_MAX_CLOCK_SKEW_MS: '60000' });
    const ahead = await post('/events', {
      type: 'UserCreated',
      data: { ...user, occurredAt: new Date(Date.now() + 3600_000).toISOString() },
    });
    expect(ahead.statusCode).toBe(400);
    const body = ahead.json<{ error: string; fields: { path: string; message: string }[] }>();
    expect(body.error).toBe('invalid_event');
    expect(body.fields).toEqual([
      { path: 'data.occurredAt', message: expect.stringContaining('at most 60000 ms ahead of the clock') },
    ]);
    // The same in a batch (by index) and on a resource route (no data. prefix).
    const batch = await post('/events/batch', [
      { type: 'UserCreated', data: user },
      { type: 'UserCreated', data: { ...user, occurredAt: Date.now() + 3600_000 } },
    ]);
    expect(batch.statusCode).toBe(400);
    expect(batch.json()).toMatchObject({ fields: [{ path: '[1].data.occurredAt' }] });
    const created = await post('/users', { ...user, occurredAt: Date.now() + 3600_000 });
    expect(created.statusCode).toBe(400);
    expect(created.json()).toMatchObject({ fields: [{ path: 'occurredAt' }] });
    expect(publisher.batches).toHaveLength(0);
    // Within the skew it is taken as given.
    const soon = Date.now() + 30_000;
    expect(
      (await post('/events', { type: 'UserCreated', data: { ...user, occurredAt: soon } })).statusCode,
    ).toBe(202);
    expect(publisher.batches[0]![0]!.data.occurredAt).toBe(soon);
  });

  it('answers 400 for an unknown type, invalid JSON, an empty body, and 415 for other content types', async () => {
    const { post } = await setup();
    const unknown = await post('/events', { type: 'UserExploded', data: {} });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ error: 'unknown_event_type', fields: [{ path: 'type' }] });
    const broken = await post('/events', '{"type": "UserCreated", "data": {');
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toEqual({ error: 'invalid_json', message: 'the body is not valid JSON' });
    expect((await post('/events', '')).json()).toMatchObject({ error: 'invalid_json' });
    const poisoned = await post('/events', '{"type":"UserCreated","data":{},"__proto__":{"x":1}}');
    expect(poisoned.statusCode).toBe(400);
    const xml = await post('/events', '<event/>', { 'content-type': 'application/xml' });
    expect(xml.statusCode).toBe(415);
    expect(xml.json()).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('answers 413 past the body limit', async () => {
    const { post } = await setup({ TRIBUTARY_INGEST_BODY_LIMIT_BYTES: '512' });
    const res = await post('/events', { type: 'UserCreated', data: { ...user, name: 'x'.repeat(600) } });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ error: 'payload_too_large', message: 'the body exceeds 512 bytes' });
  });

  it('answers 503 with Retry-After when the publisher cannot reach Kafka', async () => {
    const { post, publisher, app } = await setup();
    publisher.failure = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), {
      name: 'KafkaJSConnectionError',
    });
    const res = await post('/events', { type: 'UserCreated', data: user });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    // A retry is safe only with the same eventId, within the consumers' de-duplication horizon.
    expect(res.json()).toMatchObject({
      error: 'unavailable',
      message: expect.stringContaining(
        'consumers apply an event id once within their de-duplication horizon',
      ),
    });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain(
      'tributary_ingest_requests_rejected_total{reason="unavailable",service="ingest"} 1',
    );
    expect(metrics).toContain(
      'tributary_ingest_publish_duration_seconds_count{service="ingest",outcome="failed"} 1',
    );
  });
});

describe('auth', () => {
  it('answers 401 without or with a bad credential, before reading the body', async () => {
    const { app } = await setup();
    const none = await app.inject({
      method: 'POST',
      url: '/events',
      payload: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer');
    expect(none.json()).toMatchObject({ error: 'unauthorized' });
    const bad = await app.inject({
      method: 'POST',
      url: '/events',
      headers: { authorization: 'Bearer not-a-real-key-at-all' },
    });
    expect(bad.statusCode).toBe(401);
  });

  it('answers 403 when the credential lacks the ingest scope', async () => {
    const { post } = await setup();
    const res = await post('/events', { type: 'UserCreated', data: user }, { 'x-api-key': READER });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: 'forbidden', message: expect.stringContaining('"ingest"') });
    expect(res.headers['www-authenticate']).toContain('insufficient_scope');
  });

  it('accepts the key as a bearer token too', async () => {
    const { app } = await setup();
    const ok = await app.inject({
      method: 'POST',
      url: '/events',
      headers: { authorization: `Bearer ${WRITER}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ type: 'UserCreated', data: user }),
    });
    expect(ok.statusCode).toBe(202);
  });

  it('answers malformed URLs and overlong ids in the same error shape', async () => {
    const { app } = await setup();
    const long = await app.inject({
      method: 'DELETE',
      url: `/users/${'x'.repeat(300)}`,
      headers: { 'x-api-key': WRITER },
    });
    expect(long.statusCode).toBe(414);
    expect(long.json()).toMatchObject({ error: 'invalid_request' });
    const ok = await app.inject({
      method: 'DELETE',
      url: `/users/${'x'.repeat(256)}`,
      headers: { 'x-api-key': WRITER },
    });
    expect(ok.statusCode).toBe(202);
  });
});

describe('rate limit', () => {
  it('answers 429 past the per-key limit, counting refused credentials per IP', async () => {
    const { post, app } = await setup({ TRIBUTARY_INGEST_RATE_LIMIT_PER_MINUTE: '3' });
    for (let i = 0; i < 3; i++)
      expect((await post('/events', { type: 'UserCreated', data: user })).statusCode).toBe(202);
    const limited = await post('/events', { type: 'UserCreated', data: user });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);

    // Another caller has a bucket of its own; guessing keys from one IP is limited too.
    for (let i = 0; i < 3; i++)
      expect((await post('/events', {}, { 'x-api-key': `guess-${i}-0123456789abcdef` })).statusCode).toBe(
        401,
      );
    expect((await post('/events', {}, { 'x-api-key': 'guess-4-0123456789abcdef' })).statusCode).toBe(429);
    // Health endpoints are never limited.
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('trust proxy', () => {
  /** An unauthenticated request (401), counted in the bucket of the client IP the server sees. */
  const knock = (app: Awaited<ReturnType<typeof setup>>['app'], from: string, forwardedFor?: string) =>
    app
      .inject({
        method: 'POST',
        url: '/events',
        remoteAddress: from,
        headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
      })
      .then((r) => r.statusCode);

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy: spoofing buys no new bucket', async () => {
    for (const env of [{}, { TRIBUTARY_INGEST_TRUST_PROXY: '10.0.0.1' }] as Record<string, string>[]) {
      const { app } = await setup({ TRIBUTARY_INGEST_RATE_LIMIT_PER_MINUTE: '2', ...env });
      const statuses: number[] = [];
      for (let i = 1; i <= 4; i++) statuses.push(await knock(app, '192.0.2.7', `198.51.100.${i}`));
      expect(statuses).toEqual([401, 401, 429, 429]);
    }
  });

  it('takes the client IP from a trusted proxy, and only the hop that proxy added', async () => {
    const { app } = await setup({
      TRIBUTARY_INGEST_RATE_LIMIT_PER_MINUTE: '2',
      TRIBUTARY_INGEST_TRUST_PROXY: '10.0.0.0/8',
    });
    expect(await knock(app, '10.0.0.1', '203.0.113.1')).toBe(401);
    // A value the client put in front of what the proxy appended is not believed.
    expect(await knock(app, '10.0.0.2', '198.51.100.9, 203.0.113.1')).toBe(401);
    expect(await knock(app, '10.0.0.1', '203.0.113.1')).toBe(429);
    // Another client behind the same proxy has a bucket of its own, and so does the proxy itself.
    expect(await knock(app, '10.0.0.1', '203.0.113.2')).toBe(401);
    expect(await knock(app, '10.0.0.1')).toBe(401);
  });
});

describe('POST /events/batch', () => {
  it('publishes a JSON array or NDJSON in order, in one batch', async () => {
    const { post, publisher } = await setup();
    const events = [1, 2, 3].map((i) => ({ type: 'UserCreated', data: { ...user, userId: `u-${i}` } }));
    const res = await post('/events/batch', events);
    expect(res.statusCode).toBe(202);
    expect(res.json<{ eventIds: string[] }>().eventIds).toHaveLength(3);
    expect(publisher.batches[0]!.map((e) => e.data.userId)).toEqual(['u-1', 'u-2', 'u-3']);

    const ndjson = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    const nd = await post('/events/batch', ndjson, { 'content-type': 'application/x-ndjson' });
    expect(nd.statusCode).toBe(202);
    expect(publisher.batches[1]).toHaveLength(3);
  });

  it('refuses the whole batch when one event is invalid, naming its index', async () => {
    const { post, publisher } = await setup();
    const res = await post('/events/batch', [
      { type: 'UserCreated', data: user },
      { type: 'UserCreated', data: { ...user, country: 1 } },
    ]);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ fields: [{ path: '[1].data.country' }] });
    const badLine = await post('/events/batch', '{"type":"UserCreated"}\n{nope', {
      'content-type': 'application/x-ndjson',
    });
    expect(badLine.statusCode).toBe(400);
    expect(badLine.json()).toMatchObject({
      error: 'invalid_json',
      fields: [{ path: '[1]', message: 'line 2 is not valid JSON' }],
    });
    expect((await post('/events/batch', [])).json()).toMatchObject({
      error: 'invalid_event',
      message: 'the batch is empty',
    });
    expect((await post('/events/batch', { type: 'UserCreated' })).statusCode).toBe(400);
    expect(publisher.batches).toHaveLength(0);
  });

  it('answers 413 past the configured number of events', async () => {
    const { post } = await setup({ TRIBUTARY_INGEST_BATCH_MAX_EVENTS: '2' });
    const events = [1, 2, 3].map(() => ({ type: 'UserCreated', data: user }));
    const res = await post('/events/batch', events);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({
      error: 'batch_too_large',
      message: expect.stringContaining('at most 2 events'),
    });
    const nd = await post('/events/batch', events.map((e) => JSON.stringify(e)).join('\n'), {
      'content-type': 'application/x-ndjson',
    });
    expect(nd.statusCode).toBe(413);
  });
});

describe('user resource routes', () => {
  it('POST /users emits UserCreated, generating the userId', async () => {
    const { post, publisher } = await setup();
    const noId = { email: user.email, name: user.name, plan: user.plan, country: user.country };
    const res = await post('/users', noId);
    expect(res.statusCode).toBe(202);
    const body = res.json<{ eventIds: string[]; userId: string }>();
    expect(body.userId).toMatch(/^[0-9a-f-]{36}$/);
    expect(publisher.batches[0]![0]).toMatchObject({
      type: 'UserCreated',
      data: { ...noId, userId: body.userId },
    });
    const invalid = await post('/users', { ...noId, email: 1 });
    expect(invalid.json()).toMatchObject({ error: 'invalid_event', fields: [{ path: 'email' }] });
  });

  it('PATCH /users/:id emits UserUpdated with only the given fields', async () => {
    const { app, publisher } = await setup();
    const patch = (id: string, payload: unknown) =>
      app.inject({
        method: 'PATCH',
        url: `/users/${id}`,
        headers: { 'x-api-key': WRITER },
        payload: payload as object,
      });
    expect((await patch('u-9', { plan: 'PRO' })).statusCode).toBe(202);
    expect(publisher.batches[0]![0]!.data).toMatchObject({
      userId: 'u-9',
      plan: 'PRO',
      email: null,
      name: null,
      country: null,
    });
    expect((await patch('u-9', {})).json()).toMatchObject({
      error: 'invalid_event',
      message: expect.stringContaining('nothing to update'),
    });
    expect((await patch('u-9', { userId: 'u-8', name: 'x' })).json()).toMatchObject({
      fields: [{ path: 'userId' }],
    });
    expect((await patch('u-9', { plan: 'GOLD' })).json()).toMatchObject({ fields: [{ path: 'plan' }] });
  });

  it('DELETE /users/:id emits UserDeleted with a reason', async () => {
    const { app, publisher } = await setup();
    const del = (url: string) => app.inject({ method: 'DELETE', url, headers: { 'x-api-key': WRITER } });
    expect((await del('/users/u-7')).statusCode).toBe(202);
    expect((await del('/users/u-7?reason=USER_REQUEST')).statusCode).toBe(202);
    expect(publisher.batches.map((b) => b[0]!.data)).toMatchObject([
      { userId: 'u-7', reason: 'OTHER' },
      { userId: 'u-7', reason: 'USER_REQUEST' },
    ]);
    const bad = await del('/users/u-7?reason=BORED');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid_request', fields: [{ path: 'querystring.reason' }] });
  });
});

describe('health, metrics, OpenAPI', () => {
  it('reports readiness from the probes, without credentials', async () => {
    let up = true;
    const probe: ReadinessProbe = {
      name: 'kafka',
      check: async () => {
        if (!up) throw new Error('connect ECONNREFUSED');
      },
    };
    const { app } = await setup({}, [probe]);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({
      status: 'ready',
      checks: { kafka: 'ok' },
    });
    up = false;
    await new Promise((r) => setTimeout(r, 1_050)); // past the readiness cache
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({ status: 'not_ready', checks: { kafka: 'connect ECONNREFUSED' } });
  });

  it('counts requests by route and status, and accepted events by type', async () => {
    const { app, post } = await setup();
    await post('/events', { type: 'UserCreated', data: user });
    await post('/events', { type: 'Nope', data: {} });
    await app.inject({ method: 'GET', url: '/no/such/route' });
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('tributary_ingest_events_accepted_total{type="UserCreated",service="ingest"} 1');
    expect(text).toContain(
      'tributary_ingest_requests_rejected_total{reason="unknown_event_type",service="ingest"} 1',
    );
    expect(text).toContain(
      'tributary_http_requests_total{method="POST",route="/events",status="202",service="ingest"} 1',
    );
    expect(text).toContain(
      'tributary_http_requests_total{method="GET",route="unmatched",status="404",service="ingest"} 1',
    );
    expect(text).toContain('tributary_process_cpu_seconds_total');
  });

  it('serves an OpenAPI 3.1 document whose bodies come from the Avro schemas', async () => {
    const { app } = await setup();
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { oneOf?: unknown[] } }> } }>
      >;
    }>();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/events',
      '/events/batch',
      '/healthz',
      '/readyz',
      '/users',
      '/users/{id}',
    ]);
    const single = doc.paths['/events']!.post!.requestBody!.content['application/json']!.schema;
    expect(single.oneOf).toHaveLength(7);
    const created = (
      single.oneOf as { properties: { data: { required: string[]; properties: Record<string, unknown> } } }[]
    )[0]!;
    expect(created.properties.data.required.sort()).toEqual(['country', 'email', 'name', 'plan', 'userId']);
    expect(Object.keys(doc.paths['/events/batch']!.post!.requestBody!.content).sort()).toEqual([
      'application/json',
      'application/x-ndjson',
    ]);
  });

  it('serves the AsyncAPI document of the app’s topics without credentials', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/asyncapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<{ asyncapi: string; channels: Record<string, { address: string }> }>();
    expect(doc.asyncapi).toBe('3.0.0');
    expect(Object.keys(doc.channels)).toEqual(shopCatalog.topics.map((t) => t.name));
  });

  it('answers 404 in the same shape', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'not_found', message: 'no route GET /nope' });
  });
});

describe('auth disabled', () => {
  it('lets anyone publish when TRIBUTARY_AUTH_DISABLED=true', async () => {
    const { app } = await setup({ TRIBUTARY_AUTH_API_KEYS: '', TRIBUTARY_AUTH_DISABLED: 'true' });
    const res = await app.inject({
      method: 'POST',
      url: '/events',
      payload: { type: 'UserCreated', data: user },
    });
    expect(res.statusCode).toBe(202);
  });

  it('refuses to build with no credentials and auth not disabled', async () => {
    const config = loadConfig({});
    await expect(
      buildIngestServer({
        catalog: shopCatalog,
        appRoutes: shopApp.ingestRoutes,
        config,
        logger,
        publisher: new FakePublisher(),
        probes: [],
      }),
    ).rejects.toThrow(/no HTTP credentials/);
  });
});
