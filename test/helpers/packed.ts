/**
 * Tributary as a team adopts it: `npm pack` of this checkout installed into a fresh project
 * outside the repository, with an app there (`billing`: invoices keyed by customer) written only
 * on the package's public API, run through the installed `tributary` command.
 *
 * The packed project is made once per test file (`packedProject()`) and removed by
 * `removePackedProject()` (and at the latest when the worker exits).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TributaryConfig } from '../../lib/config.js';
import { prng, zipfSampler } from '../../producers/random.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEEP_OUTPUT = 256 * 1024;

/** The project's environment: this Node first on PATH; nothing of the runner's npm or TRIBUTARY_* settings. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('TRIBUTARY_') || /^npm_/i.test(k) || k === 'INIT_CWD' || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  // `#!/usr/bin/env node` (the installed bin, npm itself) must find the Node that runs the tests.
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
  return env;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file args` to its end; a failing exit is an answer, a timeout an error naming `what`. */
export function run(
  file: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; what: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) {
          reject(
            new Error(`${options.what} took longer than ${options.timeoutMs} ms:\n${stdout}\n${stderr}`),
          );
        } else if (err && typeof err.code !== 'number') {
          reject(new Error(`${options.what}: ${err.message}\n${stderr}`));
        } else {
          resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
        }
      },
    );
  });
}

/** The packed tarball installed into a fresh project. */
export interface PackedProject {
  /** The project folder (outside the repository, under the OS's temp dir). */
  readonly dir: string;
  /** The tarball `npm pack` made. */
  readonly tarball: string;
  /** The files the tarball holds, as `npm pack --json` lists them. */
  readonly files: readonly string[];
  /** `node_modules/.bin/tributary` of the project. */
  readonly bin: string;
  readonly packMs: number;
  readonly installMs: number;
}

const made: string[] = [];
let cached: Promise<PackedProject> | undefined;
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** `npm pack` + `npm install` once per test file; later calls share the project. */
export function packedProject(): Promise<PackedProject> {
  return (cached ??= packAndInstall());
}

/** Removes the packed project and its tarball. */
export function removePackedProject(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  cached = undefined;
}

async function packAndInstall(): Promise<PackedProject> {
  if (!existsSync(path.join(ROOT, 'dist', 'bin', 'cli.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before the packed-app test');
  }
  const env = cleanEnv();
  const packDir = await mkdtemp(path.join(os.tmpdir(), 'tributary-pack-'));
  made.push(packDir);
  let started = Date.now();
  // --ignore-scripts: `prepack` would run `npm run build`, rewriting dist/ under the tests that run
  // the CLI from it at the same time; the test runs on the build made before it (as the fault tests do).
  const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir, '--json'], {
    cwd: ROOT,
    env,
    timeoutMs: 60_000,
    what: 'npm pack',
  });
  if (pack.code !== 0) throw new Error(`npm pack failed (${pack.code}):\n${pack.stderr}`);
  const packed = (JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
  const packMs = Date.now() - started;
  const tarball = path.join(packDir, packed.filename);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-app-'));
  made.push(dir);
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'acme-billing',
        version: '1.0.0',
        private: true,
        type: 'module',
        // The confluent engine (an optional dependency) is installed but its native build is
        // skipped: the team uses the default kafkajs engine. `--omit=optional` cannot do this:
        // it would also drop the native binding of lz4-napi (a dependency, whose per-platform
        // binaries are optional dependencies), without which no Kafka command starts.
        allowScripts: { '@confluentinc/kafka-javascript': false, protobufjs: false, esbuild: true },
      },
      null,
      2,
    ),
  );
  started = Date.now();
  const install = await run(
    'npm',
    ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error'],
    { cwd: dir, env, timeoutMs: 180_000, what: `npm install ${packed.filename}` },
  );
  if (install.code !== 0) throw new Error(`npm install failed (${install.code}):\n${install.stderr}`);
  const installMs = Date.now() - started;
  await writeBillingApp(dir);
  return {
    dir,
    tarball,
    files: packed.files.map((f) => f.path),
    bin: path.join(dir, 'node_modules', '.bin', 'tributary'),
    packMs,
    installMs,
  };
}

/** The environment that points the installed CLI at `config`'s endpoints, topics and keys. */
export function installedEnv(config: TributaryConfig, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...cleanEnv(),
    TRIBUTARY_KAFKA_BROKERS: config.kafka.brokers.value.join(','),
    TRIBUTARY_SCHEMA_REGISTRY_URL: config.registry.url.value,
    TRIBUTARY_REDIS_URL: config.redis.url.value,
    TRIBUTARY_TOPIC_PREFIX: config.topics.prefix,
    TRIBUTARY_REDIS_KEY_PREFIX: config.redis.keyPrefix,
    TRIBUTARY_LOG_LEVEL: 'warn',
    // No /metrics server on the default port (other tests' consumers may hold it).
    TRIBUTARY_CONSUMER_HTTP_PORT: '0',
    ...extra,
  };
}

