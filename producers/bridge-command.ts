/** CLI: `tributary bridge` runs the legacy JSON → typed `UserCreated` bridge until SIGTERM/SIGINT. */
import type { Command } from 'commander';
import { ensureTopics, type CliContext } from '../infra/stack-command.js';
import { createProducer } from '../lib/engines/index.js';
import { startLegacyBridge } from './legacy-bridge.js';
import { Publisher } from './publisher.js';

export function registerBridgeCommand(program: Command, ctx: CliContext): void {
  program
    .command('bridge')
    .description('upcast old JSON records on `user-created` to typed UserCreated events on `users`')
    .action(async () => {
      const config = ctx.config();
      const logger = ctx.logger();
      await ensureTopics(ctx);
      const app = await ctx.app();
      if (!app.catalog.isEventType('UserCreated')) {
        throw new Error(`the bridge publishes UserCreated, which the app ${app.name} has no event for`);
      }
      const publisher = await Publisher.create(app.catalog, config, logger);
      const deadLetters = createProducer(config, logger);
      await deadLetters.connect();
      const bridge = await startLegacyBridge({
        catalog: app.catalog,
        config,
        logger,
        publisher,
        deadLetters,
      });
      console.log('bridge running; Ctrl-C to stop');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await bridge.stop();
      await publisher.close();
      await deadLetters.disconnect();
      console.log(`upcast ${bridge.stats.upcast}, dead-lettered ${bridge.stats.deadLettered}`);
    });
}
