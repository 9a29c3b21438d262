/**
 * The same event sent three times (a client retrying after a timeout or a 503) is counted once
 * everywhere: the users read model, the user count and the analytics windows equal oracles
 * computed from the stream without its repeats, while every record, repeats included, was handled.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { analyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import { ProjectionKeys } from '../../consumers/keys.js';
import { userCountKeys } from '../../examples/shop/keys.js';
import { userCountProjection } from '../../examples/shop/projections/user-count.js';
import { usersProjection } from '../../examples/shop/projections/users.js';
import { ConsumerRuntime } from '../../consumers/runtime/consumer-runtime.js';
import { readAnalyticsWindows } from '../../lib/read-models/analytics.js';
import { Publisher } from '../../producers/publisher.js';
import type { TributaryEvent } from '../helpers/shop.js';
import { ANALYTICS_ENV, T0, analyticsStream, analyticsTestOracle } from '../helpers/analytics-fixture.js';
import { projectionRecords } from '../helpers/progress.js';
import { testLogger } from '../helpers/stack.js';
import { usersFixture } from '../helpers/users-fixture.js';
import { until } from '../helpers/until.js';
import { readUsers, usersOracle } from '../helpers/users-oracle.js';
import { shopCatalog } from '../helpers/shop.js';

describe('de-duplication by eventId', () => {
  it('counts an event sent three times once in every projection and in analytics', async () => {
    const { config, redis, prefix } = await usersFixture({
      TRIBUTARY_TOPIC_PARTITIONS: '3',
      ...ANALYTICS_ENV,
    });

    const events = analyticsStream(11, 150, 20, 6_000);
    // Every 40th event is sent twice more: 50 and 400 events after the first time (later
    // batches, often other slices), as a retrying client would.
    const sent: TributaryEvent[] = [];
    const repeats = new Map<number, TributaryEvent[]>();
    events.forEach((e, i) => {
      sent.push(e, ...(repeats.get(i) ?? []));
      if (i % 40 === 0) {
        for (const later of [i + 50, i + 400]) repeats.set(later, [...(repeats.get(later) ?? []), e]);
      }
    });
    for (const [at, list] of repeats) if (at >= events.length) sent.push(...list);
    expect(sent.length).toBe(events.length + 2 * Math.ceil(events.length / 40));

    const publisher = await Publisher.create(shopCatalog, config, testLogger());
    onTestFinished(() => publisher.close());
    for (let i = 0; i < sent.length; i += 1_000) await publisher.publishBatch(sent.slice(i, i + 1_000));

    const runtimes = await Promise.all(
      [usersProjection, userCountProjection, analyticsProjection].map((projection) =>
        ConsumerRuntime.start({ catalog: shopCatalog, config, logger: testLogger(), projection }),
      ),
    );
    onTestFinished(async () => {
      await Promise.all(runtimes.map((r) => r.stop()));
    });

    const usersTopic = `${config.topics.prefix}users`;
    const userEvents = sent.filter((e) => e.type.startsWith('User'));
    const topics = ['users', 'orders', 'page-views'].map((t) => `${config.topics.prefix}${t}`);
    await until(
      async () =>
        (await projectionRecords(redis, prefix, 'users', [usersTopic], 3)) >= userEvents.length &&
        (await projectionRecords(redis, prefix, 'user-count', [usersTopic], 3)) >= userEvents.length &&
        (await projectionRecords(redis, prefix, 'analytics', topics, 3)) >= sent.length,
      'every record handled',
      { timeoutMs: 90_000 },
    );
    const duplicates = runtimes.reduce((n, r) => n + r.stats.duplicates, 0);
    const repeatedUsers = userEvents.length - events.filter((e) => e.type.startsWith('User')).length;
    expect(duplicates).toBe(2 * repeatedUsers + (sent.length - events.length));

    // Users: the model of the stream without repeats (a repeated update would undo later ones).
    const uniqueUserEvents = events.filter((e) => e.type.startsWith('User'));
    const read = await readUsers(redis, prefix, usersTopic, 3);
    expect(read.users).toEqual(usersOracle(uniqueUserEvents));

    // User count: sign-ups counted once.
    const keys = new ProjectionKeys(prefix, 'user-count');
    let created = 0;
    for (let p = 0; p < 3; p++) {
      created += Number(
        (await redis.hget(userCountKeys.totals(keys.partition('v1', usersTopic, p)), 'created')) ?? 0,
      );
    }
    expect(created).toBe(uniqueUserEvents.filter((e) => e.type === 'UserCreated').length);

    // Analytics: every window's counts and revenue as if each event had been sent once.
    const oracle = analyticsTestOracle(events, config.topics.prefix, 3);
    const span = { from: T0 - 30_000, to: T0 + 605_000 };
    for (const kind of ['tumbling', 'hopping'] as const) {
      const windows = await readAnalyticsWindows({ redis, keyPrefix: prefix }, { kind, ...span });
      expect(windows.filter((w) => w.totalEvents > 0).length).toBe(
        [...oracle.windows.values()].filter((w) => w.kind === kind).length,
      );
      for (const w of windows) {
        const want = oracle.windows.get(w.id);
        expect(w.events, w.id).toEqual(want?.events ?? {});
        expect(w.revenue, w.id).toEqual(want?.revenue ?? {});
      }
    }
  });
});
