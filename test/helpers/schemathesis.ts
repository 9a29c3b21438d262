/**
 * Runs schemathesis (Python, in `.tributary/venv`) against a running service's `/openapi.json`
 * with the one check both fuzz tests make, `not_a_server_error`, and reads the service's own
 * account of what it answered from `/metrics`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SCHEMATHESIS =
  process.env.TRIBUTARY_SCHEMATHESIS ?? path.resolve('.tributary/venv/bin/schemathesis');

/** A schemathesis run's wall-clock budget; it is killed beyond it. */
export const FUZZ_BUDGET_MS = 90_000;

export interface FuzzRun {
  readonly code: number | null;
  readonly output: string;
  readonly seconds: number;
}

export interface FuzzOptions {
  /** The service's base URL. */
  readonly url: string;
  /** An API key with the service's scope. */
  readonly apiKey: string;
  readonly seed: string;
  /** Test cases per operation and phase. */
  readonly maxExamples: string;
  /** Paths left out (e.g. `/readyz`, which may honestly answer 503). */
  readonly excludePaths: readonly string[];
}

/** True when the schemathesis executable exists (`bash infra/bootstrap.sh deps` installs it). */
export function schemathesisInstalled(): boolean {
  return existsSync(SCHEMATHESIS);
}

/** Runs schemathesis in a temporary directory (it and Hypothesis write state into the cwd). */
export async function runSchemathesis(options: FuzzOptions): Promise<FuzzRun> {
  const work = await mkdtemp(path.join(tmpdir(), 'tributary-fuzz-'));
  const args = [
    'run',
    `${options.url}/openapi.json`,
    '--checks',
    'not_a_server_error',
    '--header',
    `X-API-Key: ${options.apiKey}`,
    '--max-examples',
    options.maxExamples,
    '--seed',
    options.seed,
    '--workers',
    '2',
    ...options.excludePaths.flatMap((p) => ['--exclude-path', p]),
    '--suppress-health-check',
    'all',
    '--request-timeout',
    '10',
    '--generation-database',
    'none',
    '--no-color',
  ];
  const started = Date.now();
  try {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(SCHEMATHESIS, args, { cwd: work, env: { ...process.env, NO_COLOR: '1' } });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), FUZZ_BUDGET_MS);
      child.on('error', reject);
      child.on('close', (exit) => {
        clearTimeout(timer);
        resolve({ code: exit, output });
      });
    });
    return { code, output, seconds: (Date.now() - started) / 1000 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** One `tributary_http_requests_total` series: its labels' text and its count. */
export interface RequestSeries {
  readonly line: string;
  readonly labels: string;
  readonly count: number;
}

/** The HTTP request counters of a service's `/metrics`. */
export async function requestSeries(url: string): Promise<RequestSeries[]> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  return [...metrics.matchAll(/^tributary_http_requests_total\{([^}]*)\} (\d+)/gm)].map((m) => ({
    line: m[0],
    labels: m[1]!,
    count: Number(m[2]),
  }));
}
