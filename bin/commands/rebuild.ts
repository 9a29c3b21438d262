/** CLI: `tributary rebuild <projection>` refills a read model from the log and swaps it in. */
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { ensureTopics, type CliContext } from './stack.js';
import { rebuildProjection } from '../../consumers/rebuild.js';

export function registerRebuildCommand(program: Command, ctx: CliContext): void {
  program
    .command('rebuild')
    .description(
      'fill a new key version of a read model from the earliest offsets, then swap it in atomically',
    )
    .argument('<projection>', "one of the app's projections")
    .option('--keep-old', 'keep the old version’s keys after the swap')
    .action(async (name: string, opts: { keepOld?: boolean }) => {
      const app = await ctx.app();
      const projection = app.projections.get(name);
      if (!projection)
        throw new Error(
          `unknown projection ${JSON.stringify(name)}; one of ${[...app.projections.keys()].join(', ')}`,
        );
      await ensureTopics(ctx);
      const bar = new SingleBar({
        format: `rebuilding ${name} [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | ETA {etaText}`,
        stream: process.stderr,
        noTTYOutput: true,
        notTTYSchedule: 2000,
      });
      let started = false;
      const result = await rebuildProjection({
        catalog: app.catalog,
        config: ctx.config(),
        logger: ctx.logger(),
        projection,
        keepOld: Boolean(opts.keepOld),
        onProgress: (p) => {
          const payload = {
            rate: p.eventsPerSecond,
            etaText: p.etaSeconds === undefined ? '?' : `${p.etaSeconds}s`,
          };
          if (!started) {
            bar.start(p.total, p.done, payload);
            started = true;
          } else bar.update(p.done, payload);
        },
      });
      bar.stop();
      console.log(
        `${name}: ${result.from ?? '(none)'} → ${result.to}, ${result.records} events in ${result.seconds.toFixed(1)} s; ` +
          'live consumers follow the new version',
      );
    });
}
