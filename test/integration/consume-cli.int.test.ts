/**
 * `tributary consume` as an operator runs it: joins, applies, serves /readyz and /metrics, and on
 * SIGTERM finishes the batch in hand, leaves the group and exits 0.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import { generateEvents } from '../../examples/shop/generator.js';
import { Publisher } from '../../producers/publisher.js';
import { freePort } from '../helpers/free-port.js';
import { until } from '../helpers/until.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, testRedis } from '../helpers/stack.js';
import { readUsers } from '../helpers/users-oracle.js';
import { SHOP_DIR, shopCatalog } from '../helpers/shop.js';

describe('tributary consume', () => {
  it('serves readiness and metrics, and shuts down cleanly on SIGTERM', async () => {
    const base = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '2' });
    const { redis, prefix } = testRedis(base);
    const admin = await testAdmin(base);
    cleanupTopics(base, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(base, shopCatalog));
    const events = [...generateEvents({ seed: 4, users: 100 }, 5000)]
      .map((g) => g.event)
      .filter((e) => e.type.startsWith('User'));
    const publisher = await Publisher.create(shopCatalog, base, testLogger());
    await publisher.publishBatch(events);
    await publisher.close();

    const port = await freePort();
    const child = spawn('node', ['bin/tributary.js', 'consume', 'users', '--http-port', String(port)], {
      env: {
        ...process.env,
        TRIBUTARY_KAFKA_BROKERS: base.kafka.brokers.value.join(','),
        TRIBUTARY_SCHEMA_REGISTRY_URL: base.registry.url.value,
        TRIBUTARY_REDIS_URL: base.redis.url.value,
        TRIBUTARY_TOPIC_PREFIX: base.topics.prefix,
        TRIBUTARY_REDIS_KEY_PREFIX: prefix,
        TRIBUTARY_APP: SHOP_DIR,
      },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', r));

    const url = `http://127.0.0.1:${port}`;
    await until(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 'readyz');
    await until(
      async () => (await readUsers(redis, prefix, `${base.topics.prefix}users`, 2)).records >= events.length,
      'applied',
    );
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const group = `${base.topics.prefix}tributary-users.v1`;
    const applied = new RegExp(
      `tributary_consumer_records_applied_total\\{[^}]*group="${group.replace(/\./g, '\\.')}"[^}]*\\} (\\d+)`,
    );
    expect(Number(applied.exec(metrics)?.[1])).toBe(events.length);
    expect(metrics).toContain('tributary_consumer_lag{');
    expect(metrics).toContain('tributary_consumer_batch_duration_seconds_bucket');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain(`${group}: {"consumed":${events.length}`);
    const groups = await admin.describeGroups([group]);
    expect(groups.groups[0]!.members).toHaveLength(0);
  });
});
