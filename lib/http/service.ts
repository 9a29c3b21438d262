/**
 * Running an HTTP service as a process: listen, say where, and shut down gracefully: stop
 * accepting connections and finish the requests in flight, then close what the app used (the
 * publisher, Redis), all bounded by a timeout. `runUntilSignal` is the CLI side: SIGTERM or
 * SIGINT shut down gracefully, a second signal exits at once.
 */
import type { FastifyInstance } from 'fastify';
import type { ResolvedAuth } from '../http-auth.js';
import type { Logger } from '../logger.js';

export interface ListeningService {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Graceful shutdown; idempotent. Resolves `false` if it failed or ran out of time. */
  close(): Promise<boolean>;
}

/** A listening service with the credentials in force. */
export interface RunningService extends ListeningService {
  /** The credentials in force, with the generated development key if one is used. */
  readonly auth: ResolvedAuth;
}

export interface ListenOptions {
  readonly app: FastifyInstance;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The service's logger (`component` set). */
  readonly logger: Logger;
  /** Its name in the log lines: `ingestion service`, `query service`. */
  readonly name: string;
  /** What `close()` says it does first, e.g. `finishing requests in flight`. */
  readonly closingWhat: string;
  readonly shutdownTimeoutMs: number;
  /** Runs after the app closed (every request answered): close the publisher, Redis, … */
  readonly afterClose: () => Promise<void>;
  /** Fields of the `listening` log line beside the URL. */
  readonly describe?: Readonly<Record<string, unknown>>;
}

/** Listens; if that fails, runs `afterClose` and rethrows. */
export async function listenService(options: ListenOptions): Promise<ListeningService> {
  const { app, host, logger } = options;
  try {
    await app.listen({ host, port: options.port });
  } catch (err) {
    await options.afterClose().catch(() => undefined);
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url, ...options.describe }, `${options.name} listening`);

  let closing: Promise<boolean> | undefined;
  const close = (): Promise<boolean> =>
    (closing ??= (async () => {
      const started = Date.now();
      logger.info(`shutting down: no new connections, ${options.closingWhat}`);
      const graceful = (async () => {
        await app.close();
        await options.afterClose();
      })();
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        graceful.then(
          () => 'stopped' as const,
          (err: unknown) => {
            logger.error({ err }, 'error while shutting down');
            return 'failed' as const;
          },
        ),
        new Promise<'timed-out'>((resolve) => {
          timer = setTimeout(() => resolve('timed-out'), options.shutdownTimeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      if (outcome === 'stopped') logger.info({ ms: Date.now() - started }, `${options.name} stopped`);
      if (outcome === 'timed-out')
        logger.error({ timeoutMs: options.shutdownTimeoutMs }, 'shutdown timed out');
      return outcome === 'stopped';
    })());
  return { url, close };
}

/** A `--port` value: an integer 0–65535. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid port ${JSON.stringify(value)}`);
  return port;
}

/**
 * Waits for SIGTERM or SIGINT, then closes the service; a second signal exits at once (130).
 * Sets a failing exit code when the shutdown was not graceful.
 */
export function runUntilSignal(service: Pick<ListeningService, 'close'>, logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      logger.info({ signal }, 'signal received; a second one exits at once');
      void service.close().then((ok) => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        if (!ok) process.exitCode = 1;
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
