/**
 * The ingestion service as a running process: resolve credentials, connect the {@link Publisher}
 * (which registers the schemas), build the app, listen. `close()` is the graceful shutdown:
 * stop accepting connections and finish the requests in flight (their events are acknowledged or
 * refused), then flush and close the publisher; bounded by `TRIBUTARY_INGEST_SHUTDOWN_TIMEOUT_MS`.
 */
import type { TributaryConfig } from '../../lib/config.js';
import { resolveAuth } from '../../lib/http-auth.js';
import type { ResolvedAuth } from '../../lib/http-auth.js';
import type { Logger } from '../../lib/logger.js';
import { Publisher } from '../publisher.js';
import type { PublisherOptions } from '../publisher.js';
import { buildIngestServer } from './server.js';
import type { IngestServer } from './server.js';

export interface IngestServiceOptions {
  readonly config: TributaryConfig;
  readonly logger: Logger;
  /** Default `config.ingest.host`. */
  readonly host?: string;
  /** Default `config.ingest.port`; 0 picks a free port. */
  readonly port?: number;
  readonly publisherOptions?: PublisherOptions;
}

export interface IngestService extends IngestServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly publisher: Publisher;
  /** The credentials in force, with the generated development key if one is used. */
  readonly auth: ResolvedAuth;
  /** Graceful shutdown; idempotent. Resolves `false` if it ran out of time. */
  close(): Promise<boolean>;
}

/** Starts the ingestion service and returns once it listens. */
export async function startIngestService(options: IngestServiceOptions): Promise<IngestService> {
  const { config } = options;
  const logger = options.logger.child({ component: 'ingest' });
  const host = options.host ?? config.ingest.host;
  const port = options.port ?? config.ingest.port;
  const auth = await resolveAuth(config, host);
  // Each part takes its own child of the root logger (`component` is set once per line).
  const publisher = await Publisher.create(config, options.logger, options.publisherOptions);
  let server: IngestServer;
  try {
    server = await buildIngestServer({ config, logger: options.logger, publisher, auth: auth.settings });
    await server.app.listen({ host, port });
  } catch (err) {
    await publisher.close().catch(() => undefined);
    throw err;
  }
  const address = server.app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  logger.info(
    { url, auth: server.authenticator.mode, methods: server.authenticator.methods, engine: publisher.engine },
    'ingestion service listening',
  );

  let closing: Promise<boolean> | undefined;
  const close = (): Promise<boolean> =>
    (closing ??= (async () => {
      const started = Date.now();
      logger.info('shutting down: no new connections, finishing requests in flight');
      const graceful = (async () => {
        await server.app.close();
        await publisher.close();
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
          timer = setTimeout(() => resolve('timed-out'), config.ingest.shutdownTimeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      if (outcome === 'stopped') logger.info({ ms: Date.now() - started }, 'ingestion service stopped');
      if (outcome === 'timed-out') {
        logger.error({ timeoutMs: config.ingest.shutdownTimeoutMs }, 'shutdown timed out');
      }
      return outcome === 'stopped';
    })());

  return { ...server, url, publisher, auth, close };
}
