/** CLI: `tributary consume <projection…>` runs projections as consumer groups until SIGTERM/SIGINT. */
import type { Command } from 'commander';
import { ensureTopics, type CliContext } from './stack.js';
import { createMetricsRegistry } from '../../lib/metrics.js';
import { ConsumerMetrics } from '../../consumers/runtime/consumer-metrics.js';
import { startHealthServer } from '../../consumers/runtime/health-server.js';
import { startLive } from '../../consumers/runtime/live-projection.js';

export function registerConsumeCommand(program: Command, ctx: CliContext): void {
  program
    .command('consume')
    .description('run read-model projections with an exactly-once effect in Redis')
    .argument('[projections...]', "which of the app's projections; default all")
    .option(
      '--http-port <port>',
      '/metrics, /healthz, /readyz port (0: none; default TRIBUTARY_CONSUMER_HTTP_PORT)',
    )
    .action(async (names: string[], opts: { httpPort?: string }) => {
      const config = ctx.config();
      const app = await ctx.app();
      const { projections } = app;
      if (projections.size === 0)
        throw new Error(`the app ${app.name} (${app.file}) declares no projections`);
      const wanted = names.length > 0 ? names : [...projections.keys()];
      for (const n of wanted) {
        if (!projections.has(n)) {
          throw new Error(
            `unknown projection ${JSON.stringify(n)}; one of ${[...projections.keys()].join(', ')}`,
          );
        }
      }
      await ensureTopics(ctx);
      const registry = createMetricsRegistry({ service: 'consumer' });
      const live = await startLive(
        app.catalog,
        config,
        ctx.logger(),
        wanted.map((n) => projections.get(n)!),
        new ConsumerMetrics(registry),
      );
      const port = opts.httpPort !== undefined ? Number(opts.httpPort) : config.consumer.httpPort;
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new Error(`--http-port: bad port ${opts.httpPort}`);
      const http =
        port > 0
          ? await startHealthServer({
              host: config.consumer.httpHost,
              port,
              registry,
              notReady: () => [
                ...live.filter((l) => !l.running).map((l) => l.projection.name),
                ...live.flatMap((l) =>
                  l.current
                    .blockedOutputs()
                    .map(
                      (b) =>
                        `${l.projection.name}: cannot produce to ${b.topic} since ${b.since}: ${b.reason}`,
                    ),
                ),
              ],
            })
          : undefined;
      console.log(
        `consuming: ${live.map((l) => `${l.current.groupId} (keys ${l.current.version})`).join(', ')}` +
          (http ? `; metrics at http://${config.consumer.httpHost}:${port}/metrics` : '') +
          '; Ctrl-C to stop',
      );
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      await stopWithin(config.consumer.shutdownTimeoutMs, signal, ctx, async () => {
        await http?.close();
        await Promise.all(live.map((l) => l.stop()));
      });
      for (const l of live) console.log(`${l.current.groupId}: ${JSON.stringify(l.current.stats)}`);
      // Stopped: whatever a client library left scheduled (a reconnect timer) must not keep the
      // process alive.
      setTimeout(() => process.exit(), 1_000).unref();
    });
}

/**
 * Runs a graceful stop, bounded: after `timeoutMs` (or a second signal) the process ends whatever
 * the stop waits for (a broker that does not answer a commit or a leave). It ends by its own
 * SIGKILL (exit status 137): a normal exit runs the client libraries' cleanup, and librdkafka's
 * waits for the brokers it cannot reach. Nothing is lost by it: Redis holds what was applied, and
 * the group resumes from there.
 */
async function stopWithin(
  timeoutMs: number,
  signal: NodeJS.Signals,
  ctx: CliContext,
  stop: () => Promise<void>,
): Promise<void> {
  const log = ctx.logger();
  log.info({ signal, timeoutMs }, 'stopping: finishing the batches in hand');
  const force = (why: string) => {
    log.error({ timeoutMs }, `${why}: exiting without a clean stop (what Redis holds is kept)`);
    process.kill(process.pid, 'SIGKILL');
  };
  const timer = setTimeout(
    () => force('the stop took longer than TRIBUTARY_CONSUMER_SHUTDOWN_TIMEOUT_MS'),
    timeoutMs,
  );
  // A signal sent to the whole process group may arrive twice at once (directly, and forwarded by
  // a wrapper): only one a second or more after the first asks for an immediate exit.
  const first = Date.now();
  const again = () => {
    if (Date.now() - first >= 1_000) force(`a second ${signal}`);
  };
  process.on('SIGINT', again);
  process.on('SIGTERM', again);
  try {
    await stop();
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', again);
    process.off('SIGTERM', again);
  }
}
