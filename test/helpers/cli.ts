/**
 * `tributary …` as a user runs it, from the TypeScript sources (through tsx), so a test does not
 * depend on a fresh `npm run build`; endpoints and names from a test's config.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TributaryConfig } from '../../lib/config.js';
import { SHOP_DIR } from './shop.js';

const exec = promisify(execFile);
/** Node arguments that run bin/cli.ts's `main` from source with the arguments after them. */
export const CLI_ENTRY = [
  '--import',
  'tsx',
  // `tributary` (the public API an app imports) resolves to the sources too.
  '--conditions=tributary-source',
  '-e',
  'const m = await import("./bin/cli.ts"); await m.main(["node", "tributary", ...process.argv.slice(1)]);',
  '--',
];

/** The environment that points the CLI at `config`'s endpoints, topics and keys. */
export function cliEnv(config: TributaryConfig, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TRIBUTARY_KAFKA_BROKERS: config.kafka.brokers.value.join(','),
    TRIBUTARY_SCHEMA_REGISTRY_URL: config.registry.url.value,
    TRIBUTARY_REDIS_URL: config.redis.url.value,
    TRIBUTARY_TOPIC_PREFIX: config.topics.prefix,
    TRIBUTARY_REDIS_KEY_PREFIX: config.redis.keyPrefix,
    TRIBUTARY_APP: SHOP_DIR,
    ...extra,
  };
}

/** Runs the CLI to its end: exit code, stdout and stderr (a failing exit is an answer, not a throw). */
export async function runCli(
  config: TributaryConfig,
  args: readonly string[],
  extra: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [...CLI_ENTRY, ...args], {
      env: cliEnv(config, extra),
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Reads a streamed response body as text in the background; `text()` is what arrived so far. */
export function collectText(body: ReadableStream<Uint8Array>): { text(): string } {
  let text = '';
  void (async () => {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      text += value;
    }
  })();
  return { text: () => text };
}
