/**
 * Property-based fuzzing of the query API with schemathesis (Python, in `.tributary/venv`): it reads
 * `/openapi.json` and sends valid and invalid requests to every operation, against read models
 * and analytics windows built by the real consumer groups. Whatever it sends, the service must never answer 5xx.
 * `GET /stream` is left out (it never ends, by design; its parameter checks are unit-tested), and
 * so is `/readyz` (it may honestly answer 503).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startQueryService } from '../../query/service.js';
import { analyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import { generateEvents } from '../../producers/generator.js';
import { QUERY_KEY, buildReadModels, queryFixture } from '../helpers/query-fixture.js';
import { testLogger } from '../helpers/stack.js';

const schemathesis = process.env.TRIBUTARY_SCHEMATHESIS ?? path.resolve('.tributary/venv/bin/schemathesis');
/** Test cases per operation and phase; the run stays well under a minute on two cores. */
const MAX_EXAMPLES = process.env.TRIBUTARY_FUZZ_EXAMPLES ?? '40';
const BUDGET_MS = 90_000;

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), BUDGET_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('query API under schemathesis', () => {
  it('never answers 5xx, whatever the request', { timeout: BUDGET_MS + 90_000 }, async () => {
    expect(existsSync(schemathesis), `${schemathesis} missing: run bash infra/bootstrap.sh deps`).toBe(true);
    const f = await queryFixture();
    // Users, orders and the analytics group's windows (around now, so the default range has data).
    const events = [
      ...generateEvents(
        { seed: 5, users: 80, pages: 20, startTime: Date.now() - 600_000, intervalMs: 200 },
        3_000,
      ),
    ].map((g) => g.event);
    await buildReadModels(f, events, ['users', 'user-count', 'orders', analyticsProjection]);
    const service = await startQueryService({
      config: f.config,
      logger: testLogger(),
      host: '127.0.0.1',
      port: 0,
    });
    onTestFinished(async () => {
      await service.close();
    });
    const work = await mkdtemp(path.join(tmpdir(), 'tributary-query-fuzz-'));
    onTestFinished(() => rm(work, { recursive: true, force: true }));

    const started = Date.now();
    const { code, output } = await run(
      schemathesis,
      [
        'run',
        `${service.url}/openapi.json`,
        '--checks',
        'not_a_server_error',
        '--header',
        `X-API-Key: ${QUERY_KEY}`,
        '--max-examples',
        MAX_EXAMPLES,
        '--seed',
        '20260302',
        '--workers',
        '2',
        '--exclude-path',
        '/readyz',
        '--exclude-path',
        '/stream',
        '--suppress-health-check',
        'all',
        '--request-timeout',
        '10',
        '--generation-database',
        'none',
        '--no-color',
      ],
      work,
    );
    const seconds = (Date.now() - started) / 1000;
    if (process.env.TRIBUTARY_FUZZ_VERBOSE === '1') console.log(output);
    expect(code, output).toBe(0);
    expect(seconds, 'the fuzz run should stay under a minute').toBeLessThan(60);

    // Our own account of what was answered: no 5xx, and the read paths were reached (200s).
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    const statuses = [...metrics.matchAll(/^tributary_http_requests_total\{([^}]*)\} (\d+)/gm)];
    const serverErrors = statuses.filter(([, labels]) => /status="5/.test(labels!));
    expect(
      serverErrors.map(([line]) => line),
      output,
    ).toEqual([]);
    const okRoutes = new Set(
      statuses
        .filter(([, labels]) => /status="200"/.test(labels!))
        .map(([, labels]) => /route="([^"]+)"/.exec(labels!)?.[1]),
    );
    for (const route of ['/users', '/users/:id/orders', '/analytics/counts', '/analytics/top-pages']) {
      expect(okRoutes, `no 200 from ${route}`).toContain(route);
    }
  });
});
