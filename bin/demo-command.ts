/**
 * `tributary demo`: the main job on a fresh machine. Brings the stack up and provisions the
 * topics; later parts (schemas, producers, consumers, query API, dashboard) join it here.
 */
import type { Command } from 'commander';
import { printPlan, printStatus, runTopicProvisioning, type CliContext } from '../infra/stack-command.js';
import { stackUp } from '../infra/stack/stack.js';

export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description("bring the stack up and provision topics (the README's first command ends here)")
    .action(async () => {
      const config = ctx.config();
      const rows = await stackUp(config, ctx.logger(), { onProgress: (m) => console.log(m) });
      printPlan(await runTopicProvisioning(config, ctx.logger()));
      console.log('');
      printStatus(rows);
      console.log('\nStack is up. Stop it with: node bin/tributary.js stack down');
    });
}
