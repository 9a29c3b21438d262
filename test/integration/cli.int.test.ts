/** The `tributary` command against the real stack, as a user runs it. */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SHOP_DIR } from '../helpers/shop.js';
import { cleanupTopics, testAdmin, testConfig } from '../helpers/stack.js';

const run = promisify(execFile);

function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const config = testConfig();
  return {
    ...process.env,
    TRIBUTARY_KAFKA_BROKERS: config.kafka.brokers.value.join(','),
    TRIBUTARY_SCHEMA_REGISTRY_URL: config.registry.url.value,
    TRIBUTARY_REDIS_URL: config.redis.url.value,
    TRIBUTARY_APP: SHOP_DIR,
    ...extra,
  };
}

describe('tributary CLI', () => {
  it('stack status reports every part answering', async () => {
    const { stdout } = await run('node', ['bin/tributary.js', 'stack', 'status', '--json'], {
      env: cliEnv(),
    });
    const rows = JSON.parse(stdout) as { name: string; state: string }[];
    expect(rows.map((r) => r.name)).toEqual(['kafka', 'schema-registry', 'redis']);
    expect(rows.every((r) => r.state === 'external')).toBe(true);
  });

  it('stack status exits 1 and says unreachable when a part does not answer', async () => {
    const env = cliEnv({ TRIBUTARY_REDIS_URL: 'redis://127.0.0.1:1' });
    const err = await run('node', ['bin/tributary.js', 'stack', 'status'], { env }).catch((e: unknown) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stdout: string }).stdout).toMatch(/redis\s+unreachable/);
  });

  it('topics provisions idempotently', async () => {
    const config = testConfig();
    cleanupTopics(config, await testAdmin(config));
    const prefix = config.topics.prefix;
    const env = cliEnv({ TRIBUTARY_TOPIC_PREFIX: prefix, TRIBUTARY_TOPIC_PARTITIONS: '1' });
    const first = await run('node', ['bin/tributary.js', 'topics'], { env });
    expect(first.stdout).toContain(`created  ${prefix}users (1 partitions)`);
    const second = await run('node', ['bin/tributary.js', 'topics'], { env });
    expect(second.stdout).toContain('ok       10 topics already as configured');
  });

  it('says where it looked for an app, and names what is wrong with one', async () => {
    const env = cliEnv({ TRIBUTARY_APP: '' });
    const none = await run('node', [path.resolve('bin/tributary.js'), 'topics'], {
      env,
      cwd: os.tmpdir(),
    }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(none).toMatchObject({ code: 1 });
    expect((none as { stderr: string }).stderr).toMatch(
      /^tributary: no app: .* holds no tributary\.config\.ts/,
    );
    const bad = await run('node', ['bin/tributary.js', '--app', 'examples/nope', 'topics'], { env }).catch(
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect((bad as { stderr: string }).stderr.trim()).toBe(
      'tributary: --app examples/nope: no such file or folder',
    );
  });

  it('names the bad key on invalid configuration', async () => {
    const env = cliEnv({ TRIBUTARY_TOPIC_PARTITIONS: 'many' });
    const err = await run('node', ['bin/tributary.js', 'topics'], { env }).catch((e: unknown) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toContain('TRIBUTARY_TOPIC_PARTITIONS="many"');
  });
});
