/** The `tributary` command line: one CLI that fronts every part. */
import { Command, CommanderError } from 'commander';
import type { App } from '../app/app.js';
import { loadApp } from '../app/load-app.js';
import { configKeys, loadConfig, type TributaryConfig } from '../lib/config.js';
import { isTributaryError } from '../lib/errors.js';
import { initLogger, type Logger } from '../lib/logger.js';
import { registerStackCommands, type CliContext } from './commands/stack.js';
import { registerConsumeCommand } from './commands/consume.js';
import { registerRebuildCommand } from './commands/rebuild.js';
import { registerBridgeCommand } from './commands/bridge.js';
import { registerIngestCommand } from './commands/ingest.js';
import { registerProduceCommands } from './commands/produce.js';
import { registerQueryCommand } from './commands/query.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerCodegenCommand } from './commands/codegen.js';
import { registerAsyncApiCommand } from './commands/asyncapi.js';
import { registerInitCommand } from './commands/init.js';
import { packageVersion } from '../lib/package-info.js';
import { dropWarnings, isKafkajsIdleCheckWarning } from './known-warnings.js';

export async function main(argv: string[]): Promise<void> {
  dropWarnings(isKafkajsIdleCheckWarning);
  let config: TributaryConfig | undefined;
  let logger: Logger | undefined;
  let app: Promise<App> | undefined;
  const ctx: CliContext = {
    app: () => (app ??= loadApp({ app: program.opts<{ app?: string }>().app })),
    config: () => (config ??= loadConfig()),
    logger: () =>
      (logger ??= initLogger({
        level: ctx.config().logLevel === 'info' ? 'warn' : ctx.config().logLevel,
        destination: 2,
      })),
  };

  const program = new Command('tributary')
    .description(
      'Typed Avro events through Apache Kafka into exactly-once read models and analytics in Redis',
    )
    .option(
      '--app <path>',
      'the app to run: a tributary.config.ts (or .mts/.js/.mjs), or a folder with one ' +
        '(default: TRIBUTARY_APP, else the working directory)',
    )
    .showHelpAfterError()
    .addHelpText(
      'after',
      `\nConfiguration comes from environment variables:\n  ${configKeys.join('\n  ')}\n` +
        'Set TRIBUTARY_KAFKA_BROKERS, TRIBUTARY_SCHEMA_REGISTRY_URL or TRIBUTARY_REDIS_URL to use an existing service.',
    );
  program.exitOverride();
  registerStackCommands(program, ctx);
  registerDemoCommand(program, ctx);
  registerProduceCommands(program, ctx);
  registerBridgeCommand(program, ctx);
  registerConsumeCommand(program, ctx);
  registerIngestCommand(program, ctx);
  registerRebuildCommand(program, ctx);
  registerQueryCommand(program, ctx);
  registerBenchCommand(program, ctx);
  registerCodegenCommand(program, ctx);
  registerAsyncApiCommand(program, ctx, packageVersion());
  registerInitCommand(program);

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (isTributaryError(err) || (err instanceof Error && process.env.TRIBUTARY_LOG_LEVEL !== 'debug')) {
      // Expected failures (bad input, a part of the stack down) get one clear line, no stack trace.
      console.error(`tributary: ${err.message}`);
      process.exitCode = 1;
      return;
    }
    console.error(err);
    process.exitCode = 1;
  }
}
