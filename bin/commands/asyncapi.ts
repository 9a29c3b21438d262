/** CLI: `tributary asyncapi` prints the app's AsyncAPI 3.0 document (or writes it with `--out`). */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CliContext } from './stack.js';
import { asyncApiDocument } from '../../schemas/asyncapi.js';

export function registerAsyncApiCommand(program: Command, ctx: CliContext, version: string): void {
  program
    .command('asyncapi')
    .description("print the AsyncAPI 3.0 document of the app's topics and events (JSON)")
    .option('-o, --out <file>', 'write it to a file instead')
    .action(async (opts: { out?: string }) => {
      const app = await ctx.app();
      const doc = asyncApiDocument(app.catalog, ctx.config(), { title: app.name, version });
      const text = `${JSON.stringify(doc, null, 2)}\n`;
      if (opts.out) {
        await writeFile(opts.out, text);
        console.error(`wrote ${opts.out}`);
      } else process.stdout.write(text);
    });
}
