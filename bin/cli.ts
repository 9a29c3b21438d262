/** The `tributary` command line: one CLI that fronts every part. */
import { Command, CommanderError } from 'commander';
import type { App } from '../app/app.js';
import { loadApp } from '../app/load-app.js';
import { configKeys, loadConfig, type TributaryConfig } from '../lib/config.js';
import { isTributaryError } from '../lib/errors.js';
import { initLogger, type Logger } from '../lib/logger.js';
import { registerStackCommands, type CliContext } from '../infra/stack-command.js';
import { registerConsumeCommand } from '../consumers/consume-command.js';
import { registerRebuildCommand } from '../consumers/rebuild-command.js';
import { registerBridgeCommand } from '../producers/bridge-command.js';
import { registerIngestCommand } from '../producers/http/ingest-command.js';
import { registerProduceCommands } from '../producers/produce-command.js';
import { registerQueryCommand } from '../query/query-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerBenchCommand } from '../bench/bench-command.js';
import { registerCodegenCommand } from '../schemas/codegen-command.js';
import { registerAsyncApiCommand } from '../schemas/asyncapi-command.js';
import { registerInitCommand } from '../app/init-command.js';
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
