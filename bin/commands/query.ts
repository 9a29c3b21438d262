/**
 * CLI: `tributary query …`. `serve` runs the HTTP query service in the foreground (as `tributary
 * ingest` does the ingestion service); everything else reads Redis directly through the same
 * readers as the service (no HTTP), and prints aligned tables, or JSON with `--json` (the same
 * bodies the HTTP API answers).
 *
 *   tributary query <model> <reader> [--param value …] [--all]   e.g. query users get --id u-1
 *   tributary query counts|unique-users|revenue|top-pages [--from …] [--to …] [--window …]
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from './stack.js';
import { parsePort, runUntilSignal } from '../../lib/http/service.js';
import { initLogger } from '../../lib/logger.js';
import { isReadModelError } from '../../lib/read-models/errors.js';
import { openReadModelSource } from '../../lib/read-models/source.js';
import type { OwnedReadModelSource } from '../../lib/read-models/source.js';
import { METRICS, checkAnalyticsQuery, readMetric } from '../../query/analytics-read.js';
import { isQueryHttpError } from '../../query/http-error.js';
import { startQueryService } from '../../query/service.js';
import type { QueryService } from '../../query/service.js';
import {
  ModelCommandError,
  findReader,
  formatAnswer,
  listReaders,
  parseParams,
  runReader,
} from '../../query/model-command.js';
import { formatMetric } from '../../query/table.js';
import { readerPaths } from '../../query/model-routes.js';

/** A `--limit` value: an integer from 1 to 10,000. */
export function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 10_000)
    throw new Error(`--limit: expected 1-10000, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Runs `read` with a read-model source for this command, closed afterwards; a read-model refusal
 * (bad cursor, metadata unavailable) becomes one clear line and exit code 1.
 */
export async function withSource(
  ctx: CliContext,
  read: (source: OwnedReadModelSource) => Promise<void>,
): Promise<void> {
  const source = openReadModelSource(ctx.config(), ctx.logger());
  try {
    await read(source);
  } catch (err) {
    if (!isReadModelError(err)) throw err;
    console.error(`tributary query: ${err.message}`);
    process.exitCode = 1;
  } finally {
    await source.close();
  }
}

/** Prints `value` as JSON (`--json`). */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Prints where the service listens and how to call it (to stderr: stdout carries the logs). */
export function printQueryBanner(service: QueryService, readerPaths: readonly string[]): void {
  const lines = [
    `Tributary query service on ${service.url}`,
    `  GET ${[...readerPaths, '/analytics/{counts,unique-users,revenue,top-pages}', '/stream (SSE)'].join(', ')}`,
    `  OpenAPI ${service.url}/openapi.json · metrics ${service.url}/metrics · /healthz · /readyz`,
  ];
  const dev = service.auth.devKey;
  if (service.authenticator.mode === 'disabled') {
    lines.push('  authentication is OFF (TRIBUTARY_AUTH_DISABLED=true): anyone who can connect may read');
  } else if (dev) {
    const file = path.relative(process.cwd(), dev.file) || dev.file;
    lines.push(
      `  no credentials configured: local development API key (scopes ingest, query) in ${file}`,
      '  try:',
      `    curl -sS ${service.url}${readerPaths[0] ?? '/openapi.json'} -H "X-API-Key: $(cat ${file})"`,
    );
  } else {
    lines.push(`  credentials: ${service.authenticator.methods.join(', ')}`);
  }
  console.error(lines.join('\n'));
}

/** Registers `tributary query` and its subcommands. */
export function registerQueryCommand(program: Command, ctx: CliContext): void {
  const query = program
    .command('query')
    .description(
      "read the app's read models (`query <model> <reader> [--param value]`) and analytics, directly from Redis, or serve them over HTTP",
    )
    .argument('[model]', 'a projection of the app')
    .argument('[reader]', 'one of its readers')
    .usage('<model> <reader> [--param value …] [--json] [--all] | --readers | <command>')
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      'after',
      '\nReading a model: --json prints JSON (the HTTP answer) instead of tables; --all follows the\n' +
        "answer's nextCursor to the end; --readers lists the app's readers.\n" +
        'Examples:\n  tributary query users list --limit 20\n  tributary query users get --id u-1\n' +
        '  tributary query orders of-user --userId u-1 --json',
    )
    .action(async (_model: string | undefined, _reader: string | undefined, _opts: object, cmd: Command) => {
      // The command's own flags are read here, not declared: declared on `query`, Commander would
      // take them from its subcommands' arguments too (`query revenue --json`).
      const args = [...cmd.args];
      const flag = (name: string) => {
        const i = args.indexOf(name);
        if (i >= 0) args.splice(i, 1);
        return i >= 0;
      };
      const opts = { json: flag('--json'), all: flag('--all'), readers: flag('--readers') };
      const [model, reader, ...rest] = args;
      const app = await ctx.app();
      const models = [...app.projections.values()];
      if (opts.readers || model === undefined || model.startsWith('-')) {
        if (!opts.readers) cmd.help({ error: true });
        for (const line of listReaders(models)) console.log(line);
        return;
      }
      let found;
      let params;
      try {
        found = findReader(models, model, reader);
        params = parseParams(found, rest);
      } catch (err) {
        if (!(err instanceof ModelCommandError)) throw err;
        console.error(`tributary query: ${err.message}`);
        process.exitCode = 1;
        return;
      }
      const r = found;
      const p = params;
      await withSource(ctx, async (source) => {
        const answer = await runReader(source, model, r, p, opts.all);
        if (answer === null || answer === undefined) {
          console.error(`tributary query: ${r.notFound ?? 'not found'}`);
          process.exitCode = 1;
          return;
        }
        if (opts.json) printJson(answer);
        else console.log(formatAnswer(answer));
      });
    });

  query
    .command('serve')
    .description('run the HTTP query service (read models, analytics, live stream)')
    .option('--host <host>', 'address to listen on (default TRIBUTARY_QUERY_HOST, 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any (default TRIBUTARY_QUERY_PORT, 8090)', parsePort)
    .action(async (opts: { host?: string; port?: number }) => {
      const config = ctx.config();
      const logger = initLogger({ level: config.logLevel, destination: 1 });
      const app = await ctx.app();
      const models = [...app.projections.values()];
      const service = await startQueryService({
        catalog: app.catalog,
        models,
        config,
        logger,
        ...(opts.host === undefined ? {} : { host: opts.host }),
        ...(opts.port === undefined ? {} : { port: opts.port }),
      });
      printQueryBanner(service, readerPaths(models));
      await runUntilSignal(service, logger);
    });

  registerAnalyticsCommands(query, ctx);
}

/** Registers the analytics subcommands under `tributary query`. */
function registerAnalyticsCommands(query: Command, ctx: CliContext): void {
  for (const metric of METRICS) {
    const command = query
      .command(metric.route)
      .description(metric.summary.charAt(0).toLowerCase() + metric.summary.slice(1))
      .option(
        '--from <instant>',
        'windows starting at or after (epoch ms, ISO-8601, now-1h); default to - 1h',
      )
      .option('--to <instant>', 'windows starting before (default now)')
      .option('--window <window>', 'tumbling, hopping, or the size of one of them (1m, 300000)', 'tumbling')
      .option('--json', 'print JSON instead of a table');
    if (metric.route === 'top-pages') command.option('--limit <n>', 'pages per window', parseLimit);
    command.action((opts: { from?: string; to?: string; window?: string; limit?: number; json?: boolean }) =>
      withSource(ctx, async (source) => {
        try {
          const checked = checkAnalyticsQuery(
            {
              ...(opts.from === undefined ? {} : { from: opts.from }),
              ...(opts.to === undefined ? {} : { to: opts.to }),
              ...(opts.window === undefined ? {} : { window: opts.window }),
              ...(opts.limit === undefined ? {} : { limit: opts.limit }),
            },
            Date.now(),
          );
          const answer = await readMetric(source, metric, checked);
          if (opts.json) printJson(answer);
          else console.log(formatMetric(metric, answer));
        } catch (err) {
          if (!isQueryHttpError(err)) throw err;
          // Parameter paths read as options here: querystring.from -> --from.
          const lines = err.fields.map((f) => `${f.path.replace(/^querystring\./, '--')}: ${f.message}`);
          console.error(`tributary query ${metric.route}: ${lines.join('; ') || err.message}`);
          process.exitCode = 1;
        }
      }),
    );
  }
}
