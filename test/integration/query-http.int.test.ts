/**
 * The query service on the real stack: read models built by the real projections from published
 * events, read over HTTP, and compared with oracles computed from the events alone. Also: the
 * partition a record lands in on a real broker (both producer engines) is the one `partitionOf`
 * computes; a rebuild's version swap is followed and expires older cursors; the live stream
 * delivers what is published on the analytics channel, with replay and heartbeats; auth.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { usersProjection } from '../../examples/shop/projections/users.js';
import { rebuildProjection } from '../../consumers/rebuild.js';
import { engineNames } from '../../lib/engines/index.js';
import { createKafka } from '../../lib/kafka.js';
import { partitionOf } from '../../lib/partitioner.js';
import { analyticsUpdatesChannel } from '../../lib/redis-keys.js';
import { Publisher } from '../../producers/publisher.js';
import type { QueryService } from '../../query/service.js';
import { shopCatalog, createEvent, type TributaryEvent } from '../helpers/shop.js';
import { orderEdgeCases, ordersOracle } from '../helpers/orders-oracle.js';
import {
  INGEST_KEY,
  QUERY_KEY,
  buildReadModels,
  queryFixture,
  serveQuery,
  userAndOrderEvents,
} from '../helpers/query-fixture.js';
import { testLogger, uid } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { usersOracle } from '../helpers/users-oracle.js';

async function get<T>(
  service: QueryService,
  path: string,
  key = QUERY_KEY,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${service.url}${path}`, { headers: { 'x-api-key': key } });
  return { status: res.status, body: (await res.json()) as T };
}

interface UserBody {
  userId: string;
  email: string;
  name: string;
  plan: string;
  country: string;
  createdAt: number;
  updatedAt: number;
}
interface UsersPage {
  users: UserBody[];
  total: number | null;
  nextCursor: string | null;
}

/** Every page of `GET /users` at `limit`. */
async function listAll(
  service: QueryService,
  limit: number,
): Promise<{ users: UserBody[]; pages: UsersPage[] }> {
  const pages: UsersPage[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `/models/users/list?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const { status, body } = await get<UsersPage>(service, query);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.users.length).toBeLessThanOrEqual(limit);
    pages.push(body);
    cursor = body.nextCursor;
  } while (cursor !== null && pages.length < 10_000);
  return { users: pages.flatMap((p) => p.users), pages };
}

describe('query service on the real stack', () => {
  it('serves users, a user and their orders exactly as the oracles computed from the events', async () => {
    const f = await queryFixture();
    const edge = orderEdgeCases(uid());
    // ~500 users a partition: their id sets are hash tables, which SSCAN walks in several batches.
    const events: TributaryEvent[] = [...userAndOrderEvents(11, 1_500, 30_000), ...edge.events];
    await buildReadModels(f, events);
    const service = await serveQuery(f);

    const users = usersOracle(events);
    const expectedUsers = [...users].map(([userId, u]) => ({ userId, ...u, createdAt: Number(u.createdAt) }));

    // Listing: every user exactly once at several page sizes (nothing changes meanwhile), and the total.
    for (const limit of [3, 64, 500]) {
      const { users: listed, pages } = await listAll(service, limit);
      const ids = listed.map((u) => u.userId);
      expect(new Set(ids).size, `duplicates at limit ${limit}`).toBe(ids.length);
      expect(ids.sort()).toEqual([...users.keys()].sort());
      expect(pages.every((p) => p.total === users.size)).toBe(true);
      if (limit > 3) continue;
      // Small pages are full pages (SSCAN batches are cut and resumed), except the last.
      expect(pages.slice(0, -1).every((p) => p.users.length === 3)).toBe(true);
    }
    const { users: listed } = await listAll(service, 50);
    expect(listed.every((u) => u.updatedAt >= u.createdAt)).toBe(true);
    const byId = new Map(listed.map(({ updatedAt: _, ...u }) => [u.userId, u]));
    for (const u of expectedUsers) expect(byId.get(u.userId), u.userId).toEqual(u);

    // One user: the oracle's, and 404 for those deleted or never created.
    const deleted = [
      ...new Set(events.filter((e) => e.type === 'UserDeleted').map((e) => e.data.userId)),
    ].filter((id) => !users.has(id));
    expect(deleted.length).toBeGreaterThan(0);
    for (const u of expectedUsers.slice(0, 40)) {
      const { status, body } = await get<UserBody>(
        service,
        `/models/users/get?id=${encodeURIComponent(u.userId)}`,
      );
      expect(status).toBe(200);
      expect(body).toMatchObject(u);
    }
    for (const id of [...deleted.slice(0, 10), `nobody-${uid()}`]) {
      const { status, body } = await get<{ error: string }>(
        service,
        `/models/users/get?id=${encodeURIComponent(id)}`,
      );
      expect(status).toBe(404);
      expect(body.error).toBe('not_found');
    }

    // Orders: every user's orders newest first, statuses and totals, page by page (ties included).
    const orders = ordersOracle(events.filter((e) => !edge.poison.has(e.data.eventId)));
    expect(orders.users.size).toBeGreaterThan(20);
    for (const [userId, want] of orders.users) {
      const seen: unknown[] = [];
      let cursor: string | null = null;
      let totals: unknown;
      do {
        const path: string = `/models/orders/of-user?userId=${encodeURIComponent(userId)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const { status, body } = await get<{ orders: unknown[]; totals: unknown; nextCursor: string | null }>(
          service,
          path,
        );
        expect(status, userId).toBe(200);
        seen.push(...body.orders);
        totals = body.totals;
        cursor = body.nextCursor;
      } while (cursor !== null);
      expect(seen, userId).toEqual(want.orders);
      expect(totals, userId).toEqual(want.totals);
    }
    // A user without orders: an empty page; nobody at all: 404.
    const withoutOrders = expectedUsers.find((u) => !orders.users.has(u.userId));
    if (withoutOrders) {
      const { status, body } = await get<{ orders: unknown[] }>(
        service,
        `/models/orders/of-user?userId=${withoutOrders.userId}`,
      );
      expect(status).toBe(200);
      expect(body.orders).toEqual([]);
    }
    expect((await get(service, `/models/orders/of-user?userId=nobody-${uid()}`)).status).toBe(404);

    // Metrics saw the reads.
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(
      /tributary_query_read_duration_seconds_count\{[^}]*read="orders\.of-user"[^}]*\} \d+/,
    );
    expect(metrics).not.toMatch(/tributary_http_requests_total\{[^}]*status="5\d\d"/);
  });

  it('lists every user present throughout a listing while users come and go', async () => {
    const f = await queryFixture();
    const events = userAndOrderEvents(13, 1_200, 20_000).filter((e) => e.type.startsWith('User'));
    await buildReadModels(f, events, ['users', 'user-count']);
    const service = await serveQuery(f);
    const before = [...usersOracle(events).keys()];
    const deleted = new Set<string>();
    const created = new Set<string>();
    const listed: string[] = [];
    let cursor: string | null = null;
    let page = 0;
    do {
      const path: string = `/models/users/list?limit=40${cursor ? `&cursor=${cursor}` : ''}`;
      const { status, body } = await get<UsersPage>(service, path);
      expect(status).toBe(200);
      listed.push(...body.users.map((u) => u.userId));
      cursor = body.nextCursor;
      // Between pages: five sign-ups and five deletions, applied by the live projection.
      const churn: TributaryEvent[] = [];
      for (let i = 0; i < 5; i++) {
        const userId = `new-${page}-${i}`;
        created.add(userId);
        churn.push(
          createEvent(
            'UserCreated',
            { userId, email: `${userId}@example.com`, name: userId, plan: 'FREE', country: 'NL' },
            Date.now(),
          ) as TributaryEvent,
        );
        const victim = before[((page * 5 + i) * 7) % before.length]!;
        deleted.add(victim);
        churn.push(
          createEvent('UserDeleted', { userId: victim, reason: 'OTHER' }, Date.now()) as TributaryEvent,
        );
      }
      await f.publisher.publishBatch(churn);
      page++;
    } while (cursor !== null);
    const seen = new Set(listed);
    const missing = before.filter((id) => !deleted.has(id) && !seen.has(id));
    expect(missing, 'users present throughout but never listed').toEqual([]);
    const strangers = [...seen].filter((id) => !before.includes(id) && !created.has(id));
    expect(strangers).toEqual([]);
    expect(page).toBeGreaterThan(20);
  });

  it('computes the partition each engine really writes a key to', async () => {
    const f = await queryFixture({}, 7);
    const ids = Array.from({ length: 60 }, (_, i) => `p-${i}-${uid()}${i % 5 === 0 ? '-Łódź-😀' : ''}`);
    const sent: TributaryEvent[] = [];
    for (const engine of engineNames) {
      const publisher = await Publisher.create(
        shopCatalog,
        { ...f.config, kafka: { ...f.config.kafka, engine } },
        testLogger(),
      );
      const batch = ids.map((userId) =>
        createEvent('UserDeleted', { userId, reason: 'OTHER' }, Date.now()),
      ) as TributaryEvent[];
      await publisher.publishBatch(batch);
      await publisher.close();
      sent.push(...batch);
    }
    const consumer = createKafka(f.config, testLogger()).consumer({
      groupId: `${f.config.topics.prefix}p-${uid()}`,
    });
    onTestFinished(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topic: `${f.config.topics.prefix}users`, fromBeginning: true });
    const landed: [string, number][] = [];
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        landed.push([message.key!.toString(), partition]);
      },
    });
    await until(async () => landed.length >= sent.length, `${sent.length} records`);
    expect(landed.length).toBe(2 * ids.length);
    for (const [key, partition] of landed) expect(partitionOf(key, 7), key).toBe(partition);
  });

  it('follows a rebuild: reads the new version, and cursors of the old one expire', async () => {
    const f = await queryFixture();
    const events = userAndOrderEvents(12, 60, 3_000).filter((e) => e.type.startsWith('User'));
    await buildReadModels(f, events, ['users', 'user-count']);
    const service = await serveQuery(f);
    const first = await get<UsersPage>(service, '/models/users/list?limit=5');
    expect(first.body.nextCursor).not.toBeNull();

    const result = await rebuildProjection({
      catalog: shopCatalog,
      config: f.config,
      logger: testLogger(),
      projection: usersProjection,
      keyPrefix: f.prefix,
      graceMs: 0,
    });
    expect(result.to).toBe('v2');
    const expired = await get<{ error: string; fields: { path: string }[] }>(
      service,
      `/models/users/list?limit=5&cursor=${first.body.nextCursor}`,
    );
    expect(expired.status).toBe(400);
    expect(expired.body).toMatchObject({ error: 'cursor_expired', fields: [{ path: 'querystring.cursor' }] });
    const users = usersOracle(events);
    const { users: listed } = await listAll(service, 9);
    expect(listed.map((u) => u.userId).sort()).toEqual([...users.keys()].sort());
    const [someone] = users.keys();
    expect((await get(service, `/models/users/get?id=${someone}`)).status).toBe(200);
  });

  it('streams what is published on the analytics channel: events, replay, heartbeats, disconnects', async () => {
    const f = await queryFixture({ TRIBUTARY_QUERY_STREAM_HEARTBEAT_MS: '300' });
    const service = await serveQuery(f);
    const channel = analyticsUpdatesChannel(f.prefix);

    const open = async (headers: Record<string, string> = {}, query = '') => {
      const controller = new AbortController();
      const res = await fetch(`${service.url}/stream${query}`, {
        headers: { 'x-api-key': QUERY_KEY, ...headers },
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      const read = async (until: (t: string) => boolean, what: string) => {
        const deadline = Date.now() + 10_000;
        while (!until(text)) {
          if (Date.now() > deadline) throw new Error(`stream: no ${what} in ${JSON.stringify(text)}`);
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${what}`);
          text += value;
        }
        return text;
      };
      return { read, close: () => controller.abort(), text: () => text };
    };

    const a = await open();
    const b = await open({}, '?events=window-final');
    await a.read((t) => t.includes(': connected'), 'greeting');
    await f.redis.publish(
      channel,
      JSON.stringify({ type: 'window-update', window: 'tumbling:60000:60000:0', n: 1 }),
    );
    await f.redis.publish(
      channel,
      JSON.stringify({ type: 'window-final', window: 'tumbling:60000:60000:0', n: 2 }),
    );
    await f.redis.publish(channel, 'not json');
    const seenA = await a.read((t) => t.includes('"n":2'), 'two events');
    const ids = [...seenA.matchAll(/^id: (\S+)$/gm)].map((m) => m[1]!);
    expect(ids).toHaveLength(2);
    expect(seenA).toContain(
      'event: window-update\ndata: {"type":"window-update","window":"tumbling:60000:60000:0","n":1}\n\n',
    );
    expect(seenA).toContain('event: window-final\n');
    const seenB = await b.read((t) => t.includes('"n":2'), 'the final');
    expect(seenB).not.toContain('window-update');
    await a.read((t) => t.includes(': heartbeat'), 'a heartbeat');

    // Reconnecting with Last-Event-ID replays what came after it; an unknown id says reset.
    const c = await open({ 'last-event-id': ids[0]! });
    const replayed = await c.read((t) => t.includes('"n":2'), 'the replay');
    expect(replayed).not.toContain('"n":1');
    const d = await open({ 'last-event-id': 'zzz-1' });
    await d.read((t) => t.includes('event: reset'), 'a reset');

    // The subscription is cut (Redis restarts, a network blip): it comes back by itself, and the
    // clients hear that they may have missed updates (Pub/Sub keeps nothing).
    const list = await f.redis.client('LIST');
    const subscriberId = /^id=(\d+) .* name=(\S+)/gm;
    const ours = [...String(list).matchAll(subscriberId)].find(
      ([, , name]) => name === `tributary-stream:${channel}`,
    );
    expect(ours).toBeDefined();
    await f.redis.client('KILL', 'ID', ours![1]!);
    await a.read((t) => t.includes('event: reset\ndata: {"reason":"interrupted"}'), 'a reset after the cut');
    await until(async () => (await f.redis.pubsub('NUMSUB', channel))[1] === 1, 'resubscribed', {
      timeoutMs: 5_000,
    });
    await f.redis.publish(channel, JSON.stringify({ type: 'batch', n: 3 }));
    await a.read((t) => t.includes('"n":3'), 'an event after the cut');

    const clients = async () =>
      Number(
        /^tributary_query_stream_clients\{[^}]*\} (\d+)/m.exec(
          await (await fetch(`${service.url}/metrics`)).text(),
        )?.[1],
      );
    expect(await clients()).toBe(4);
    for (const s of [a, b, c, d]) s.close();
    await until(async () => (await clients()) === 0, 'disconnected clients forgotten', { timeoutMs: 5_000 });

    // Shutdown ends open streams rather than waiting for them.
    const e = await open();
    await e.read((t) => t.includes(': connected'), 'greeting');
    const started = Date.now();
    expect(await service.close()).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    await e.read((t) => t.includes('event: shutdown'), 'the shutdown event');
  });

  it('refuses missing, unknown and under-scoped credentials over HTTP', async () => {
    const f = await queryFixture();
    const service = await serveQuery(f);
    const bare = await fetch(`${service.url}/models/users/list`);
    expect(bare.status).toBe(401);
    expect(await bare.json()).toMatchObject({ error: 'unauthorized' });
    expect((await get(service, '/models/users/list', 'unknown-key-0123456789abcdef')).status).toBe(401);
    const writer = await get<{ error: string }>(service, '/models/users/list', INGEST_KEY);
    expect(writer.status).toBe(403);
    expect(writer.body.error).toBe('forbidden');
    expect((await fetch(`${service.url}/stream`, { headers: { 'x-api-key': INGEST_KEY } })).status).toBe(403);
    expect((await get(service, '/models/users/list')).status).toBe(200);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
  });
});
