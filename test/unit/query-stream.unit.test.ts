/**
 * The caps of `GET /stream` under concurrent connects, over a real loopback listener. Redis is a
 * stand-in whose subscription takes a while to open: that wait is the window in which a burst of
 * connects would all pass a check made before it. What streams over a real Redis is the integration
 * test's job (query-http.int.test.ts).
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { initLogger } from '../../lib/logger.js';
import { fixedPartitionCounts } from '../../lib/read-models/source.js';
import { buildQueryServer } from '../../query/server.js';
import { until } from '../helpers/until.js';
import { shopModels, shopCatalog } from '../helpers/shop.js';

const logger = initLogger({ level: 'silent' });
const KEYS = Array.from({ length: 5 }, (_, i) => `stream-key-${i}-0123456789abcdef`);

/** A Redis whose subscriber connects after `delayMs`, or fails to while `failing` is set. */
function slowRedis(delayMs: number) {
  const state = { failing: false, subscribers: 0 };
  class Subscriber extends EventEmitter {
    async connect() {
      await new Promise((r) => setTimeout(r, delayMs));
      if (state.failing) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      state.subscribers++;
    }
    async subscribe() {}
    async quit() {}
    disconnect() {}
  }
  const redis = { duplicate: () => new Subscriber(), ping: async () => 'PONG' } as unknown as Redis;
  return { redis, state };
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function serve(env: Record<string, string>) {
  const config = loadConfig({
    TRIBUTARY_AUTH_API_KEYS: KEYS.map((k, i) => `c${i}:${k}=query`).join(';'),
    TRIBUTARY_QUERY_RATE_LIMIT_PER_MINUTE: '0',
    ...env,
  });
  const { redis, state } = slowRedis(50);
  const source = {
    redis,
    keyPrefix: config.redis.keyPrefix,
    topicPrefix: config.topics.prefix,
    partitions: fixedPartitionCounts(3),
  };
  const server = await buildQueryServer({ catalog: shopCatalog, models: shopModels, config, logger, source });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  closers.push(async () => {
    const closing = server.app.close();
    // The fetch client keeps refused requests' connections alive for seconds: do not wait for them.
    server.app.server.closeAllConnections();
    await closing;
  });
  const url = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}/stream`;
  const streams: AbortController[] = [];
  closers.push(async () => streams.forEach((s) => s.abort()));

  /** Connects with `key`; a 200 stays open (until `closeAll`), a refusal is read to its end. */
  const connect = async (key: string) => {
    const controller = new AbortController();
    const res = await fetch(url, { headers: { 'x-api-key': key }, signal: controller.signal });
    if (res.status === 200) streams.push(controller);
    const body = res.status === 200 ? undefined : ((await res.json()) as { error: string; message: string });
    return { key, status: res.status, body };
  };
  const closeAll = () => streams.splice(0).forEach((s) => s.abort());
  return { server, state, connect, closeAll };
}

describe('GET /stream caps', () => {
  it('never holds more streams than the cap, however many connect at once', async () => {
    const { server, connect, closeAll } = await serve({
      TRIBUTARY_QUERY_STREAM_MAX_CLIENTS: '10',
      TRIBUTARY_QUERY_STREAM_MAX_CLIENTS_PER_KEY: '4',
    });
    // 30 connects, six from each of five keys, all in flight during the subscription's wait.
    const results = await Promise.all(KEYS.flatMap((k) => Array.from({ length: 6 }, () => connect(k))));
    const open = results.filter((r) => r.status === 200);
    expect(open).toHaveLength(10);
    expect(server.hub.size).toBe(10);
    expect(server.hub.reservedSlots).toBe(10);
    for (const key of KEYS) expect(open.filter((r) => r.key === key).length).toBeLessThanOrEqual(4);
    for (const r of results.filter((x) => x.status !== 200)) {
      if (r.status === 429) {
        // Only a key that already held its share is told so.
        expect(open.filter((o) => o.key === r.key)).toHaveLength(4);
        expect(r.body).toMatchObject({
          error: 'rate_limited',
          message: expect.stringContaining('live streams'),
        });
      } else {
        expect(r.status).toBe(503);
        expect(r.body).toEqual({ error: 'unavailable', message: 'too many stream clients; retry later' });
      }
    }

    // Every slot comes back when its client leaves, and can be taken again.
    closeAll();
    await until(async () => server.hub.reservedSlots === 0 && server.hub.size === 0, 'slots released', {
      timeoutMs: 5_000,
    });
    const again = await Promise.all(Array.from({ length: 12 }, (_, i) => connect(KEYS[i % 5]!)));
    expect(again.filter((r) => r.status === 200)).toHaveLength(10);
  });

  it('keeps one credential to its share, leaving room for the others', async () => {
    const { server, connect } = await serve({
      TRIBUTARY_QUERY_STREAM_MAX_CLIENTS: '10',
      TRIBUTARY_QUERY_STREAM_MAX_CLIENTS_PER_KEY: '3',
    });
    const burst = await Promise.all(Array.from({ length: 8 }, () => connect(KEYS[0]!)));
    expect(burst.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    expect((await connect(KEYS[1]!)).status).toBe(200);
    expect(server.hub.reservedSlots).toBe(4);
  });

  it('gives the slot back when the subscription cannot be opened', async () => {
    const { server, state, connect } = await serve({
      TRIBUTARY_QUERY_STREAM_MAX_CLIENTS: '2',
      TRIBUTARY_QUERY_STREAM_MAX_CLIENTS_PER_KEY: '2',
    });
    state.failing = true;
    const failed = await Promise.all(Array.from({ length: 4 }, () => connect(KEYS[0]!)));
    expect(failed.map((r) => r.status)).toEqual([503, 503, 503, 503]);
    expect(failed.filter((r) => r.body?.message.includes('cannot be subscribed to')).length).toBeGreaterThan(
      0,
    );
    expect(server.hub.reservedSlots).toBe(0);
    state.failing = false;
    const ok = await Promise.all([connect(KEYS[0]!), connect(KEYS[0]!)]);
    expect(ok.map((r) => r.status)).toEqual([200, 200]);
    expect(state.subscribers).toBe(1);
  });
});
