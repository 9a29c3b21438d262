/**
 * CLI: `tributary query …`. `serve` runs the HTTP query service in the foreground (as `tributary
 * ingest` does the ingestion service); every other subcommand reads Redis directly through the same
 * lib/read-models functions as the service (no HTTP), and prints an aligned table, or JSON with
 * `--json` (the same bodies the HTTP API answers).
 *
 *   tributary query users [--limit 50] [--cursor <c>] [--all]
 *   tributary query user <id>
 *   tributary query orders <userId> [--limit 20] [--cursor <c>]
 *   tributary query counts|unique-users|revenue|top-pages [--from …] [--to …] [--window …]
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../infra/stack-command.js';
import { parsePort, runUntilSignal } from '../lib/http/service.js';
import { initLogger } from '../lib/logger.js';
import { isReadModelError } from '../lib/read-models/errors.js';
import { readUserOrders } from '../lib/read-models/orders.js';
import type { OrderView } from '../lib/read-models/orders.js';
import { openReadModelSource } from '../lib/read-models/source.js';
import type { OwnedReadModelSource } from '../lib/read-models/source.js';
import { listUsers, readUser } from '../lib/read-models/users.js';
import type { UserView } from '../lib/read-models/users.js';
import { METRICS, checkAnalyticsQuery, readMetric } from './analytics-read.js';
import { isQueryHttpError } from './http-error.js';
import { startQueryService } from './service.js';
import type { QueryService } from './service.js';
import { formatAmounts, formatMetric, formatMoney, formatPairs, formatTable, formatTime } from './table.js';

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

function userRows(users: readonly UserView[]): string[][] {
  return users.map((u) => [u.userId, u.name, u.email, u.plan, u.country, formatTime(u.createdAt)]);
}

function orderRows(orders: readonly OrderView[]): string[][] {
  return orders.map((o) => [
    o.orderId,
    o.status,
    formatMoney(o.totalAmount, o.currency),
    String(o.itemCount),
    formatTime(o.placedAt),
    o.paidAt === undefined ? '-' : formatTime(o.paidAt),
    o.cancelledAt === undefined ? '-' : formatTime(o.cancelledAt),
  ]);
}

/** Prints where the service listens and how to call it (to stderr: stdout carries the logs). */
export function printQueryBanner(service: QueryService): void {
  const lines = [
    `Tributary query service on ${service.url}`,
    '  GET /users, /users/:id, /users/:id/orders, /analytics/{counts,unique-users,revenue,top-pages}, /stream (SSE)',
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
      `    curl -sS ${service.url}/users -H "X-API-Key: $(cat ${file})"`,
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
    .description('read the read models and analytics (directly from Redis), or serve them over HTTP');

  query
    .command('serve')
    .description('run the HTTP query service (read models, analytics, live stream)')
    .option('--host <host>', 'address to listen on (default TRIBUTARY_QUERY_HOST, 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any (default TRIBUTARY_QUERY_PORT, 8090)', parsePort)
    .action(async (opts: { host?: string; port?: number }) => {
      const config = ctx.config();
      const logger = initLogger({ level: config.logLevel, destination: 1 });
      const service = await startQueryService({
        catalog: (await ctx.app()).catalog,
        config,
        logger,
        ...(opts.host === undefined ? {} : { host: opts.host }),
        ...(opts.port === undefined ? {} : { port: opts.port }),
      });
      printQueryBanner(service);
      await runUntilSignal(service, logger);
    });

  query
    .command('users')
    .description('list users (a page; --all for every page) and the total count')
    .option('--limit <n>', 'users per page', parseLimit, 50)
    .option('--cursor <cursor>', 'continue after a previous page (its next cursor)')
    .option('--all', 'follow the cursor to the end')
    .option('--json', 'print JSON instead of a table')
    .action((opts: { limit: number; cursor?: string; all?: boolean; json?: boolean }) =>
      withSource(ctx, async (source) => {
        let page = await listUsers(source, { limit: opts.limit, cursor: opts.cursor });
        const users = [...page.users];
        while (opts.all && page.nextCursor !== null) {
          page = await listUsers(source, { limit: opts.limit, cursor: page.nextCursor });
          users.push(...page.users);
        }
        if (opts.json) return printJson({ users, total: page.total, nextCursor: page.nextCursor });
        console.log(formatTable(['USER', 'NAME', 'EMAIL', 'PLAN', 'COUNTRY', 'CREATED'], userRows(users)));
        console.log(`\n${users.length} shown · ${page.total ?? 'unknown (user-count not running)'} in total`);
        if (page.nextCursor !== null) console.log(`more: --cursor ${page.nextCursor}`);
      }),
    );

  query
    .command('user')
    .description('one user')
    .argument('<id>', 'the user id')
    .option('--json', 'print JSON instead of a table')
    .action((id: string, opts: { json?: boolean }) =>
      withSource(ctx, async (source) => {
        const user = await readUser(source, id);
        if (!user) {
          console.error(`tributary query: no user ${JSON.stringify(id)}`);
          process.exitCode = 1;
          return;
        }
        if (opts.json) return printJson(user);
        console.log(
          formatPairs([
            ['user', user.userId],
            ['name', user.name],
            ['email', user.email],
            ['plan', user.plan],
            ['country', user.country],
            ['created', formatTime(user.createdAt)],
            ['updated', formatTime(user.updatedAt)],
          ]),
        );
      }),
    );

  query
    .command('orders')
    .description("a user's orders, newest first, and their totals")
    .argument('<userId>', 'the user id')
    .option('--limit <n>', 'orders per page', parseLimit, 20)
    .option('--cursor <cursor>', 'continue after a previous page (its next cursor)')
    .option('--json', 'print JSON instead of a table')
    .action((userId: string, opts: { limit: number; cursor?: string; json?: boolean }) =>
      withSource(ctx, async (source) => {
        const page = await readUserOrders(source, userId, { limit: opts.limit, cursor: opts.cursor });
        if (!page) {
          console.error(`tributary query: no orders of user ${JSON.stringify(userId)}`);
          process.exitCode = 1;
          return;
        }
        if (opts.json) return printJson({ userId, ...page });
        console.log(
          formatTable(
            ['ORDER', 'STATUS', 'TOTAL', 'ITEMS', 'PLACED', 'PAID', 'CANCELLED'],
            orderRows(page.orders),
          ),
        );
        const t = page.totals;
        console.log(
          `\n${t.placed} placed (${formatAmounts(t.placedAmount)}) · ${t.paid} paid (${formatAmounts(t.paidAmount)}) · ` +
            `${t.cancelled} cancelled (refunded ${formatAmounts(t.refundedAmount)})`,
        );
        if (page.nextCursor !== null) console.log(`more: --cursor ${page.nextCursor}`);
      }),
    );

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
