/**
 * The consumer as a child process, exactly as users run it (`node bin/tributary.js consume …`),
 * so fault tests can `kill -9` it: no `finally`, no shutdown hook, no flush runs. Every child is
 * killed when the test that spawned it finishes, and when the test worker exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import type { TributaryConfig } from '../../lib/config.js';
import { SHOP_DIR } from './shop.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'bin', 'tributary.js');
const KEEP_OUTPUT = 256 * 1024;

/** The `TRIBUTARY_*` environment that makes a child process use `config`'s endpoints and names. */
export function childEnv(config: TributaryConfig, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Nothing of the test runner's own TRIBUTARY_* settings leaks into the child.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TRIBUTARY_')) env[k] = v;
  return {
    ...env,
    TRIBUTARY_KAFKA_BROKERS: config.kafka.brokers.value.join(','),
    TRIBUTARY_SCHEMA_REGISTRY_URL: config.registry.url.value,
    TRIBUTARY_REDIS_URL: config.redis.url.value,
    TRIBUTARY_TOPIC_PREFIX: config.topics.prefix,
    TRIBUTARY_REDIS_KEY_PREFIX: config.redis.keyPrefix,
    TRIBUTARY_TOPIC_PARTITIONS: String(config.topics.partitions),
    TRIBUTARY_STATE_DIR: config.stateDir,
    TRIBUTARY_CLIENT_ENGINE: config.kafka.engine,
    TRIBUTARY_LOG_LEVEL: 'warn',
    // No /metrics server: several consumers run side by side, and other tests use the default port.
    TRIBUTARY_CONSUMER_HTTP_PORT: '0',
    // The shop example is the app they run.
    TRIBUTARY_APP: SHOP_DIR,
    ...extra,
  };
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A `tributary consume` child process. */
export class ConsumerProcess {
  /** Resolves when the process exits (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** Resolves once the CLI reports that its consumer groups are joined; rejects if it exits first. */
  readonly ready: Promise<void>;
  private output = '';
  private status: ExitStatus | undefined;

  constructor(
    private readonly child: ChildProcess,
    readonly name: string,
  ) {
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-KEEP_OUTPUT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.status = { code, signal };
        resolve(this.status);
      }),
    );
    this.ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        if (chunk.toString('utf8').includes('consuming: ')) {
          child.stdout?.off('data', onData);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      void this.exited.then((s) =>
        reject(new Error(`${name} exited (${s.signal ?? s.code}) before it was ready:\n${this.output}`)),
      );
    });
    // A kill before readiness is a normal event in these tests, not an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.status === undefined;
  }

  /** The last 256 KiB of what the process wrote to stdout and stderr. */
  log(): string {
    return this.output;
  }

  /** `kill -9`, then waits for the exit. */
  async kill9(): Promise<ExitStatus> {
    if (this.alive) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (a graceful stop), then waits for the exit; SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<ExitStatus> {
    if (!this.alive) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

const running = new Set<ConsumerProcess>();
process.once('exit', () => {
  for (const p of running) if (p.alive) process.kill(p.pid, 'SIGKILL');
});

/**
 * Starts `tributary consume <projections…>` against `config`'s endpoints. The child is killed
 * (SIGKILL) when the current test finishes, if it still runs.
 */
export function spawnConsumer(
  config: TributaryConfig,
  options: { projections?: readonly string[]; name?: string; env?: Record<string, string> } = {},
): ConsumerProcess {
  if (!existsSync(path.join(ROOT, 'dist', 'bin', 'cli.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before the fault tests');
  }
  const child = spawn(process.execPath, [CLI, 'consume', ...(options.projections ?? ['users'])], {
    cwd: ROOT,
    env: childEnv(config, options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new ConsumerProcess(child, options.name ?? `consumer ${child.pid}`);
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  onTestFinished(async () => {
    await proc.kill9();
  });
  return proc;
}

/**
 * Source files newer than their build in `dist/`: a child process would run old code. The fault
 * tests warn about them (`npm test` builds first; a local run may not have).
 */
export function staleBuild(dirs: readonly string[] = ['bin', 'lib', 'schemas', 'consumers']): string[] {
  const stale: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const built = path.join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(path.join(ROOT, rel)).mtimeMs) {
          stale.push(rel);
        }
      }
    }
  };
  for (const d of dirs) walk(d);
  return stale;
}

/** Prints a warning naming stale build outputs, once per test file. */
export function warnIfStaleBuild(): void {
  const stale = staleBuild();
  if (stale.length > 0) {
    console.warn(
      `[fault] dist/ is older than ${stale.length} source file(s) (${stale.slice(0, 5).join(', ')}…); ` +
        'child processes run the old build. Run `npm run build` first.',
    );
  }
}
