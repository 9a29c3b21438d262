/** CLI: `tributary codegen` writes the app's TypeScript event types from its `.avsc` files. */
import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from './stack.js';
import { writeEventTypes } from '../../schemas/codegen.js';

export function registerCodegenCommand(program: Command, ctx: CliContext): void {
  program
    .command('codegen')
    .description("generate the app's TypeScript event types from its .avsc files")
    .option('--check', 'only compare: exit 1 when the generated file is out of date (for CI)')
    .action(async (opts: { check?: boolean }) => {
      const { codegen } = await ctx.app();
      const shown = path.relative(process.cwd(), codegen.outFile) || codegen.outFile;
      const result = await writeEventTypes(codegen, opts.check);
      if (!result.upToDate) {
        console.error(`${shown} is out of date: run \`tributary codegen\``);
        process.exitCode = 1;
        return;
      }
      console.log(`${result.written ? 'wrote' : 'unchanged'} ${shown}`);
    });
}
