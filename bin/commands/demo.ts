/**
 * `tributary demo`: the main job on a fresh machine, in one process. The stack comes up, topics
 * are provisioned, the HTTP ingestion service and every projection start, and the load generator
 * feeds a live stream through the same publisher that serves HTTP. Runs until Ctrl-C (or
 * `--duration`), then stops everything gracefully and prints what happened.
 */
import type { Command } from 'commander';
import { ConsumerMetrics } from '../../consumers/runtime/consumer-metrics.js';
import { startHealthServer } from '../../consumers/runtime/health-server.js';
import { startLive } from '../../consumers/runtime/live-projection.js';
import { printPlan, printStatus, runTopicProvisioning, type CliContext } from './stack.js';
import { stackUp } from '../../infra/stack/stack.js';
import { createMetricsRegistry } from '../../lib/metrics.js';
import { printIngestBanner } from './ingest.js';
import { createProducer } from '../../lib/engines/index.js';
import { startBridge } from '../../producers/bridge.js';
import { startIngestService } from '../../producers/http/service.js';
import { publishPaced } from '../../producers/paced-publish.js';
import { startQueryService } from '../../query/service.js';
import { readerPaths } from '../../query/model-routes.js';

export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description(
      'stack up, topics, ingestion, projections and a live generated stream (the README’s first command)',
    )
    .option('-r, --rate <n>', 'generated events per second', '200')
    .option('-u, --users <n>', 'distinct users in the generated stream', '2000')
    .option('-d, --duration <s>', 'stop after this many seconds (default: until Ctrl-C)')
    .option('--no-generate', 'start everything but the generator')
    .action(async (opts: { rate: string; users: string; duration?: string; generate: boolean }) => {
      const config = ctx.config();
      const logger = ctx.logger();
      const rate = Number(opts.rate);
      if (!(rate > 0)) throw new Error(`--rate must be > 0, got ${opts.rate}`);
      const app = await ctx.app();
      const rows = await stackUp(config, logger, { onProgress: (m) => console.log(m) });
      printPlan(await runTopicProvisioning(config, logger, app));
      console.log('');
      printStatus(rows);

      const ingest = await startIngestService({
        catalog: app.catalog,
        appRoutes: app.ingestRoutes,
        appName: app.name,
        config,
        logger,
      });
      const query = await startQueryService({
        catalog: app.catalog,
        models: [...app.projections.values()],
        config,
        logger,
      });
      const registry = createMetricsRegistry({ service: 'consumer' });
      const live = await startLive(
        app.catalog,
        config,
        logger,
        [...app.projections.values()],
        new ConsumerMetrics(registry),
      );
      // The app's bridges publish through the ingestion service's publisher.
      const deadLetters = createProducer(config, logger);
      await deadLetters.connect();
      const bridges = await Promise.all(
        [...app.bridges.values()].map((bridge) =>
          startBridge({
            bridge,
            catalog: app.catalog,
            config,
            logger,
            publisher: ingest.publisher,
            deadLetters,
          }),
        ),
      );
      const health =
        config.consumer.httpPort > 0
          ? await startHealthServer({
              host: config.consumer.httpHost,
              port: config.consumer.httpPort,
              registry,
              notReady: () => live.filter((l) => !l.running).map((l) => l.projection.name),
            })
          : undefined;

      console.log('');
      printIngestBanner(ingest, app);
      console.log(`Projections: ${live.map((l) => l.current.groupId).join(', ')}`);
      if (bridges.length > 0) {
        const topics = [...app.bridges.values()].map((b) => `${config.topics.prefix}${b.from}`);
        console.log(`Bridges: ${[...app.bridges.keys()].join(', ')} (from ${topics.join(', ')})`);
      }
      if (health)
        console.log(
          `Consumer metrics: http://${config.consumer.httpHost}:${config.consumer.httpPort}/metrics`,
        );
      const readers = readerPaths([...app.projections.values()]);
      console.log(`Query API: ${query.url} (GET ${[...readers, '/analytics/*', '/stream'].join(', ')})`);
      const key = ingest.auth.devKey ? `#key=${ingest.auth.devKey.key}` : '';
      console.log(`\nDashboard: ${query.url}/dashboard${key}\n`);

      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const timer = opts.duration ? setTimeout(onSignal, Number(opts.duration) * 1000) : undefined;
      let sent = 0;
      if (opts.generate && !app.generator) {
        console.log(`The app ${app.name} declares no generator: nothing is generated.`);
      }
      if (opts.generate && app.generator) {
        console.log(`Generating ${rate} events/s for ${Number(opts.users)} users; Ctrl-C to stop.`);
        const result = await publishPaced({
          publisher: ingest.publisher,
          events: app.generator({
            seed: Date.now() % 1_000_000,
            users: Number(opts.users),
            startTime: Date.now(),
            intervalMs: 1000 / rate,
          }),
          rate,
          signal: stop.signal,
          onProgress: (p) => process.stderr.write(`\r${p.sent} events sent   `),
          onError: (err) => logger.warn({ err: (err as Error).message }, 'generated batch not published'),
        });
        sent = result.sent;
        process.stderr.write('\n');
      } else {
        console.log('Running; Ctrl-C to stop.');
        await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve()));
      }
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await health?.close();
      await Promise.all(live.map((l) => l.stop()));
      await Promise.all(bridges.map((b) => b.stop()));
      await deadLetters.disconnect();
      await ingest.close();
      await query.close();
      console.log(`Demo stopped: ${sent} events generated.`);
      for (const l of live) console.log(`  ${l.current.groupId}: ${JSON.stringify(l.current.stats)}`);
      console.log('The stack is still up: node bin/tributary.js stack status | stack down');
    });
}
