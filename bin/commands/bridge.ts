/** CLI: `tributary bridge [names…]` runs the app's bridges until SIGTERM/SIGINT. */
import type { Command } from 'commander';
import { ensureTopics, type CliContext } from './stack.js';
import { createProducer } from '../../lib/engines/index.js';
import { startBridge } from '../../producers/bridge.js';
import { Publisher } from '../../producers/publisher.js';

export function registerBridgeCommand(program: Command, ctx: CliContext): void {
  program
    .command('bridge')
    .description(
      "upcast untyped records on the app's bridged topics to its typed events (the shop: user-created JSON → UserCreated)",
    )
    .argument('[bridges...]', "which of the app's bridges; default all")
    .action(async (names: string[]) => {
      const config = ctx.config();
      const logger = ctx.logger();
      const app = await ctx.app();
      if (app.bridges.size === 0) throw new Error(`the app ${app.name} (${app.file}) declares no bridges`);
      const wanted = names.length > 0 ? names : [...app.bridges.keys()];
      for (const n of wanted) {
        if (!app.bridges.has(n)) {
          throw new Error(
            `unknown bridge ${JSON.stringify(n)}; one of ${[...app.bridges.keys()].join(', ')}`,
          );
        }
      }
      await ensureTopics(ctx);
      const publisher = await Publisher.create(app.catalog, config, logger);
      const deadLetters = createProducer(config, logger);
      const started: Awaited<ReturnType<typeof startBridge>>[] = [];
      try {
        await deadLetters.connect();
        for (const n of wanted) {
          started.push(
            await startBridge({
              bridge: app.bridges.get(n)!,
              catalog: app.catalog,
              config,
              logger,
              publisher,
              deadLetters,
            }),
          );
        }
      } catch (err) {
        // One bridge that cannot start: stop what did, so the process ends with the error.
        await Promise.allSettled(started.map((b) => b.stop()));
        await publisher.close().catch(() => undefined);
        await deadLetters.disconnect().catch(() => undefined);
        throw err;
      }
      console.log(`bridging: ${wanted.join(', ')}; Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await Promise.all(started.map((b) => b.stop()));
      await publisher.close();
      await deadLetters.disconnect();
      started.forEach((b, i) =>
        console.log(`${wanted[i]}: upcast ${b.stats.upcast}, dead-lettered ${b.stats.deadLettered}`),
      );
    });
}
