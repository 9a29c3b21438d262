/** The README's first command ends in `tributary demo`: everything starts, a live stream flows, it stops cleanly. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { cleanupTopics, testAdmin, testConfig, testRedis } from '../helpers/stack.js';

const run = promisify(execFile);

describe('tributary demo', () => {
  it('brings up ingestion and projections, generates a stream that the projections apply, and stops', async () => {
    const config = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '2' });
    cleanupTopics(config, await testAdmin(config));
    const { prefix } = testRedis(config);
    const { stdout, stderr } = await run(
      'node',
      // As `bash infra/bootstrap.sh up` runs it.
      ['bin/tributary.js', '--app', 'examples/shop', 'demo', '--duration', '8', '--rate', '300'],
      {
        env: {
          ...process.env,
          TRIBUTARY_KAFKA_BROKERS: config.kafka.brokers.value.join(','),
          TRIBUTARY_SCHEMA_REGISTRY_URL: config.registry.url.value,
          TRIBUTARY_REDIS_URL: config.redis.url.value,
          TRIBUTARY_TOPIC_PREFIX: config.topics.prefix,
          TRIBUTARY_TOPIC_PARTITIONS: '2',
          TRIBUTARY_REDIS_KEY_PREFIX: prefix,
          TRIBUTARY_INGEST_PORT: String(await freePort()),
          TRIBUTARY_CONSUMER_HTTP_PORT: String(await freePort()),
          TRIBUTARY_QUERY_PORT: String(await freePort()),
          TRIBUTARY_AUTH_DISABLED: 'true',
        },
        timeout: 90_000,
      },
    );
    expect(stdout).toMatch(/kafka\s+external/);
    expect(stderr).toContain('Tributary ingestion service on http://127.0.0.1:');
    const sent = Number(/Demo stopped: (\d+) events generated/.exec(stdout)?.[1]);
    expect(sent).toBeGreaterThan(1000);
    expect(stdout).toMatch(/Dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard/);
    expect(stdout).toContain(`Bridges: user-created (from ${config.topics.prefix}user-created)`);
    expect(stdout).toMatch(/Query API: .*\/models\/users\/get, \/models\/users\/list, /);
    expect(stderr).toContain('POST /events, /events/batch; POST /users; PATCH /users/:id; DELETE /users/:id');
    const consumed = [
      ...stdout.matchAll(/tributary-(users|orders|user-count|analytics)\.v1: \{"consumed":(\d+)/g),
    ];
    expect(consumed.map((m) => m[1]).sort()).toEqual(['analytics', 'orders', 'user-count', 'users']);
    for (const m of consumed) expect(Number(m[2])).toBeGreaterThan(0);
  });
});
