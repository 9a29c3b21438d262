/** Runs the Python outside clients of test/interop/ (Confluent's Python client) from the venv the bootstrap made. */
import { spawn } from 'node:child_process';
import path from 'node:path';

/** The venv's interpreter (`TRIBUTARY_PYTHON` overrides it). */
export const python = process.env.TRIBUTARY_PYTHON ?? path.resolve('.tributary/venv/bin/python');

/** Runs `test/interop/<script>` with `args` and `stdin`; resolves its stdout, rejects with its stderr. */
export function runPython(script: string, args: readonly string[], stdin = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [path.resolve('test/interop', script), ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`python exit ${code}: ${err}`)),
    );
    child.stdin.end(stdin);
  });
}
