/** The project's pino logger. Components take a child: `componentLogger('stack')`. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

let root: Logger | undefined;

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** File descriptor (1 = stdout, 2 = stderr) or a file path. Default: `TRIBUTARY_LOG_FILE` or stdout. */
  destination?: number | string;
}

/** Creates (or replaces) the process-wide root logger. The CLI calls this once at start. */
export function initLogger(options: LoggerOptions = {}): Logger {
  const dest = options.destination ?? process.env.TRIBUTARY_LOG_FILE ?? 1;
  root = pino(
    {
      name: 'tributary',
      level: options.level ?? (process.env.TRIBUTARY_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info',
    },
    typeof dest === 'number'
      ? pino.destination({ fd: dest, sync: true })
      : pino.destination({ dest, mkdir: true }),
  );
  return root;
}

/** The process-wide root logger (created with defaults on first use). */
export function getLogger(): Logger {
  return root ?? initLogger();
}

/** A child logger for one component. */
export function componentLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return getLogger().child({ component, ...bindings });
}
