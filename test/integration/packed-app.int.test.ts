/**
 * A team adopts Tributary as a package, without its source: `npm pack` of this checkout is
 * installed into a fresh project outside the repository, where an app of its own (`billing`:
 * invoices keyed by customer, in namespace `com.acme.billing`) is written on the public API only
 * and run through the installed `tributary` command: codegen and a typecheck, topics, produce from
 * NDJSON, a consumer killed with `kill -9` midway and started again, and the read model served
 * over HTTP and printed by `tributary query`, every answer equal to an oracle computed here from
 * the events the test generated.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { warnIfStaleBuild } from '../helpers/consumer-process.js';
import { evictGroupMembers } from '../helpers/consumer-group.js';
import { freePort } from '../helpers/free-port.js';
import {
  InstalledProcess,
  cleanEnv,
  run,
  billingEvents,
  billingOracle,
  installedEnv,
  packedProject,
  removePackedProject,
  runInstalled,
  toNdjson,
  type PackedProject,
} from '../helpers/packed.js';
import { projectionRecords } from '../helpers/progress.js';
import { cleanupTopics, testAdmin, testConfig, testRedis } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROJECTION = 'invoices-per-customer';
const PARTITIONS = 4; // as the app's tributary.config.ts declares
const EVENTS = 8_000;
const CUSTOMERS = 40;
const API_KEY = 'billing-reader-key-0123456789';

let project: PackedProject;

beforeAll(async () => {
  warnIfStaleBuild();
  project = await packedProject();
  console.log(
    `[packed-app] npm pack ${project.packMs} ms (${project.files.length} files), ` +
      `npm install ${project.installMs} ms, in ${project.dir}`,
  );
}, 240_000);

afterAll(() => removePackedProject());

describe('Tributary as an installed package', () => {
  it('ships what it runs, and codegen and types work in the app', async () => {
    // What the tarball holds: the build, the CLI shim, and the files read at run time; no sources.
    const files = project.files;
    for (const f of [
      'package.json',
      'README.md',
      'bin/tributary.js',
      'bin/node-support.js',
      'dist/bin/cli.js',
      'dist/app/index.js',
      'dist/app/index.d.ts',
      'dist/dashboard/app.js',
      'dist/dashboard/app.css',
      'consumers/lua/apply-batch.lua',
      'consumers/lua/owned-lock.lua',
      'consumers/lua/finalizer-fenced.lua',
      'consumers/lua/finalizer-lease.lua',
      'schemas/analytics/analytics-window.avsc',
      // `tributary stack up` resolves Kafka and the registry from Maven Central with it.
      'infra/maven/pom.xml',
    ]) {
      expect(files, f).toContain(f);
    }
    const sources = files.filter((f) => !f.startsWith('dist/') && /\.ts$/.test(f) && !f.endsWith('.d.ts'));
    expect(sources).toEqual([]);
    expect(
      files.filter((f) => /^(test|examples|infra|\.tributary)\//.test(f) && f !== 'infra/maven/pom.xml'),
    ).toEqual([]);

    // The engine finds its runtime files inside node_modules/tributary: Lua scripts, the analytics
    // output schema and the dashboard bundle (paths the app above does not all reach).
    const pkg = path.join(project.dir, 'node_modules', 'tributary');
    const probe = `
      import { pathToFileURL } from 'node:url';
      const at = (f) => import(pathToFileURL(${JSON.stringify(pkg)} + '/dist/' + f).href);
      const { luaScript } = await at('consumers/offset-fence.js');
      const lua = ['apply-batch.lua', 'owned-lock.lua', 'finalizer-fenced.lua', 'finalizer-lease.lua'].map(
        (n) => luaScript(n).length);
      const { windowResultSchema } = await at('schemas/analytics-window.js');
      const { DASHBOARD_ASSETS_DIR, loadAssets } = await at('query/dashboard/assets.js');
      const assets = await loadAssets(DASHBOARD_ASSETS_DIR);
      console.log(JSON.stringify({ lua, window: windowResultSchema().schema.name, dashboard: DASHBOARD_ASSETS_DIR,
        assets: assets ? [...assets.files.keys()].sort() : null }));`;
    const found = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', probe], {
        cwd: project.dir,
        encoding: 'utf8',
      }),
    ) as { lua: number[]; window: string; dashboard: string; assets: string[] | null };
    expect(found.lua.every((n) => n > 0)).toBe(true);
    expect(found.window).toBe('WindowResult');
    expect(found.dashboard).toBe(path.join(pkg, 'dist', 'dashboard'));
    expect(found.assets).toEqual(expect.arrayContaining(['app.css', 'app.js']));

    // The confluent engine is installed but not compiled (its install script is denied).
    const confluent = path.join(project.dir, 'node_modules', '@confluentinc', 'kafka-javascript');
    expect(existsSync(path.join(confluent, 'package.json'))).toBe(true);
    expect(existsSync(path.join(confluent, 'build'))).toBe(false);

    // codegen writes the app's types beside its config; --check then passes.
    const env = installedEnv(testConfig());
    const gen = await runInstalled(project, ['codegen'], env);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout.trim()).toMatch(/^(wrote|unchanged) generated\/events\.ts$/);
    const types = await readFile(path.join(project.dir, 'generated', 'events.ts'), 'utf8');
    expect(types).toContain('export interface InvoiceIssued');
    expect(types).toContain('export type AnyEvent');
    const check = await runInstalled(project, ['codegen', '--check'], env);
    expect(check.code, check.stderr).toBe(0);

    // The app typechecks against the package's declarations and its generated types (the expected
    // errors marked in typecheck-probe.ts fail the check if those types were `any`).
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    let typecheck = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project.dir, encoding: 'utf8' });
    } catch (err) {
      typecheck = `${(err as { stdout?: string }).stdout ?? ''}${(err as Error).message}`;
    }
    expect(typecheck).toBe('');
  }, 120_000);

  it('runs the app through the installed CLI: exactly-once read model across kill -9, served over HTTP', async () => {
    const config = testConfig();
    const { redis, prefix } = testRedis(config);
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    const env = installedEnv(
      { ...config, redis: { ...config.redis, keyPrefix: prefix } },
      { TRIBUTARY_AUTH_API_KEYS: `reader:${API_KEY}=query` },
    );
    const topic = `${config.topics.prefix}invoices`;
    const progress = () => projectionRecords(redis, prefix, PROJECTION, [topic], PARTITIONS);

    // topics
    const topics = await runInstalled(project, ['topics'], env);
    expect(topics.code, topics.stderr).toBe(0);
    expect(topics.stdout).toContain(`created  ${topic} (${PARTITIONS} partitions)`);
    expect(topics.stdout).toContain(`created  ${topic}.dlq`);

    // produce --file: a deterministic stream, event times within the last hour.
    const seed = 20260301;
    const events = billingEvents(seed, EVENTS, CUSTOMERS, Date.now() - 60 * 60_000);
    const oracle = billingOracle(events);
    const file = path.join(project.dir, `events-${config.topics.prefix}ndjson`);
    await writeFile(file, toNdjson(events));
    onTestFinished(() => rm(file, { force: true }));
    const produced = await runInstalled(project, ['produce', '--file', path.basename(file)], env, 90_000);
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stdout).toContain(`sent ${EVENTS}, rejected 0`);

    // consume, killed with kill -9 once some but not all records are applied, then started again.
    const spawnConsumer = (name: string) => {
      const p = new InstalledProcess(project, ['consume', PROJECTION], env, name);
      onTestFinished(async () => {
        await p.kill9();
      });
      return p;
    };
    const first = spawnConsumer('consumer #1');
    await first.waitFor('consuming: ', 60_000);
    let atKill = 0;
    await until(
      async () => {
        if (!first.alive) throw new Error(`${first.name} exited:\n${first.log()}`);
        atKill = await progress();
        return atKill > 0;
      },
      'the first records applied',
      { timeoutMs: 60_000, intervalMs: 5, describe: () => first.log() },
    );
    const exit = await first.kill9();
    expect(exit.signal, `${first.name} died before the kill:\n${first.log()}`).toBe('SIGKILL');
    const afterKill = await progress();
    expect(afterKill, 'the kill landed after the last record was applied').toBeLessThan(EVENTS);
    const groupId = `${config.topics.prefix}tributary-${PROJECTION}.v1`;
    await evictGroupMembers({ ...config, redis: { ...config.redis, keyPrefix: prefix } }, groupId);

    const second = spawnConsumer('consumer #2');
    await second.waitFor('consuming: ', 60_000);
    let applied = 0;
    await until(
      async () => {
        if (!second.alive) throw new Error(`${second.name} exited:\n${second.log()}`);
        applied = await progress();
        return applied >= EVENTS;
      },
      `${EVENTS} records applied`,
      { timeoutMs: 90_000, intervalMs: 50, describe: () => `at ${applied}; ${second.log()}` },
    );
    // Settled: nothing applied twice (the fenced progress counter counts each record once).
    await new Promise((r) => setTimeout(r, 500));
    expect(await progress()).toBe(EVENTS);
    console.log(
      `[packed-app] consumer #1 killed at ${afterKill}/${EVENTS} records applied; #2 applied the rest`,
    );

    // query serve, read over HTTP with the API key.
    const port = await freePort();
    const server = new InstalledProcess(
      project,
      ['query', 'serve', '--port', String(port)],
      env,
      'query serve',
    );
    onTestFinished(async () => {
      await server.kill9();
    });
    const url = `http://127.0.0.1:${port}`;
    await until(
      async () => {
        if (!server.alive) throw new Error(`query serve exited:\n${server.log()}`);
        return (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200;
      },
      'the query service ready',
      { timeoutMs: 60_000, describe: () => server.log() },
    );
    const get = async (route: string) => {
      const res = await fetch(`${url}${route}`, { headers: { 'X-API-Key': API_KEY } });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    expect(oracle.customers.size).toBeGreaterThan(CUSTOMERS / 2);
    for (const expected of oracle.customers.values()) {
      const answer = await get(
        `/models/${PROJECTION}/customer?id=${encodeURIComponent(expected.customerId)}`,
      );
      expect(answer, expected.customerId).toEqual({ status: 200, body: expected });
    }
    expect((await get(`/models/${PROJECTION}/customer?id=cust-nobody`)).status).toBe(404);
    expect(await get(`/models/${PROJECTION}/totals`)).toEqual({ status: 200, body: oracle.totals });
    expect((await fetch(`${url}/models/${PROJECTION}/customer?id=cust-1`)).status).toBe(401);
    // The dashboard bundle is served from the installed package.
    const bundle = await fetch(`${url}/dashboard/app.js`);
    expect(bundle.status).toBe(200);
    expect(Buffer.from(await bundle.arrayBuffer())).toEqual(
      await readFile(path.join(project.dir, 'node_modules', 'tributary', 'dist', 'dashboard', 'app.js')),
    );

    // tributary query … --json prints the same answers, straight from Redis.
    const sample = [...oracle.customers.values()].slice(0, 3);
    const printed = await Promise.all(
      sample.map((c) =>
        runInstalled(project, ['query', PROJECTION, 'customer', '--id', c.customerId, '--json'], env),
      ),
    );
    printed.forEach((p, i) => {
      expect(p.code, p.stderr).toBe(0);
      expect(JSON.parse(p.stdout)).toEqual(sample[i]);
    });
    const missing = await runInstalled(
      project,
      ['query', PROJECTION, 'customer', '--id', 'cust-nobody', '--json'],
      env,
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No invoice of this customer was seen.');
  }, 240_000);

  it('scaffolds a new app with tributary init, whose own npm test passes', { timeout: 300_000 }, async () => {
    const project = await packedProject();
    const dir = path.join(project.dir, '..', `${path.basename(project.dir)}-init`, 'my-app');
    onTestFinished(() => rm(path.dirname(dir), { recursive: true, force: true }));
    const init = await runInstalled(
      project,
      ['init', dir, '--tributary', `file:${project.tarball}`],
      installedEnv(testConfig()),
    );
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('next: cd');
    for (const f of [
      'tributary.config.ts',
      'schemas/item-added.avsc',
      'projections/items-per-list.ts',
      'generated/events.ts',
      'test/items-per-list.test.ts',
      'README.md',
    ]) {
      expect(existsSync(path.join(dir, f)), f).toBe(true);
    }
    // Into a folder that is not empty: refused, nothing overwritten.
    const again = await runInstalled(project, ['init', dir], installedEnv(testConfig()));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not empty/);

    const env = { ...cleanEnv(), TRIBUTARY_REDIS_URL: testConfig().redis.url.value };
    const install = await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error'],
      {
        cwd: dir,
        env,
        timeoutMs: 240_000,
        what: 'npm install in the scaffolded app',
      },
    );
    expect(install.code, install.stderr).toBe(0);
    const test = await run('npm', ['test'], {
      cwd: dir,
      env,
      timeoutMs: 120_000,
      what: 'npm test in the scaffolded app',
    });
    expect(test.code, `${test.stdout}\n${test.stderr}`).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(test.stdout.replace(/\u001b\[[0-9;]*m/g, '')).toMatch(/Tests\s+2 passed \(2\)/);
  });
});
