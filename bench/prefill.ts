/**
 * Fills the topics a consume bench reads, in a child process of its own, so that the consumer
 * measured afterwards starts from a clean heap (its RSS is the consumer's, not the pre-fill's)
 * and a `--cpu-prof` of the bench holds the consumer only. Two streams: the consume scenario's
 * user events (`users`), and the generator's mix of users, orders and page views (`generated`,
 * for bench/analytics-consume.ts).
 *
 * The child is this module itself (`fork`ed): it waits for one {@link PrefillRequest}, publishes,
 * answers with a {@link PrefillReply} and exits.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TributaryConfig } from '../lib/config.js';
import { initLogger, type Logger } from '../lib/logger.js';
import type { App } from '../app/app.js';
import { benchApp } from './bench-app.js';
import { Publisher } from '../producers/publisher.js';
import { userEventFactory, type EventFactory } from './bench-events.js';
import { drive } from './load-driver.js';
import { phaseProgress, RateMeter } from './progress.js';

export interface PrefillRequest {
  readonly config: TributaryConfig;
  readonly events: number;
  readonly users: number;
  readonly size: number;
  readonly progress: boolean;
  /** Which events (default `users`); `generated` ignores `size`. */
  readonly stream?: 'users' | 'generated';
}

function eventsOf(app: App, request: PrefillRequest): EventFactory {
  const { catalog } = app;
  if (request.stream !== 'generated') return userEventFactory(catalog, request.size, request.users);
  if (!app.generator) throw new Error(`the app ${app.name} declares no generator`);
  const stream = app.generator({
    seed: 7,
    users: request.users,
    startTime: Date.UTC(2026, 0, 1),
    intervalMs: 1,
  });
  return () => stream.next().value!.event;
}

type PrefillReply =
  { readonly ok: true; readonly sent: number } | { readonly ok: false; readonly error: string };

/** Publishes `events` events at full speed and waits until all are acknowledged. */
export async function prefill(request: PrefillRequest, logger: Logger): Promise<number> {
  const app = await benchApp();
  const publisher = await Publisher.create(app.catalog, request.config, logger);
  const bar = phaseProgress(request.progress, 'pre-fill', request.events, 'events');
  const meter = new RateMeter();
  try {
    const state = await drive({
      rate: undefined,
      warmupMs: 0,
      durationMs: 3_600_000,
      limit: request.events,
      next: eventsOf(app, request),
      publish: (events) => publisher.publishBatch(events),
      maxInFlight: 50_000,
      onTick: (s) => bar.update(s.acked, meter.rate(s.acked)),
    });
    await publisher.close();
    if (state.firstError) throw new Error(`pre-fill failed: ${state.firstError}`);
    return state.acked;
  } finally {
    bar.stop();
    await publisher.close().catch(() => undefined);
  }
}

/** Runs {@link prefill} in a child Node process; resolves with the events acknowledged. */
export async function prefillInChild(request: PrefillRequest): Promise<number> {
  const compiled = fileURLToPath(new URL('./prefill.js', import.meta.url));
  // From the sources (tsx, vitest) the child needs tsx to load TypeScript.
  const [entry, execArgv] = existsSync(compiled)
    ? [compiled, []]
    : [fileURLToPath(new URL('./prefill.ts', import.meta.url)), ['--import', 'tsx']];
  const child = fork(entry, ['--prefill-child'], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // A stuck pre-fill fails the bench with a message, not a hang: a minute plus a second per
  // 10,000 events is far beyond what it takes.
  const limitMs = 60_000 + request.events / 10;
  return new Promise<number>((resolve, reject) => {
    let reply: PrefillReply | undefined;
    const timer = setTimeout(() => {
      reply = { ok: false, error: `pre-fill did not finish within ${Math.round(limitMs / 1000)} s` };
      child.kill('SIGKILL');
    }, limitMs);
    child.on('message', (m: PrefillReply) => (reply ??= m));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (reply?.ok) resolve(reply.sent);
      else reject(new Error(reply && !reply.ok ? reply.error : `pre-fill process exited ${code}`));
    });
    child.send(request);
  });
}

if (process.argv.includes('--prefill-child') && process.send) {
  process.once('message', (request: PrefillRequest) => {
    const logger = initLogger({ level: 'warn', destination: 2 });
    prefill(request, logger).then(
      (sent) => process.send!({ ok: true, sent } satisfies PrefillReply, () => process.exit(0)),
      (err: unknown) =>
        process.send!({ ok: false, error: (err as Error).message } satisfies PrefillReply, () =>
          process.exit(1),
        ),
    );
  });
}
