/**
 * The query app's routing, auth, parameter checks and error mapping through `app.inject`. Nothing
 * here reaches a Redis server: every request is refused before a read, or meets a Redis that
 * cannot be reached (a closed port) and must answer 503. Answers from real read models are the
 * integration test's job (query-http.int.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { loadConfig } from '../../lib/config.js';
import { initLogger } from '../../lib/logger.js';
import { encodeCursor } from '../../lib/read-models/cursor.js';
import { fixedPartitionCounts, openReadModelSource } from '../../lib/read-models/source.js';
import { buildQueryServer } from '../../query/server.js';
import { defineReader } from '../../lib/read-models/reader.js';
import { shopModels, shopCatalog } from '../helpers/shop.js';

/** A model whose readers fail on their own, before any Redis: a bug, and a bad parameter. */
const faulty = {
  name: 'faulty',
  readers: {
    bug: defineReader({
      description: 'throws',
      answer: { type: 'object' },
      read: () => Promise.reject(new Error('a reader bug')),
    }),
  },
};

const READER = 'reader-key-0123456789abcdef';
const WRITER = 'writer-key-0123456789abcdef';
const SECRET = 'a-test-secret-of-at-least-32-characters!';
const logger = initLogger({ level: 'silent' });

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function setup(env: Record<string, string> = {}) {
  const config = loadConfig({
    TRIBUTARY_AUTH_API_KEYS: `reader:${READER}=query; writer:${WRITER}=ingest`,
    TRIBUTARY_AUTH_JWT_SECRET: SECRET,
    // Nothing listens here: reads that get as far as Redis fail at once.
    TRIBUTARY_REDIS_URL: 'redis://127.0.0.1:1',
    ...env,
  });
  const source = openReadModelSource(config, logger, { partitions: fixedPartitionCounts(3) });
  const server = await buildQueryServer({
    catalog: shopCatalog,
    models: [...shopModels, faulty],
    config,
    logger,
    source,
  });
  closers.push(async () => {
    await server.app.close();
    await source.close();
  });
  const get = (url: string, headers: Record<string, string> = { 'x-api-key': READER }) =>
    server.app.inject({ method: 'GET', url, headers });
  return { server, app: server.app, get };
}

describe('query service: auth', () => {
  it('asks for a credential (401), refuses one without the query scope (403), takes the right one', async () => {
    const { get } = await setup();
    const none = await get('/models/users/list', {});
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer');
    expect(none.json()).toMatchObject({ error: 'unauthorized' });
    expect((await get('/models/users/list', { 'x-api-key': 'wrong-key-0123456789abcdef' })).statusCode).toBe(
      401,
    );
    const writer = await get('/models/users/list', { 'x-api-key': WRITER });
    expect(writer.statusCode).toBe(403);
    expect(writer.json()).toMatchObject({
      error: 'forbidden',
      message: 'this credential lacks the "query" scope',
    });
    // With the scope, the request gets as far as Redis (which is down here).
    expect((await get('/models/users/list')).statusCode).toBe(503);
  });

  it('takes a JWT with the query scope and refuses one without', async () => {
    const { get } = await setup();
    const token = (scope: string) =>
      new SignJWT({ scope })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('analyst')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(SECRET));
    expect(
      (await get('/models/users/get?id=u-1', { authorization: `Bearer ${await token('ingest')}` }))
        .statusCode,
    ).toBe(403);
    expect(
      (await get('/models/users/get?id=u-1', { authorization: `Bearer ${await token('query ingest')}` }))
        .statusCode,
    ).toBe(503);
  });

  it('serves health, OpenAPI and metrics without credentials', async () => {
    const { get } = await setup();
    expect((await get('/healthz', {})).json()).toEqual({ status: 'ok' });
    const ready = await get('/readyz', {});
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'not_ready', checks: { redis: expect.any(String) } });
    const doc = (await get('/openapi.json', {})).json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/analytics/counts',
      '/analytics/revenue',
      '/analytics/top-pages',
      '/analytics/unique-users',
      '/healthz',
      '/models/faulty/bug',
      '/models/orders/of-user',
      '/models/user-count/total',
      '/models/users/get',
      '/models/users/list',
      '/readyz',
      '/stream',
    ]);
    expect((await get('/metrics', {})).body).toContain('tributary_http_requests_total');
  });
});

describe('query service: parameters', () => {
  it('answers 400 naming each bad parameter, never reaching Redis', async () => {
    const { get } = await setup();
    const cases: [string, string][] = [
      ['/models/users/list?limit=0', 'querystring.limit'],
      ['/models/users/list?limit=501', 'querystring.limit'],
      ['/models/users/list?limit=ten', 'querystring.limit'],
      ['/models/users/list?cursor=%21%21', 'querystring.cursor'],
      [`/models/users/list?cursor=${encodeCursor('orders', ['v1', 1, 'o-1'])}`, 'querystring.cursor'],
      ['/models/orders/of-user?userId=u-1&cursor=garbage', 'querystring.cursor'],
      [
        `/models/orders/of-user?userId=u-1&cursor=${encodeCursor('orders', ['v1', 'x', 'o-1'])}`,
        'querystring.cursor',
      ],
      ['/models/orders/of-user?userId=u-1&limit=-3', 'querystring.limit'],
      ['/analytics/counts?from=yesterday', 'querystring.from'],
      ['/analytics/counts?to=2026-02-30T00:00:00Z', 'querystring.to'],
      ['/analytics/revenue?from=now&to=now-1h', 'querystring.from'],
      ['/analytics/unique-users?window=sliding', 'querystring.window'],
      ['/analytics/top-pages?limit=1000', 'querystring.limit'],
      ['/stream?events=bad%20name', 'querystring.events'],
    ];
    for (const [url, path] of cases) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      const body = res.json<{ error: string; fields: { path: string }[] }>();
      expect(
        body.fields.map((f) => f.path),
        url,
      ).toContain(path);
      expect(['invalid_request', 'invalid_cursor']).toContain(body.error);
    }
  });

  it('answers 404 in the common error shape for unknown routes and methods', async () => {
    const { app, get } = await setup();
    expect((await get('/nope')).json()).toMatchObject({ error: 'not_found' });
    const post = await app.inject({
      method: 'POST',
      url: '/models/users/list',
      headers: { 'x-api-key': READER },
    });
    expect(post.statusCode).toBe(404);
    expect((await get(`/models/users/get?id=${'x'.repeat(300)}`)).statusCode).toBe(400);
  });

  it('answers 500, not a 503 that invites retries, when a reader itself fails', async () => {
    const { get } = await setup();
    const res = await get('/models/faulty/bug');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ error: 'internal' });
  });

  it('answers 503 with Retry-After, not 500, while Redis is unreachable', async () => {
    const { get } = await setup();
    for (const url of [
      '/models/users/list',
      '/models/users/get?id=u-1',
      '/models/orders/of-user?userId=u-1',
      '/analytics/counts',
      '/stream',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(503);
      expect(res.headers['retry-after'], url).toBeDefined();
      expect(res.json(), url).toMatchObject({ error: 'unavailable' });
    }
  });

  it('rate-limits per credential with 429 in the same shape', async () => {
    const { get } = await setup({ TRIBUTARY_QUERY_RATE_LIMIT_PER_MINUTE: '2' });
    await get('/models/users/list?limit=0');
    await get('/models/users/list?limit=0');
    const limited = await get('/models/users/list?limit=0');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: 'rate_limited' });
    expect(limited.headers['retry-after']).toBeDefined();
  });
});
