/**
 * CLI: `tributary init <dir>` scaffolds a new app: its config, one `.avsc` event, one projection
 * with a reader, the generated event types, a test on `tributary/testing`, and a README; after
 * `npm install`, `npm test` passes in it (against a local Redis, which the test setup starts when
 * none answers).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { writeEventTypes } from '../../schemas/codegen.js';
import { packageVersion } from '../../lib/package-info.js';

/** What `init` writes, by path in the new project. */
export function scaffold(name: string, tributary: string): Record<string, string> {
  const namespace = `com.example.${name.replace(/[^A-Za-z0-9]+/g, '_').replace(/^(\d)/, '_$1')}`;
  return {
    'package.json': `${JSON.stringify(
      {
        name,
        private: true,
        type: 'module',
        scripts: {
          codegen: 'tributary codegen',
          typecheck: 'tsc --noEmit',
          test: 'tributary codegen --check && tsc --noEmit && vitest run',
          topics: 'tributary topics',
          consume: 'tributary consume',
          serve: 'tributary query serve',
        },
        dependencies: { tributary },
        devDependencies: { '@types/node': '^22.20.7', typescript: '~5.9', vitest: '^4.1.12' },
        // true compiles librdkafka on install (about a minute) for TRIBUTARY_CLIENT_ENGINE=confluent;
        // the default engine (kafkajs) needs nothing built.
        allowScripts: { '@confluentinc/kafka-javascript': false, esbuild: true },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          verbatimModuleSyntax: true,
          types: ['node'],
        },
        include: ['*.ts', 'projections/**/*.ts', 'generated/**/*.ts', 'test/**/*.ts'],
      },
      null,
      2,
    )}\n`,
    'schemas/item-added.avsc': `${JSON.stringify(
      {
        type: 'record',
        name: 'ItemAdded',
        namespace,
        doc: 'An item was added to a list. Topic `items`, keyed by listId.',
        fields: [
          { name: 'eventId', type: { type: 'string', logicalType: 'uuid' }, doc: 'Unique id of this event.' },
          {
            name: 'occurredAt',
            type: { type: 'long', logicalType: 'timestamp-millis' },
            doc: 'When it happened (event time), epoch ms.',
          },
          { name: 'listId', type: 'string', doc: 'The list; the partition key.' },
          { name: 'item', type: 'string', doc: 'What was added.' },
          { name: 'quantity', type: 'int', doc: 'How many.' },
        ],
      },
      null,
      2,
    )}\n`,
    'tributary.config.ts': `import { defineApp } from 'tributary';
import { itemsPerList } from './projections/items-per-list.js';

export default defineApp({
  name: ${JSON.stringify(name)},
  schemas: './schemas',
  topics: [{ name: 'items', events: ['ItemAdded'], key: ['listId'] }],
  projections: [itemsPerList],
});
`,
    'projections/items-per-list.ts': `import { defineProjection, defineReader } from 'tributary';
import type { AnyEvent } from '../generated/events.js';

/** Per list: how many of each item were added. */
export const itemsPerList = defineProjection<AnyEvent>({
  name: 'items-per-list',
  topics: ['items'],
  apply({ event }, w, keys) {
    if (event.type === 'ItemAdded') {
      w.command('HINCRBY', keys.key('list', event.data.listId), event.data.item, event.data.quantity);
    }
  },
  readers: {
    list: defineReader<{ id: string }, { listId: string; items: Record<string, number> }>({
      description: 'The items of one list, with their quantities',
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } },
      answer: {
        type: 'object',
        required: ['listId', 'items'],
        properties: {
          listId: { type: 'string' },
          items: { type: 'object', additionalProperties: { type: 'integer' } },
        },
      },
      async read({ id }, ctx) {
        const keys = await ctx.partition('items', id);
        if (keys === null) return null;
        const hash = await ctx.redis.hgetall(keys.key('list', id));
        if (Object.keys(hash).length === 0) return null;
        return { listId: id, items: Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, Number(v)])) };
      },
    }),
  },
});
`,
    'vitest.config.ts': `import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { globalSetup: ['test/setup.ts'], include: ['test/**/*.test.ts'] },
});
`,
    'test/setup.ts': `import { startStack } from 'tributary/testing';

/** A local Redis for the tests (one that already answers, e.g. TRIBUTARY_REDIS_URL, is used as it is). */
export default async function setup(): Promise<() => Promise<void>> {
  const stack = await startStack();
  return () => stack.stop();
}
`,
    'test/items-per-list.test.ts': `import { loadApp } from 'tributary';
import { commandsOf, testProjection } from 'tributary/testing';
import { describe, expect, it } from 'vitest';
import { itemsPerList } from '../projections/items-per-list.js';

const added = (listId: string, item: string, quantity: number, eventId?: string) => ({
  type: 'ItemAdded' as const,
  data: { eventId: eventId ?? crypto.randomUUID(), occurredAt: Date.now(), listId, item, quantity },
});

describe('items-per-list', () => {
  it('adds quantities per item (the commands it writes)', () => {
    const [command] = commandsOf(itemsPerList, added('l-1', 'apples', 3));
    expect(command).toEqual(['HINCRBY', expect.stringContaining(':list:l-1'), 'apples', '3']);
  });

  it('answers each list as the sum of what was added, once per event', async () => {
    const t = await testProjection({ app: await loadApp(), projection: 'items-per-list' });
    try {
      const again = added('l-1', 'apples', 3);
      const outcome = await t.apply([again, added('l-1', 'pears', 1), added('l-2', 'apples', 5), again]);
      expect(outcome).toMatchObject({ applied: 3, duplicates: 1 });
      expect(await t.read('list', { id: 'l-1' })).toEqual({ listId: 'l-1', items: { apples: 3, pears: 1 } });
      expect(await t.read('list', { id: 'l-2' })).toEqual({ listId: 'l-2', items: { apples: 5 } });
      expect(await t.read('list', { id: 'nobody' })).toBeNull();
    } finally {
      await t.close();
    }
  });
});
`,
    '.gitignore': 'node_modules/\n.tributary/\n',
    'README.md': `# ${name}

An app on [Tributary](https://www.npmjs.com/package/tributary): its events are the \`.avsc\` files in
\`schemas/\`, its topics and projections are declared in \`tributary.config.ts\`.

\`\`\`sh
npm install
npm test                      # types up to date, typecheck, the projection against a local Redis
npx tributary stack up        # Kafka, schema registry and Redis on this machine (or point TRIBUTARY_* at yours)
npx tributary topics          # items and items.dlq
npx tributary produce ItemAdded --listId l-1 --item apples --quantity 3
npx tributary consume         # every projection, until Ctrl-C
npx tributary query items-per-list list --id l-1
npx tributary query serve     # GET /models/items-per-list/list?id=l-1
\`\`\`

Change an \`.avsc\` file, then \`npm run codegen\` to regenerate \`generated/events.ts\`.
`,
  };
}

/** Writes the scaffold into `dir` (which must be empty or absent) and generates its event types. */
export async function initApp(dir: string, options: { readonly tributary?: string } = {}): Promise<string[]> {
  const target = path.resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new Error(`${dir} is not empty: tributary init writes a new app into an empty folder`);
  }
  const name =
    path
      .basename(target)
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[._-]+/, '') || 'app';
  const files = scaffold(name, options.tributary ?? `^${packageVersion()}`);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(target, file)), { recursive: true });
    await writeFile(path.join(target, file), text);
  }
  await writeEventTypes({
    schemaDir: path.join(target, 'schemas'),
    outFile: path.join(target, 'generated', 'events.ts'),
  });
  return [...Object.keys(files), 'generated/events.ts'].sort();
}

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('scaffold a new app: config, one event, one projection with a reader, a test, a README')
    .argument('<dir>', 'where (an empty or new folder)')
    .option(
      '--tributary <spec>',
      'the tributary dependency to write into package.json (default: this version)',
    )
    .action(async (dir: string, opts: { tributary?: string }) => {
      const written = await initApp(dir, opts);
      for (const f of written) console.log(`wrote ${path.join(dir, f)}`);
      console.log(`\nnext: cd ${dir} && npm install && npm test`);
    });
}
