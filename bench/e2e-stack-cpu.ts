/**
 * CPU time of the local stack's broker and Redis over the e2e measurement window, so the report
 * can say where the rest of the machine's time went. Read from `/proc/<pid>/stat` (Linux) for
 * the processes `tributary stack up` started (found by their pid files); a part the user pointed
 * elsewhere, or another OS, is left out. The whole process counts, other clients' work included.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { kafkaPaths } from '../infra/stack/kafka-node.js';
import { runningPid } from '../infra/stack/process.js';
import { redisPaths } from '../infra/stack/redis-node.js';
import type { TributaryConfig } from '../lib/config.js';

/** Kernel clock ticks per second, the unit of `/proc/<pid>/stat` times. */
function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

function realpathOr(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

/** User + system time of `pid` so far, µs; undefined when it cannot be read. */
function cpuMicros(pid: number, ticks: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const used = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(used) ? (used / ticks) * 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** The local broker's and Redis's CPU between {@link StackCpu.mark} and {@link StackCpu.used}. */
export class StackCpu {
  readonly #pids: ReadonlyMap<'kafka' | 'redis', number>;
  readonly #ticks = clockTicks();
  #from = new Map<string, number>();

  constructor(config: TributaryConfig) {
    const pids = new Map<'kafka' | 'redis', number>();
    const pidFile = kafkaPaths(config.stateDir).pidFile;
    // The stack marks its processes with the state directory as it was given (maybe a symlink).
    const markers = new Set([config.stateDir, realpathOr(config.stateDir)]);
    const kafka = config.kafka.brokers.external
      ? undefined
      : [...markers]
          .map((dir) => runningPid({ pidFile, marker: `-Dtributary.stack=${dir}` }))
          .find((pid) => pid !== undefined);
    const redis = config.redis.url.external
      ? undefined
      : runningPid({
          pidFile: redisPaths(config.stateDir).pidFile,
          marker: `redis-server 127.0.0.1:${config.redis.port}`,
        });
    if (kafka !== undefined) pids.set('kafka', kafka);
    if (redis !== undefined) pids.set('redis', redis);
    this.#pids = pids;
  }

  /** The window opens. */
  mark(): void {
    this.#from = new Map();
    for (const [name, pid] of this.#pids) {
      const used = cpuMicros(pid, this.#ticks);
      if (used !== undefined) this.#from.set(name, used);
    }
  }

  /** CPU µs each local part used since {@link mark}. */
  used(): Partial<Record<'kafka' | 'redis', number>> {
    const out: Partial<Record<'kafka' | 'redis', number>> = {};
    for (const [name, pid] of this.#pids) {
      const from = this.#from.get(name);
      const now = cpuMicros(pid, this.#ticks);
      if (from !== undefined && now !== undefined) out[name] = now - from;
    }
    return out;
  }
}
