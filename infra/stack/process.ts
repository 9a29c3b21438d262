/**
 * Background processes the stack owns: started detached with output to a log file and a pid
 * file beside it, so a later `tributary stack down` (another process) stops exactly what
 * `stack up` started and nothing else.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcessSpec {
  /** Component name, used in messages (`kafka`, `schema-registry`, `redis`). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly logFile: string;
  readonly pidFile: string;
  /** A string that must appear in /proc/<pid>/cmdline for the pid to count as ours. */
  readonly marker: string;
}

/** Reads the pid file and returns the pid if that process is alive and is the one we started. */
export function runningPid(spec: Pick<ProcessSpec, 'pidFile' | 'marker'>): number | undefined {
  if (!existsSync(spec.pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(spec.pidFile, 'utf8').trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (!isAlive(pid)) return undefined;
  // Guard against pid reuse: the live process must carry our marker on its command line.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    if (!cmdline.includes(spec.marker)) return undefined;
  } catch {
    // No procfs (not Linux): trust the pid file.
  }
  return pid;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers kill(0); treat it as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/** Starts the process detached from this one; its output is appended to `logFile`. */
export function startDetached(spec: ProcessSpec): number {
  mkdirSync(path.dirname(spec.logFile), { recursive: true });
  mkdirSync(path.dirname(spec.pidFile), { recursive: true });
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined) throw new Error(`could not spawn ${spec.command}`);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * Stops the process named by the pid file: SIGTERM, then SIGKILL after `graceMs`.
 * Returns false if nothing of ours was running.
 */
export async function stopProcess(
  spec: Pick<ProcessSpec, 'pidFile' | 'marker'>,
  graceMs = 20_000,
): Promise<boolean> {
  const pid = runningPid(spec);
  if (pid === undefined) {
    rmSync(spec.pidFile, { force: true });
    return false;
  }
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    signal(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(50);
  }
  rmSync(spec.pidFile, { force: true });
  return true;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    // Detached children lead their own process group: signal the group so helpers die too.
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/** The last `lines` lines of a log file (for error messages). */
export function tailFile(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no log yet)';
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}
