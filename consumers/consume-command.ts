/** CLI: `tributary consume <projection…>` runs projections as consumer groups until SIGTERM/SIGINT. */
import type { Command } from 'commander';
import { ensureTopics, type CliContext } from '../infra/stack-command.js';
import { projections } from './projections/index.js';
import { startLive } from './runtime/live-projection.js';

export function registerConsumeCommand(program: Command, ctx: CliContext): void {
  program
    .command('consume')
    .description('run read-model projections with an exactly-once effect in Redis')
    .argument('[projections...]', `which (${Object.keys(projections).join(', ')}); default all`)
    .action(async (names: string[]) => {
      const wanted = names.length > 0 ? names : Object.keys(projections);
      for (const n of wanted) {
        if (!projections[n])
          throw new Error(
            `unknown projection ${JSON.stringify(n)}; one of ${Object.keys(projections).join(', ')}`,
          );
      }
      await ensureTopics(ctx);
      const live = await startLive(
        ctx.config(),
        ctx.logger(),
        wanted.map((n) => projections[n]!),
      );
      console.log(
        `consuming: ${live.map((l) => `${l.current.groupId} (keys ${l.current.version})`).join(', ')}; Ctrl-C to stop`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await Promise.all(live.map((l) => l.stop()));
      for (const l of live) console.log(`${l.current.groupId}: ${JSON.stringify(l.current.stats)}`);
    });
}
