/**
 * The query service as a running process: resolve credentials, open the read-model source (Redis,
 * Kafka metadata for partition counts), build the app, listen. `close()` is the graceful shutdown:
 * stop accepting connections, end the live streams, finish the requests in flight, then close the
 * connections; bounded by `TRIBUTARY_QUERY_SHUTDOWN_TIMEOUT_MS`.
 */
import type { TributaryConfig } from '../lib/config.js';
import { resolveAuth } from '../lib/http-auth.js';
import { listenService, type RunningService } from '../lib/http/service.js';
import type { Logger } from '../lib/logger.js';
import { openReadModelSource } from '../lib/read-models/source.js';
import type { OwnedReadModelSource, PartitionCounts } from '../lib/read-models/source.js';
import { buildQueryServer } from './server.js';
import type { QueryServer } from './server.js';
import type { EventCatalog } from '../schemas/catalog.js';
import type { ReadableModel } from '../lib/read-models/reader.js';

export interface QueryServiceOptions {
  /** The app's events and topics. */
  readonly catalog: EventCatalog;
  /** The app's projections, whose readers the service serves. */
  readonly models: readonly ReadableModel[];
  readonly config: TributaryConfig;
  readonly logger: Logger;
  /** Default `config.query.host`. */
  readonly host?: string;
  /** Default `config.query.port`; 0 picks a free port. */
  readonly port?: number;
  /** Partition counts to use instead of Kafka metadata (tests). */
  readonly partitions?: PartitionCounts;
}

export interface QueryService extends QueryServer, RunningService {
  readonly source: OwnedReadModelSource;
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
    server = await buildQueryServer({
      catalog: options.catalog,
      models: options.models,
      config,
      logger: options.logger,
      source,
      auth: auth.settings,
    });
  } catch (err) {
    await source.close().catch(() => undefined);
    throw err;
  }
  const listening = await listenService({
    app: server.app,
    host,
    port,
    logger,
    name: 'query service',
    closingWhat: 'ending streams, finishing requests in flight',
    shutdownTimeoutMs: config.query.shutdownTimeoutMs,
    afterClose: () => source.close(),
    describe: { auth: server.authenticator.mode, methods: server.authenticator.methods },
  });
  return { ...server, ...listening, source, auth };
}