/** Runs the installed `tributary args` in the project (which finds its tributary.config.ts itself). */
export function runInstalled(
  project: PackedProject,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<RunResult> {
  return run(project.bin, args, { cwd: project.dir, env, timeoutMs, what: `tributary ${args.join(' ')}` });
}

/** A long-running installed `tributary …` (consume, query serve) as a child process. */
export class InstalledProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = '';
  private status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly child: ChildProcess;

  constructor(
    project: PackedProject,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    readonly name: string,
  ) {
    this.child = spawn(project.bin, args, { cwd: project.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-KEEP_OUTPUT);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.status = { code, signal };
        resolve(this.status);
      }),
    );
  }

  get alive(): boolean {
    return this.status === undefined;
  }

  /** The last 256 KiB of its stdout and stderr. */
  log(): string {
    return this.output;
  }

  /** Resolves once its output holds `text`; rejects when it exits first or after `timeoutMs`. */
  async waitFor(text: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes(text)) {
      if (!this.alive)
        throw new Error(`${this.name} exited (${JSON.stringify(this.status)}):\n${this.output}`);
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name} did not print ${JSON.stringify(text)} in ${timeoutMs} ms:\n${this.output}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** `kill -9`, then waits for the exit. */
  async kill9(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.child.kill('SIGKILL');
    return this.exited;
  }
}

// ---------------------------------------------------------------------------------------------
// The app: what the team writes in its own repository, importing nothing but 'tributary'.

const PROJECTION = 'invoices-per-customer';

/** The app's files, by path relative to the project. */
export const BILLING_APP: Readonly<Record<string, string>> = {
  'schemas/invoice-issued.avsc': avsc('InvoiceIssued', 'An invoice was sent to a customer.', [
    { name: 'invoiceId', type: 'string' },
    { name: 'customerId', type: 'string', doc: 'The customer billed; the partition key.' },
    { name: 'amount', type: 'long', doc: 'Amount in minor units.' },
  ]),
  'schemas/invoice-paid.avsc': avsc('InvoicePaid', 'A customer paid an invoice.', [
    { name: 'invoiceId', type: 'string' },
    { name: 'customerId', type: 'string', doc: 'The customer who paid; the partition key.' },
  ]),
  'tributary.config.ts': `import { defineApp } from 'tributary';
import { invoicesPerCustomer } from './projections/invoices-per-customer.js';

export default defineApp({
  name: 'billing',
  schemas: './schemas',
  topics: [{ name: 'invoices', events: ['InvoiceIssued', 'InvoicePaid'], key: ['customerId'], partitions: 4 }],
  projections: [invoicesPerCustomer],
});
`,
  [`projections/${PROJECTION}.ts`]: `import {
  defineProjection,
  defineReader,
  type AppliedRecord,
  type PartitionKeys,
  type WriteBatch,
} from 'tributary';
import type { AnyEvent } from '../generated/events.js';

export interface CustomerInvoices {
  customerId: string;
  issued: number;
  paid: number;
  amount: number;
}

export interface InvoiceTotals {
  issued: number;
  paid: number;
  amount: number;
}

const customerKey = (keys: PartitionKeys, id: string) => keys.key('customer', id);
const totalsKey = (keys: PartitionKeys) => keys.key('totals');
const count = (v: string | undefined) => Number(v ?? 0);

export const invoicesPerCustomer = defineProjection<AnyEvent>({
  name: '${PROJECTION}',
  topics: ['invoices'],
  apply({ event }: AppliedRecord<AnyEvent>, w: WriteBatch, keys: PartitionKeys): void {
    switch (event.type) {
      case 'InvoiceIssued': {
        const { customerId, amount } = event.data;
        w.command('HINCRBY', customerKey(keys, customerId), 'issued', 1);
        w.command('HINCRBY', customerKey(keys, customerId), 'amount', amount);
        w.command('HINCRBY', totalsKey(keys), 'issued', 1);
        w.command('HINCRBY', totalsKey(keys), 'amount', amount);
        return;
      }
      case 'InvoicePaid':
        w.command('HINCRBY', customerKey(keys, event.data.customerId), 'paid', 1);
        w.command('HINCRBY', totalsKey(keys), 'paid', 1);
        return;
    }
  },
  readers: {
    customer: defineReader<{ id: string }, CustomerInvoices>({
      description: "A customer's invoices: how many were issued and paid, and the amount issued",
      params: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string', minLength: 1, maxLength: 128, description: 'The customer id' } },
      },
      answer: {
        type: 'object',
        required: ['customerId', 'issued', 'paid', 'amount'],
        properties: {
          customerId: { type: 'string' },
          issued: { type: 'integer' },
          paid: { type: 'integer' },
          amount: { type: 'integer', description: 'Minor units' },
        },
      },
      notFound: 'No invoice of this customer was seen.',
      async read({ id }, ctx) {
        const keys = await ctx.partition('invoices', id);
        if (!keys) return null;
        const h = await ctx.redis.hgetall(customerKey(keys, id));
        if (Object.keys(h).length === 0) return null;
        return { customerId: id, issued: count(h.issued), paid: count(h.paid), amount: count(h.amount) };
      },
    }),
    totals: defineReader<Record<string, never>, InvoiceTotals>({
      description: 'Invoices issued and paid, and the amount issued, over every customer',
      answer: {
        type: 'object',
        required: ['issued', 'paid', 'amount'],
        properties: { issued: { type: 'integer' }, paid: { type: 'integer' }, amount: { type: 'integer' } },
      },
      async read(_params, ctx) {
        const totals: InvoiceTotals = { issued: 0, paid: 0, amount: 0 };
        for (const keys of await ctx.partitions('invoices')) {
          const h = await ctx.redis.hgetall(totalsKey(keys));
          totals.issued += count(h.issued);
          totals.paid += count(h.paid);
          totals.amount += count(h.amount);
        }
        return totals;
      },
    }),
  },
});
`,
  // Not run: typechecked, to show that the generated types are what `apply` narrows on.
  'typecheck-probe.ts': `import type { AnyEvent, EventType } from './generated/events.js';
import type { CustomerInvoices } from './projections/${PROJECTION}.js';

export const types: readonly EventType[] = ['InvoiceIssued', 'InvoicePaid'];

export function describe(event: AnyEvent): string {
  if (event.type === 'InvoicePaid') {
    // @ts-expect-error an InvoicePaid carries no amount
    return String(event.data.amount);
  }
  const amount: number = event.data.amount;
  return \`\${event.data.customerId}: \${amount}\`;
}

// @ts-expect-error a reader's answer has every field
export const partial: CustomerInvoices = { customerId: 'c', issued: 1 };
`,
  'tsconfig.json': JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2023',
        lib: ['ES2023'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
      },
      include: ['*.ts', 'projections/**/*.ts', 'generated/**/*.ts'],
    },
    null,
    2,
  ),
};

