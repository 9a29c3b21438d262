/**
 * The query service as a running process: resolve credentials, open the read-model source (Redis,
 * Kafka metadata for partition counts), build the app, listen. `close()` is the graceful shutdown:
 * stop accepting connections, end the live streams, finish the requests in flight, then close the
 * connections; bounded by `TRIBUTARY_QUERY_SHUTDOWN_TIMEOUT_MS`.
 */
import type { TributaryConfig } from '../lib/config.js';
import { resolveAuth } from '../lib/http-auth.js';
import type { ResolvedAuth } from '../lib/http-auth.js';
import type { Logger } from '../lib/logger.js';
import { openReadModelSource } from '../lib/read-models/source.js';
import type { OwnedReadModelSource, PartitionCounts } from '../lib/read-models/source.js';
import { buildQueryServer } from './server.js';
import type { QueryServer } from './server.js';

export interface QueryServiceOptions {
  readonly config: TributaryConfig;
  readonly logger: Logger;
  /** Default `config.query.host`. */
  readonly host?: string;
  /** Default `config.query.port`; 0 picks a free port. */
  readonly port?: number;
  /** Partition counts to use instead of Kafka metadata (tests). */
  readonly partitions?: PartitionCounts;
}

export interface QueryService extends QueryServer {
  /** Base URL, e.g. `http://127.0.0.1:8090`. */
  readonly url: string;
  readonly source: OwnedReadModelSource;
  /** The credentials in force, with the generated development key if one is used. */
  readonly auth: ResolvedAuth;
  /** Graceful shutdown; idempotent. Resolves `false` if it ran out of time. */
  close(): Promise<boolean>;
}

/** Starts the query service and returns once it listens. */
export async function startQueryService(options: QueryServiceOptions): Promise<QueryService> {
  const { config } = options;
  const logger = options.logger.child({ component: 'query' });
  const host = options.host ?? config.query.host;
  const port = options.port ?? config.query.port;
  const auth = await resolveAuth(config, host);
  const source = openReadModelSource(config, options.logger, {
    ...(options.partitions ? { partitions: options.partitions } : {}),
  });
  let server: QueryServer;
  try {
    server = await buildQueryServer({ config, logger: options.logger, source, auth: auth.settings });
    await server.app.listen({ host, port });
  } catch (err) {
    await source.close().catch(() => undefined);
    throw err;
  }
  const address = server.app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  logger.info(
    { url, auth: server.authenticator.mode, methods: server.authenticator.methods },
    'query service listening',
  );

  let closing: Promise<boolean> | undefined;
  const close = (): Promise<boolean> =>
    (closing ??= (async () => {
      const started = Date.now();
      logger.info('shutting down: no new connections, ending streams, finishing requests in flight');
      const graceful = (async () => {
        await server.app.close();
        await source.close();
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
          timer = setTimeout(() => resolve('timed-out'), config.query.shutdownTimeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      if (outcome === 'stopped') logger.info({ ms: Date.now() - started }, 'query service stopped');
      if (outcome === 'timed-out')
        logger.error({ timeoutMs: config.query.shutdownTimeoutMs }, 'shutdown timed out');
      return outcome === 'stopped';
    })());

  return { ...server, url, source, auth, close };
}
