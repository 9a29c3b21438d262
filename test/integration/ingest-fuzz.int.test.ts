/**
 * Property-based fuzzing of the ingestion API with schemathesis (Python, in `.tributary/venv`):
 * it reads `/openapi.json` and sends valid and invalid requests to every operation, on the real
 * stack with the real Publisher. Whatever it sends, the service must never answer 5xx.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { provisionTopics } from '../../infra/topics.js';
import { startIngestService } from '../../producers/http/service.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, uid } from '../helpers/stack.js';

const schemathesis = process.env.TRIBUTARY_SCHEMATHESIS ?? path.resolve('.tributary/venv/bin/schemathesis');
/** Test cases per operation and phase; the run stays well under a minute on two cores. */
const MAX_EXAMPLES = process.env.TRIBUTARY_FUZZ_EXAMPLES ?? '25';
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

describe('ingestion API under schemathesis', () => {
  it('never answers 5xx, whatever the request', { timeout: BUDGET_MS + 30_000 }, async () => {
    expect(existsSync(schemathesis), `${schemathesis} missing: run bash infra/bootstrap.sh deps`).toBe(true);
    const key = `fuzz-${uid()}-0123456789`;
    const config = testConfig({
      TRIBUTARY_AUTH_API_KEYS: `fuzz:${key}=ingest`,
      TRIBUTARY_INGEST_RATE_LIMIT_PER_MINUTE: '0',
    });
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, config, testLogger());
    const service = await startIngestService({ config, logger: testLogger(), host: '127.0.0.1', port: 0 });
    onTestFinished(async () => {
      await service.close();
    });
    // schemathesis and Hypothesis write state into the working directory: keep it out of the tree.
    const work = await mkdtemp(path.join(tmpdir(), 'tributary-fuzz-'));
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
        `X-API-Key: ${key}`,
        '--max-examples',
        MAX_EXAMPLES,
        '--seed',
        '20260301',
        '--workers',
        '2',
        // Readiness may honestly answer 503; it is not an input-handling path.
        '--exclude-path',
        '/readyz',
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
    expect(code, output).toBe(0);
    expect(seconds, 'the fuzz run should stay under a minute').toBeLessThan(60);

    // Our own account of what was answered: no 5xx, and the publish path was exercised.
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    const statuses = [
      ...metrics.matchAll(/^tributary_http_requests_total\{[^}]*status="(\d+)"[^}]*\} (\d+)/gm),
    ];
    const serverErrors = statuses.filter(([, status]) => status!.startsWith('5'));
    expect(
      serverErrors.map(([line]) => line),
      output,
    ).toEqual([]);
    const accepted = [...metrics.matchAll(/^tributary_ingest_events_accepted_total\{[^}]*\} (\d+)/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    expect(accepted).toBeGreaterThan(0);
  });
});
