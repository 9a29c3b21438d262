/**
 * CLI: `tributary produce` (one event from flags, or NDJSON from a file or stdin) and
 * `tributary generate` (the synthetic load generator, paced, or as NDJSON).
 */
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { ensureTopics, type CliContext } from './stack.js';
import { isTributaryError } from '../../lib/errors.js';
import type { AppEvent, EventCatalog } from '../../schemas/catalog.js';
import { parseEventInput } from '../../producers/event-input.js';
import { publishPaced } from '../../producers/paced-publish.js';
import { Publisher } from '../../producers/publisher.js';

/** Turns `--field value` pairs into a JSON payload, typed by the event's Avro schema. */
export function fieldsFromFlags(
  catalog: EventCatalog,
  type: string,
  args: readonly string[],
): Record<string, unknown> {
  if (!catalog.isEventType(type))
    throw new Error(`unknown event type ${JSON.stringify(type)}; one of ${catalog.types.join(', ')}`);
  const fields = new Map(catalog.get(type).schema.fields.map((f) => [f.name, f.type]));
  const data: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const m = /^--([A-Za-z][\w]*)(?:=(.*))?$/.exec(flag);
    if (!m) throw new Error(`expected --field value, got ${JSON.stringify(flag)}`);
    const name = m[1]!;
    const raw = m[2] ?? args[++i];
    if (raw === undefined) throw new Error(`--${name} needs a value`);
    if (!fields.has(name)) {
      throw new Error(`${type} has no field ${name}; fields: ${[...fields.keys()].join(', ')}`);
    }
    const schema = JSON.stringify(fields.get(name));
    const isString = /"string"/.test(schema) && !/"(array|record|map)"/.test(schema);
    if (isString && raw !== 'null') data[name] = raw;
    else {
      try {
        data[name] = JSON.parse(raw);
      } catch {
        data[name] = raw;
      }
    }
  }
  return data;
}

interface Summary {
  sent: number;
  rejected: { line: number; reason: string }[];
}

function printSummary(s: Summary): void {
  console.log(`sent ${s.sent}, rejected ${s.rejected.length}`);
  for (const r of s.rejected.slice(0, 20)) console.log(`  line ${r.line}: ${r.reason}`);
  if (s.rejected.length > 20) console.log(`  … and ${s.rejected.length - 20} more`);
  if (s.rejected.length > 0) process.exitCode = 2;
}

/** Reads NDJSON events, validates each line, publishes the valid ones in pipelined batches. */
async function produceFile(
  catalog: EventCatalog,
  publisher: Publisher,
  file: string,
  maxClockSkewMs: number,
): Promise<Summary> {
  const fromStdin = file === '-';
  const total = fromStdin ? 0 : statSync(file).size;
  const input = fromStdin ? process.stdin : createReadStream(file);
  const bar =
    total > 0 && process.stderr.isTTY
      ? new SingleBar({
          format: 'producing [{bar}] {percentage}% | {sent} sent | {rate} events/s | ETA {eta}s',
          stream: process.stderr,
        })
      : undefined;
  bar?.start(total, 0, { sent: 0, rate: 0 });
  const summary: Summary = { sent: 0, rejected: [] };
  const started = Date.now();
  const inFlight = new Set<Promise<void>>();
  let batch: { line: number; event: AppEvent }[] = [];
  let bytes = 0;
  let line = 0;

  const flush = async () => {
    const items = batch;
    batch = [];
    const p = publisher
      .publishBatch(items.map((i) => i.event))
      .then(() => {
        summary.sent += items.length;
      })
      .catch((err: unknown) => {
        const reason = isTributaryError(err) ? err.message : String(err);
        for (const i of items) summary.rejected.push({ line: i.line, reason: `not sent: ${reason}` });
      })
      .finally(() => {
        inFlight.delete(p);
        const rate = Math.round(summary.sent / Math.max(0.001, (Date.now() - started) / 1000));
        bar?.update(bytes, { sent: summary.sent, rate });
      });
    inFlight.add(p);
    if (inFlight.size >= 4) await Promise.race(inFlight);
  };

  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line++;
    bytes += Buffer.byteLength(text) + 1;
    if (text.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      summary.rejected.push({ line, reason: `invalid JSON: ${(err as Error).message}` });
      continue;
    }
    const parsed = parseEventInput(catalog, json, { now: Date.now(), maxClockSkewMs });
    if (!parsed.ok) summary.rejected.push({ line, reason: parsed.message });
    else batch.push({ line, event: parsed.event });
    if (batch.length >= 500) await flush();
  }
  if (batch.length > 0) await flush();
  await Promise.all(inFlight);
  bar?.update(total);
  bar?.stop();
  return summary;
}

