/** CLI: `tributary consume <projection…>` runs projections as consumer groups until SIGTERM/SIGINT. */
import type { Command } from 'commander';
import { ensureTopics, type CliContext } from '../infra/stack-command.js';
import { projections } from './projections/index.js';
import { ConsumerRuntime } from './runtime/consumer-runtime.js';

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
      const runtimes = await Promise.all(
        wanted.map((n) =>
          ConsumerRuntime.start({ config: ctx.config(), logger: ctx.logger(), projection: projections[n]! }),
        ),
      );
      console.log(
        `consuming: ${runtimes.map((r) => `${r.groupId} (keys ${r.version})`).join(', ')}; Ctrl-C to stop`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await Promise.all(runtimes.map((r) => r.stop()));
      for (const r of runtimes) console.log(`${r.groupId}: ${JSON.stringify(r.stats)}`);
    });
}
