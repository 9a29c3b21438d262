/**
 * The apply side's ceiling: `redis-benchmark` (Debian's redis-tools), pipelined (`-P 64`), for
 * the very commands a projection writes per event. The mix is read from the projection itself:
 * its writes for sample events are counted per command (a guarded write counts its EXISTS too),
 * each command is benchmarked on its own, and the ceiling is
 * `1 / Σ (commands of that kind per event / their rate)` events/s. The real apply runs them in a
 * Lua script behind the offset fence, so it can only be slower; the ratio shows how much.
 */
import { spawn } from 'node:child_process';
import type { TributaryConfig } from '../lib/config.js';
import { ProjectionKeys } from '../lib/redis-keys.js';
import { WriteBatch } from '../consumers/offset-fence.js';
import type { Projection } from '../consumers/runtime/types.js';
import type { AppEvent as TributaryEvent } from '../schemas/catalog.js';
import type { ReferenceResult } from './kafka-perf-tools.js';

/** Commands per event by name, with one example of each (its words as the projection wrote them). */
export interface CommandMix {
  readonly perEvent: Readonly<Record<string, number>>;
  readonly examples: Readonly<Record<string, readonly string[]>>;
}

/** Counts the Redis commands `projection` writes for `events`, per event. */
export function commandMix(projection: Projection, events: readonly TributaryEvent[]): CommandMix {
  const keys = new ProjectionKeys('mix:', projection.name).partition('v1', 'topic', 0);
  const batch = new WriteBatch();
  events.forEach((event, i) =>
    projection.apply({ event, topic: 'topic', partition: 0, offset: String(i), timestamp: 0 }, batch, keys),
  );
  const counts: Record<string, number> = {};
  const examples: Record<string, string[]> = {};
  const w = batch.words;
  for (let i = 0; i < w.length;) {
    const n = Number(w[i]);
    let words = w.slice(i + 1, i + 1 + n);
    i += 1 + n;
    if (words[0] === 'IF_EXISTS' || words[0] === 'IF_NOT_EXISTS') {
      counts.EXISTS = (counts.EXISTS ?? 0) + 1;
      examples.EXISTS ??= ['EXISTS', words[1]!];
      words = words.slice(2);
    }
    const name = words[0]!.toUpperCase();
    counts[name] = (counts[name] ?? 0) + 1;
    examples[name] ??= words;
  }
  const perEvent: Record<string, number> = {};
  for (const [name, count] of Object.entries(counts)) perEvent[name] = count / Math.max(1, events.length);
  return { perEvent, examples };
}

const SET_COMMANDS = new Set(['SADD', 'SREM', 'SISMEMBER']);

/** The example's words with keys (and set members) spread over a random key space under `prefix`. */
export function benchmarkWords(name: string, example: readonly string[], prefix: string): string[] {
  const [, , ...args] = example;
  if (SET_COMMANDS.has(name)) return [name, `${prefix}rb:set`, `m:__rand_int__`, ...args.slice(1)];
  return [name, `${prefix}rb:${name.toLowerCase()}:__rand_int__`, ...args];
}

/** redis-benchmark's connection flags for a `redis://` / `rediss://` URL. */
export function connectionArgs(url: string): string[] {
  const u = new URL(url);
  const args = ['-h', u.hostname || '127.0.0.1', '-p', u.port || '6379'];
  if (u.password) args.push('-a', decodeURIComponent(u.password), '--no-auth-warning');
  if (u.username && u.username !== 'default') args.push('--user', decodeURIComponent(u.username));
  if (u.protocol === 'rediss:') args.push('--tls');
  const db = u.pathname.replace('/', '');
  if (db) args.push('--dbnum', db);
  return args;
}

function runBenchmark(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) =>
      reject(new Error(`redis-benchmark could not run (${e.message}); install Debian's redis-tools`)),
    );
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`redis-benchmark exited ${code}: ${err.trim()}`)),
    );
  });
}

/** Requests per second from `--csv` output (the last data row). */
export function parseCsvRps(text: string): number {
  const row = text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('"') && !l.startsWith('"test"'))
    .at(-1);
  const rps = Number(row?.split('","')[1]);
  if (!Number.isFinite(rps) || rps <= 0)
    throw new Error(`redis-benchmark printed no rate: ${text.slice(-300)}`);
  return rps;
}

/**
 * Benchmarks each command of the mix and combines them into events/s. Keys go under
 * `config.redis.keyPrefix` + `rb:` (the caller's scope deletes them).
 */
export async function redisCeiling(
  config: TributaryConfig,
  mix: CommandMix,
  options: { requests?: number; pipeline?: number } = {},
): Promise<ReferenceResult> {
  const base = [
    ...connectionArgs(config.redis.url.value),
    '-P',
    String(options.pipeline ?? 64),
    '-n',
    String(options.requests ?? 200_000),
    '-r',
    '100000',
    '--csv',
  ];
  const details: Record<string, number> = {};
  const commands: string[] = [];
  let secondsPerEvent = 0;
  for (const [name, perEvent] of Object.entries(mix.perEvent)) {
    const words = benchmarkWords(name, mix.examples[name]!, config.redis.keyPrefix);
    const rps = parseCsvRps(await runBenchmark([...base, ...words]));
    details[`${name}.rps`] = Math.round(rps);
    details[`${name}.perEvent`] = Number(perEvent.toFixed(3));
    secondsPerEvent += perEvent / rps;
    commands.push(
      `redis-benchmark ${[...base, ...words].map((w) => (/\s/.test(w) ? `'${w}'` : w)).join(' ')}`,
    );
  }
  const eventsPerSecond = secondsPerEvent > 0 ? Math.round(1 / secondsPerEvent) : 0;
  return {
    name: 'redis-benchmark -P 64, the projection’s command mix',
    command: commands.join('\n'),
    eventsPerSecond,
    details,
    raw: Object.entries(mix.perEvent)
      .map(([n, k]) => `${n} ×${k.toFixed(2)}/event @ ${details[`${n}.rps`]} rps`)
      .join('; '),
  };
}