export function registerProduceCommands(program: Command, ctx: CliContext): void {
  program
    .command('produce')
    .description('publish one event from flags, or NDJSON events from a file or stdin')
    .argument('[type]', "event type (one of the app's)")
    .option('-f, --file <path>', 'NDJSON file of {"type","data"} events; "-" reads stdin')
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  tributary produce InvoiceIssued --invoiceId i-1 --customerId c-7 --amount 1999   # one field per flag\n' +
        '  tributary produce --file events.ndjson\n' +
        '  tributary generate --count 1000 --ndjson | tributary produce --file -',
    )
    .action(async (type: string | undefined, opts: { file?: string }, cmd: Command) => {
      const config = ctx.config();
      const file = opts.file ?? (type === undefined && !process.stdin.isTTY ? '-' : undefined);
      if (file === undefined && type === undefined) {
        cmd.help({ error: true });
        return;
      }
      const { catalog } = await ctx.app();
      let event: AppEvent | undefined;
      if (file === undefined) {
        const parsed = parseEventInput(
          catalog,
          { type, data: fieldsFromFlags(catalog, type!, cmd.args.slice(1)) },
          { now: Date.now(), maxClockSkewMs: config.events.maxClockSkewMs },
        );
        if (!parsed.ok) {
          for (const f of parsed.fields) console.error(`  ${f.path}: ${f.message}`);
          throw new Error(`invalid ${type} event, nothing sent`);
        }
        event = parsed.event;
      }
      await ensureTopics(ctx);
      const publisher = await Publisher.create(catalog, config, ctx.logger());
      try {
        if (event) {
          const r = await publisher.publish(event);
          console.log(`sent ${r.type} ${r.eventId} to ${r.topic}`);
        } else {
          printSummary(await produceFile(catalog, publisher, file!, config.events.maxClockSkewMs));
        }
      } finally {
        await publisher.close();
      }
    });

  program
    .command('generate')
    .description("produce the app's synthetic stream (deterministic for a seed), paced at --rate")
    .option('-r, --rate <n>', 'events per second', '1000')
    .option('-d, --duration <s>', 'seconds to run (default: until Ctrl-C)')
    .option('-n, --count <n>', 'stop after this many events')
    .option('-u, --users <n>', 'distinct users', '1000')
    .option('-s, --seed <n>', 'seed of the stream', '1')
    .option('--out-of-order <fraction>', 'fraction of page views a little behind the stream', '0.05')
    .option('--late <fraction>', 'fraction of page views far behind the stream (late events)', '0.01')
    .option('--ndjson', 'write NDJSON events to stdout instead of publishing (as fast as possible)')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const num = (k: string) => {
        const v = Number(o[k]);
        if (!Number.isFinite(v) || v < 0)
          throw new Error(
            `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a non-negative number, got ${o[k]}`,
          );
        return v;
      };
      const rate = num('rate');
      if (rate <= 0) throw new Error('--rate must be > 0');
      const limit = Math.min(
        o.count !== undefined ? num('count') : Infinity,
        o.duration !== undefined ? Math.floor(num('duration') * rate) : Infinity,
      );
      const app = await ctx.app();
      if (!app.generator) {
        throw new Error(`the app ${app.name} (${app.file}) declares no generator for synthetic events`);
      }
      const events = app.generator({
        seed: num('seed'),
        users: num('users'),
        startTime: Date.now(),
        intervalMs: 1000 / rate,
        outOfOrderFraction: num('outOfOrder'),
        lateFraction: num('late'),
      });
      if (o.ndjson) {
        if (!Number.isFinite(limit)) throw new Error('--ndjson needs --count or --duration');
        for (let i = 0; i < limit; i++) {
          const next = events.next();
          if (next.done) break;
          const { event } = next.value;
          if (!process.stdout.write(`${JSON.stringify(event)}\n`))
            await new Promise((r) => process.stdout.once('drain', r));
        }
        return;
      }
      await ensureTopics(ctx);
      const publisher = await Publisher.create(app.catalog, ctx.config(), ctx.logger());
      await runPaced(publisher, events, rate, limit);
    });
}

/** `generate` in the foreground: paced publishing with a live rate on stderr, Ctrl-C to stop. */
async function runPaced(
  publisher: Publisher,
  events: Iterator<{ readonly event: AppEvent<string, object> }>,
  rate: number,
  limit: number,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result;
  try {
    result = await publishPaced({
      publisher,
      events,
      rate,
      limit,
      signal: stop.signal,
      onProgress: (p) => {
        const rateNow = Math.round(p.sent / (p.elapsedMs / 1000));
        process.stderr.write(`\r${p.sent} sent (${rateNow} events/s), ${p.inFlight} batches in flight   `);
      },
      onError: (err) => console.error(`publish failed: ${(err as Error).message}`),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await publisher.close();
  }
  const secs = result.elapsedMs / 1000;
  process.stderr.write('\n');
  console.log(
    `sent ${result.sent} events in ${secs.toFixed(1)} s (${Math.round(result.sent / secs)} events/s), failed ${result.failed}`,
  );
  if (result.failed > 0) process.exitCode = 1;
}
