/** `tributary produce` and `tributary generate` against the real stack, as a user runs them. */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import { cleanupTopics, testAdmin, testConfig, testLogger } from '../helpers/stack.js';
import { SHOP_DIR, shopCatalog } from '../helpers/shop.js';

const run = promisify(execFile);

async function setup() {
  const config = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '2' });
  const admin = await testAdmin(config);
  cleanupTopics(config, admin);
  await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
  const env = {
    ...process.env,
    TRIBUTARY_KAFKA_BROKERS: config.kafka.brokers.value.join(','),
    TRIBUTARY_SCHEMA_REGISTRY_URL: config.registry.url.value,
    TRIBUTARY_REDIS_URL: config.redis.url.value,
    TRIBUTARY_TOPIC_PREFIX: config.topics.prefix,
    TRIBUTARY_APP: SHOP_DIR,
  };
  const count = async (topic: string) =>
    (await admin.fetchTopicOffsets(`${config.topics.prefix}${topic}`)).reduce(
      (n, o) => n + Number(o.high),
      0,
    );
  return { env, count };
}

describe('tributary produce / generate', () => {
  it('produces one event from flags, typed by the schema', async () => {
    const { env, count } = await setup();
    const args = ['produce', 'OrderPlaced', '--orderId', 'o-1', '--userId', 'u-1', '--currency', 'EUR'];
    args.push('--totalAmount', '2598', '--items', '[{"sku":"sku-1","quantity":2,"unitPrice":1299}]');
    const { stdout } = await run('node', ['bin/tributary.js', ...args], { env });
    expect(stdout).toMatch(/^sent OrderPlaced [0-9a-f-]{36} to t[0-9a-f]+\.orders$/m);
    expect(await count('orders')).toBe(1);
  });

  it('rejects a bad flag value naming the field, and sends nothing', async () => {
    const { env, count } = await setup();
    const args = [
      'produce',
      'UserCreated',
      '--userId',
      'u',
      '--email',
      'e@x',
      '--name',
      'N',
      '--plan',
      'GOLD',
      '--country',
      'DE',
    ];
    const err = (await run('node', ['bin/tributary.js', ...args], { env }).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('data.plan');
    expect(await count('users')).toBe(0);
  });

  it('produces an NDJSON file from the generator, reporting rejected lines with reasons', async () => {
    const { env, count } = await setup();
    const { stdout: ndjson } = await run(
      'node',
      ['bin/tributary.js', 'generate', '--count', '400', '--ndjson', '--seed', '3'],
      {
        env,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const lines = ndjson.trim().split('\n');
    expect(lines).toHaveLength(400);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tributary-')), 'events.ndjson');
    writeFileSync(
      file,
      [...lines.slice(0, 200), '{oops', '{"type":"Nope","data":{}}', ...lines.slice(200), ''].join('\n'),
    );
    const err = (await run('node', ['bin/tributary.js', 'produce', '--file', file], { env }).catch(
      (e: unknown) => e,
    )) as {
      code: number;
      stdout: string;
    };
    expect(err.code).toBe(2);
    expect(err.stdout).toContain('sent 400, rejected 2');
    expect(err.stdout).toContain('line 201: invalid JSON');
    expect(err.stdout).toMatch(/line 202: type: unknown event type "Nope"/);
    const total = (await count('users')) + (await count('orders')) + (await count('page-views'));
    expect(total).toBe(400);
  });

  it('reads NDJSON from stdin', async () => {
    const { env, count } = await setup();
    const child = spawn('node', ['bin/tributary.js', 'produce', '--file', '-'], { env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin.end(
      `${JSON.stringify({ type: 'PageViewed', data: { userId: null, sessionId: 's1', url: 'https://x/a', path: '/a', referrer: null, userAgent: null, occurredAt: '2026-11-26T10:00:00Z' } })}\n`,
    );
    const code = await new Promise((r) => child.on('close', r));
    expect(out).toContain('sent 1, rejected 0');
    expect(code).toBe(0);
    expect(await count('page-views')).toBe(1);
  });

  it('generates at a paced rate for a duration', async () => {
    const { env, count } = await setup();
    const { stdout } = await run(
      'node',
      ['bin/tributary.js', 'generate', '--rate', '1000', '--duration', '2', '--users', '50'],
      {
        env,
      },
    );
    expect(stdout).toMatch(/sent 2000 events in \d+\.\d s/);
    const total = (await count('users')) + (await count('orders')) + (await count('page-views'));
    expect(total).toBe(2000);
  });
});
