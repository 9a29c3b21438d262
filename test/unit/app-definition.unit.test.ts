import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveApp } from '../../app/app.js';
import { defineApp, defineProjection } from '../../app/define.js';
import { findAppFile, loadApp } from '../../app/load-app.js';
import { desiredTopics } from '../../infra/topics.js';
import { loadConfig } from '../../lib/config.js';
import { ErrorCodes } from '../../lib/errors.js';

const root = mkdtempSync(path.join(tmpdir(), 'tributary-app-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const envelope = [
  { name: 'eventId', type: { type: 'string', logicalType: 'uuid' } },
  { name: 'occurredAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
];

/** A folder of .avsc files, one per record given. */
function schemas(records: Record<string, readonly object[]>, namespace = 'com.acme.billing'): string {
  const dir = mkdtempSync(path.join(root, 'schemas-'));
  for (const [name, fields] of Object.entries(records)) {
    writeFileSync(
      path.join(dir, `${name}.avsc`),
      JSON.stringify({ type: 'record', name, namespace, fields: [...envelope, ...fields] }),
    );
  }
  return dir;
}

const billing = {
  InvoiceIssued: [
    { name: 'invoiceId', type: 'string' },
    { name: 'customerId', type: 'string' },
    { name: 'amount', type: 'long' },
  ],
  InvoicePaid: [
    { name: 'invoiceId', type: 'string' },
    { name: 'customerId', type: 'string' },
  ],
};

const counter = defineProjection({
  name: 'invoices-per-customer',
  topics: ['invoices'],
  apply({ event }, w, k) {
    w.command('HINCRBY', k.key('count'), event.type, 1);
  },
});

function billingApp(overrides: Record<string, unknown> = {}) {
  return {
    name: 'billing',
    schemas: schemas(billing),
    topics: [
      { name: 'invoices', events: ['InvoiceIssued', 'InvoicePaid'], key: ['customerId'], partitions: 4 },
    ],
    projections: [counter],
    ...overrides,
  };
}

const FILE = '/somewhere/tributary.config.ts';

function appError(definition: unknown): string {
  try {
    resolveApp(definition, FILE);
  } catch (err) {
    expect(err).toMatchObject({ code: ErrorCodes.APP_INVALID });
    return (err as Error).message;
  }
  throw new Error('expected the app to be refused');
}

describe('an app definition', () => {
  it('takes events of any namespace, keyed by the field its topic names', () => {
    const app = resolveApp(defineApp(billingApp()), FILE);
    const { catalog } = app;
    expect(catalog.types).toEqual(['InvoiceIssued', 'InvoicePaid']);
    expect(catalog.get('InvoicePaid').recordName).toBe('com.acme.billing.InvoicePaid');
    expect(catalog.subjectOf('InvoiceIssued', 'staging.')).toBe(
      'staging.invoices-com.acme.billing.InvoiceIssued',
    );
    const event = catalog.createEvent('InvoiceIssued', { invoiceId: 'i-1', customerId: 'c-7', amount: 100 });
    expect(catalog.eventKey(event)).toBe('c-7');
    expect(catalog.typeOfRecord('com.acme.billing.InvoiceIssued')).toBe('InvoiceIssued');
    expect(catalog.typeOfRecord('dev.tributary.events.InvoiceIssued')).toBeUndefined();
    expect([...app.projections.keys()]).toEqual(['invoices-per-customer']);
  });

  it('derives every topic and its dead-letter topic, with its own partitions and config’s defaults', () => {
    const app = resolveApp(
      billingApp({
        topics: [
          { name: 'invoices', events: ['InvoiceIssued', 'InvoicePaid'], key: ['customerId'], partitions: 4 },
          { name: 'invoice-totals', cleanup: 'compact,delete', retentionMs: 60_000 },
        ],
      }),
      FILE,
    );
    const config = loadConfig({ TRIBUTARY_TOPIC_PREFIX: 'p.', TRIBUTARY_TOPIC_PARTITIONS: '3' });
    const specs = desiredTopics(config, app.catalog);
    expect(specs.map((s) => [s.name, s.partitions, s.configs['cleanup.policy']])).toEqual([
      ['p.invoices', 4, 'delete'],
      ['p.invoice-totals', 3, 'compact,delete'],
      ['p.invoices.dlq', 1, 'delete'],
    ]);
    expect(specs[1]!.configs['retention.ms']).toBe('60000');
    expect(specs[0]!.configs['retention.ms']).toBe(String(config.topics.retentionMs));
  });

  it('is refused, naming what is wrong, when it does not match its schemas', () => {
    const topic = (t: object) => billingApp({ topics: [{ name: 'invoices', ...t }] });
    expect(appError(topic({ events: ['InvoiceIssued', 'InvoicePaid'], key: ['customer'] }))).toMatch(
      /key field customer is not a field of InvoiceIssued/,
    );
    expect(appError(topic({ events: ['InvoiceIssued', 'InvoicePaid'], key: ['amount'] }))).toMatch(
      /key field amount of InvoiceIssued must be a string/,
    );
    expect(appError(topic({ events: ['InvoiceIssued'], key: ['customerId'] }))).toMatch(
      /event InvoicePaid is on no topic/,
    );
    expect(
      appError(topic({ events: ['InvoiceIssued', 'InvoicePaid', 'InvoiceVoided'], key: ['customerId'] })),
    ).toMatch(/event InvoiceVoided has no \.avsc file \(records found: InvoiceIssued, InvoicePaid\)/);
    expect(appError(topic({ events: ['InvoiceIssued', 'InvoicePaid'] }))).toMatch(/needs a key/);
    expect(appError(billingApp({ projections: [{ ...counter, topics: ['invoice'] }] }))).toMatch(
      /projections\[0\]\.topics\[0\]: topic "invoice" is not declared \(declared: invoices\)/,
    );
    expect(appError(billingApp({ projections: [counter, counter] }))).toMatch(
      /projections\[1\]: a second projection named invoices-per-customer/,
    );
    expect(appError(billingApp({ topics: 'invoices' }))).toMatch(/topics: /);
    expect(appError(billingApp({ projections: [{ name: 'x', topics: ['invoices'] }] }))).toMatch(
      /projections\.0\.apply: expected a function/,
    );
    expect(appError(billingApp({ partitons: 3 }))).toMatch(/partitons/);
    const bridge = {
      name: 'legacy',
      from: 'legacy-invoices',
      upcast: () => ({ ok: false, code: 'X', message: 'x' }),
    };
    const withSource = (source: object) =>
      billingApp({
        topics: [
          { name: 'invoices', events: ['InvoiceIssued', 'InvoicePaid'], key: ['customerId'] },
          { name: 'legacy-invoices', ...source },
        ],
        bridges: [bridge],
      });
    expect(appError(withSource({}))).toMatch(
      /bridges\[0\]\.from: topic legacy-invoices has no dead-letter topic/,
    );
    expect(resolveApp(withSource({ deadLetters: true }), FILE).bridges.has('legacy')).toBe(true);
    expect(appError(billingApp({ bridges: [{ ...bridge, from: 'invoices' }] }))).toMatch(/carries events/);
    // Names the CLI could not reach, and readers that could not be served.
    expect(appError(billingApp({ projections: [{ ...counter, name: 'serve' }] }))).toMatch(
      /projections\.0\.name: is a name of tributary query's own/,
    );
    const reader = { description: 'd', answer: { type: 'object' }, read: async () => null };
    expect(appError(billingApp({ projections: [{ ...counter, readers: { 'a/b': reader } }] }))).toMatch(
      /projections\.0\.readers\.a\/b/,
    );
    expect(
      appError(
        billingApp({ projections: [{ ...counter, readers: { ok: { description: 'd', answer: {} } } }] }),
      ),
    ).toMatch(/projections\.0\.readers\.ok\.read: expected a function/);
  });

  it('is refused when a schema lacks the envelope or two records share a name', () => {
    const noId = schemas({ Thing: [] });
    // Overwrite with a record that lacks eventId.
    writeFileSync(
      path.join(noId, 'Thing.avsc'),
      JSON.stringify({ type: 'record', name: 'Thing', namespace: 'a.b', fields: [envelope[1]] }),
    );
    expect(
      appError({ name: 'x', schemas: noId, topics: [{ name: 't', events: ['Thing'], key: ['eventId'] }] }),
    ).toMatch(/Thing needs a field eventId/);
    const twice = schemas({ Thing: [] });
    writeFileSync(
      path.join(twice, 'thing-again.avsc'),
      JSON.stringify({ type: 'record', name: 'Thing', namespace: 'c.d', fields: envelope }),
    );
    expect(
      appError({ name: 'x', schemas: twice, topics: [{ name: 't', events: ['Thing'], key: ['eventId'] }] }),
    ).toMatch(/record Thing is also defined in/);
    const badType = schemas({ Thing: [{ name: 'n', type: 'strng' }] });
    expect(
      appError({ name: 'x', schemas: badType, topics: [{ name: 't', events: ['Thing'], key: ['eventId'] }] }),
    ).toMatch(/Thing\.avsc: not a valid Avro schema: .*strng/);
    const noFields = mkdtempSync(path.join(root, 'schemas-'));
    writeFileSync(
      path.join(noFields, 'a.avsc'),
      JSON.stringify({ type: 'record', name: 'A', namespace: 'a.b', fields: 'x' }),
    );
    expect(
      appError({ name: 'x', schemas: noFields, topics: [{ name: 't', events: ['A'], key: ['eventId'] }] }),
    ).toMatch(/a\.avsc: record A needs a fields array/);
    const noNamespace = mkdtempSync(path.join(root, 'schemas-'));
    writeFileSync(
      path.join(noNamespace, 'a.avsc'),
      JSON.stringify({ type: 'record', name: 'A', fields: envelope }),
    );
    expect(
      appError({ name: 'x', schemas: noNamespace, topics: [{ name: 't', events: ['A'], key: ['eventId'] }] }),
    ).toMatch(/needs a namespace/);
  });
});

describe('loading an app', () => {
  const project = (name: string, file: string, text: string): string => {
    const dir = path.join(root, name);
    mkdirSync(dir, { recursive: true });
    const dirOfSchemas = schemas(billing);
    writeFileSync(path.join(dir, file), text.replaceAll('SCHEMAS', JSON.stringify(dirOfSchemas)));
    return dir;
  };
  const body = `{
    name: 'billing',
    schemas: SCHEMAS,
    topics: [{ name: 'invoices', events: ['InvoiceIssued', 'InvoicePaid'], key: ['customerId'] }],
  }`;

  it('finds tributary.config.ts in a folder, and loads TypeScript with types in it', async () => {
    const dir = project(
      'ts-app',
      'tributary.config.ts',
      `interface Topic { readonly name: string }\nconst extra: Topic[] = [];\nexport default { ...${body}, topics: [...${body}.topics, ...extra] };\n`,
    );
    expect(findAppFile({ app: dir })).toBe(path.join(dir, 'tributary.config.ts'));
    const app = await loadApp({ app: dir });
    expect(app.name).toBe('billing');
    expect(app.catalog.topicOf('InvoicePaid')).toBe('invoices');
    expect(app.codegen.outFile).toBe(path.join(dir, 'generated', 'events.ts'));
  });

  it('loads .mjs, from TRIBUTARY_APP or the working directory', async () => {
    const dir = project('mjs-app', 'tributary.config.mjs', `export default ${body};\n`);
    expect((await loadApp({ env: { TRIBUTARY_APP: dir }, cwd: '/' })).name).toBe('billing');
    expect((await loadApp({ env: {}, cwd: dir })).name).toBe('billing');
  });

  it('says where it looked, and what is wrong with a module', async () => {
    const empty = mkdtempSync(path.join(root, 'empty-'));
    await expect(loadApp({ env: {}, cwd: empty })).rejects.toMatchObject({
      code: ErrorCodes.APP_NOT_FOUND,
      message: expect.stringContaining(`${empty} holds no tributary.config.ts`),
    });
    await expect(loadApp({ app: path.join(empty, 'nope') })).rejects.toMatchObject({
      code: ErrorCodes.APP_NOT_FOUND,
      message: expect.stringContaining('--app'),
    });
    const noDefault = project('no-default', 'tributary.config.mjs', 'export const app = 1;\n');
    await expect(loadApp({ app: noDefault })).rejects.toMatchObject({
      code: ErrorCodes.APP_INVALID,
      message: expect.stringContaining('has no default export'),
    });
    const throwing = project('throws', 'tributary.config.mjs', "throw new Error('boom');\n");
    await expect(loadApp({ app: throwing })).rejects.toMatchObject({
      code: ErrorCodes.APP_INVALID,
      message: expect.stringContaining('cannot load: boom'),
    });
  });
});
