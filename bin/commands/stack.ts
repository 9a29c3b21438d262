/** CLI: `tributary stack up|down|status|logs` and `tributary topics`. */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { App } from '../../app/app.js';
import type { TributaryConfig } from '../../lib/config.js';
import { createKafka } from '../../lib/kafka.js';
import type { Logger } from '../../lib/logger.js';
import {
  COMPONENTS,
  stackDown,
  stackLogFiles,
  stackStatus,
  stackUp,
  type ComponentName,
} from '../../infra/stack/stack.js';
import type { ComponentStatus } from '../../infra/stack/stack.js';
import { desiredTopics, provisionTopics, type TopicPlan } from '../../infra/topics.js';

/** What every command is given: config, logger and the app, each made on first use. */
export interface CliContext {
  config(): TributaryConfig;
  logger(): Logger;
  /** The app the CLI runs (`--app`, `TRIBUTARY_APP`, or the working directory's config). */
  app(): Promise<App>;
}

function parts(list: string[] | undefined): ComponentName[] | undefined {
  if (!list || list.length === 0) return undefined;
  for (const p of list) {
    if (!(COMPONENTS as readonly string[]).includes(p)) {
      throw new Error(`unknown part ${JSON.stringify(p)}; expected one of ${COMPONENTS.join(', ')}`);
    }
  }
  return list as ComponentName[];
}

export function printStatus(rows: readonly ComponentStatus[]): void {
  const w = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const extra = [r.pid ? `pid ${r.pid}` : '', r.logFile ? `log ${r.logFile}` : '']
      .filter(Boolean)
      .join(', ');
    console.log(`${r.name.padEnd(w)}  ${r.state.padEnd(11)}  ${r.endpoint}${extra ? `  (${extra})` : ''}`);
  }
}

export function printPlan(plan: TopicPlan): void {
  for (const t of plan.create) console.log(`created  ${t.name} (${t.partitions} partitions)`);
  for (const a of plan.alter) console.log(`altered  ${a.name} ${JSON.stringify(a.changes)}`);
  for (const d of plan.partitionDrift) {
    console.log(`WARNING  ${d.name} has ${d.actual} partitions, config says ${d.desired}: left unchanged`);
  }
  if (plan.unchanged.length > 0)
    console.log(`ok       ${plan.unchanged.length} topics already as configured`);
}

/** Provisions every topic of the app through a short-lived admin client. */
export async function runTopicProvisioning(
  config: TributaryConfig,
  logger: Logger,
  app: App,
): Promise<TopicPlan> {
  const admin = createKafka(config, logger).admin();
  await admin.connect();
  try {
    return await provisionTopics(admin, logger, desiredTopics(config, app.catalog));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Provisions the topics before a command produces or consumes, when
 * `TRIBUTARY_TOPIC_AUTO_PROVISION` is on (the default), so a fresh stack just works.
 */
export async function ensureTopics(ctx: CliContext): Promise<void> {
  const config = ctx.config();
  if (!config.topics.autoProvision) return;
  const plan = await runTopicProvisioning(config, ctx.logger(), await ctx.app());
  if (plan.create.length > 0) console.error(`created topics: ${plan.create.map((t) => t.name).join(', ')}`);
}

export function registerStackCommands(program: Command, ctx: CliContext): void {
  const stack = program
    .command('stack')
    .description('run the local stack: Apache Kafka (KRaft), schema registry, Redis');

  stack
    .command('up')
    .description('start what is not running and wait until every part is ready (idempotent)')
    .argument('[parts...]', `only these parts (${COMPONENTS.join(', ')})`)
    .action(async (list: string[]) => {
      const rows = await stackUp(ctx.config(), ctx.logger(), {
        only: parts(list),
        onProgress: (m) => console.log(m),
      });
      console.log('');
      printStatus(rows);
    });

  stack
    .command('down')
    .description('stop what `stack up` started (SIGTERM, then SIGKILL); external services are left alone')
    .argument('[parts...]', `only these parts (${COMPONENTS.join(', ')})`)
    .action(async (list: string[]) => {
      const stopped = await stackDown(ctx.config(), ctx.logger(), { only: parts(list) });
      console.log(stopped.length > 0 ? `stopped: ${stopped.join(', ')}` : 'nothing of ours was running');
    });

  stack
    .command('status')
    .description('show the state and endpoint of each part (exit 1 if any is not answering)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const rows = await stackStatus(ctx.config());
      if (opts.json) console.log(JSON.stringify(rows, null, 2));
      else printStatus(rows);
      if (rows.some((r) => r.state === 'stopped' || r.state === 'unreachable' || r.state === 'starting')) {
        process.exitCode = 1;
      }
    });

  stack
    .command('logs')
    .description("print a part's log file (all parts when none is named)")
    .argument('[part]', COMPONENTS.join(' | '))
    .option('-n, --lines <n>', 'last N lines', '50')
    .option('-f, --follow', 'keep printing as the log grows')
    .action(async (part: string | undefined, opts: { lines: string; follow?: boolean }) => {
      const files = stackLogFiles(ctx.config());
      const names = part ? parts([part])! : [...COMPONENTS];
      for (const name of names) {
        const file = files[name];
        if (!existsSync(file)) {
          console.log(`== ${name}: no log at ${file} (not started here)`);
          continue;
        }
        console.log(`== ${name}: ${file}`);
        await printTail(file, Number(opts.lines) || 50, Boolean(opts.follow) && names.length === 1);
      }
    });

  program
    .command('topics')
    .description(
      'create or update every topic of the app and its dead-letter topics (idempotent; partition changes are only reported)',
    )
    .action(async () => {
      printPlan(await runTopicProvisioning(ctx.config(), ctx.logger(), await ctx.app()));
    });
}

async function printTail(file: string, lines: number, follow: boolean): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(file, 'utf8');
  process.stdout.write(
    text
      .split('\n')
      .slice(-lines - 1)
      .join('\n'),
  );
  if (!follow) return;
  let pos = statSync(file).size;
  await new Promise<void>(() => {
    setInterval(() => {
      const size = statSync(file).size;
      if (size > pos) {
        createReadStream(file, { start: pos, end: size - 1 }).pipe(process.stdout, { end: false });
        pos = size;
      }
    }, 500);
  });
}