function avsc(name: string, doc: string, fields: readonly Record<string, string>[]): string {
  return JSON.stringify(
    {
      type: 'record',
      name,
      namespace: 'com.acme.billing',
      doc,
      fields: [
        { name: 'eventId', type: { type: 'string', logicalType: 'uuid' } },
        { name: 'occurredAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
        ...fields,
      ],
    },
    null,
    2,
  );
}

/** Writes {@link BILLING_APP} into `dir`. */
export async function writeBillingApp(dir: string): Promise<void> {
  for (const [file, text] of Object.entries(BILLING_APP)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
}

// ---------------------------------------------------------------------------------------------
// Its events, and the oracle computed from them independently of the engine.

export type BillingEvent =
  | {
      type: 'InvoiceIssued';
      data: {
        eventId: string;
        occurredAt: number;
        invoiceId: string;
        customerId: string;
        amount: number;
      };
    }
  | {
      type: 'InvoicePaid';
      data: { eventId: string; occurredAt: number; invoiceId: string; customerId: string };
    };

function uuid(random: () => number): string {
  const b = Array.from({ length: 16 }, () => Math.floor(random() * 256));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * `count` events of `customers` customers (skewed: a few customers get most invoices), the same
 * for a seed: invoices issued, and about a third of them paid some time later. Event times run
 * from `t0`, a millisecond apart.
 */
export function billingEvents(seed: number, count: number, customers: number, t0: number): BillingEvent[] {
  const random = prng(seed);
  const customer = zipfSampler(customers, 0.8, random);
  const open: { invoiceId: string; customerId: string }[] = [];
  const events: BillingEvent[] = [];
  for (let i = 0; i < count; i++) {
    const occurredAt = t0 + i;
    if (open.length > 0 && random() < 0.35) {
      const [paid] = open.splice(Math.floor(random() * open.length), 1);
      events.push({ type: 'InvoicePaid', data: { eventId: uuid(random), occurredAt, ...paid! } });
    } else {
      const invoice = { invoiceId: `inv-${seed}-${i}`, customerId: `cust-${customer()}` };
      open.push(invoice);
      const amount = 100 + Math.floor(random() * 250_000);
      events.push({ type: 'InvoiceIssued', data: { eventId: uuid(random), occurredAt, ...invoice, amount } });
    }
  }
  return events;
}

export interface CustomerOracle {
  customerId: string;
  issued: number;
  paid: number;
  amount: number;
}

/** What the read model must hold: per customer, and over all of them. */
export function billingOracle(events: readonly BillingEvent[]): {
  customers: Map<string, CustomerOracle>;
  totals: { issued: number; paid: number; amount: number };
} {
  const customers = new Map<string, CustomerOracle>();
  const totals = { issued: 0, paid: 0, amount: 0 };
  for (const e of events) {
    const id = e.data.customerId;
    let c = customers.get(id);
    if (!c) customers.set(id, (c = { customerId: id, issued: 0, paid: 0, amount: 0 }));
    if (e.type === 'InvoiceIssued') {
      c.issued++;
      c.amount += e.data.amount;
      totals.issued++;
      totals.amount += e.data.amount;
    } else {
      c.paid++;
      totals.paid++;
    }
  }
  return { customers, totals };
}

/** NDJSON lines as `tributary produce --file` reads them. */
export function toNdjson(events: readonly BillingEvent[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n';
}
