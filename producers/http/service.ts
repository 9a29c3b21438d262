/**
 * The ingestion service as a running process: resolve credentials, connect the {@link Publisher}
 * (which registers the schemas), build the app, listen. `close()` is the graceful shutdown:
 * stop accepting connections and finish the requests in flight (their events are acknowledged or
 * refused), then flush and close the publisher; bounded by `TRIBUTARY_INGEST_SHUTDOWN_TIMEOUT_MS`.
 */
import type { TributaryConfig } from '../../lib/config.js';
import { resolveAuth } from '../../lib/http-auth.js';
import { listenService, type RunningService } from '../../lib/http/service.js';
import type { Logger } from '../../lib/logger.js';
import type { EventCatalog } from '../../schemas/catalog.js';
import { Publisher } from '../publisher.js';
import type { PublisherOptions } from '../publisher.js';
import type { IngestRoutes } from './route-kit.js';
import { buildIngestServer } from './server.js';
import type { IngestServer } from './server.js';

export interface IngestServiceOptions {
  /** The app's events. */
  readonly catalog: EventCatalog;
  /** The app's own routes (`defineApp({ ingestRoutes })`). */
  readonly appRoutes?: IngestRoutes | undefined;
  /** The app's name (titles `/asyncapi.json`). */
  readonly appName?: string;
  readonly config: TributaryConfig;
  readonly logger: Logger;
  /** Default `config.ingest.host`. */
  readonly host?: string;
  /** Default `config.ingest.port`; 0 picks a free port. */
  readonly port?: number;
  readonly publisherOptions?: PublisherOptions;
}

export interface IngestService extends IngestServer, RunningService {
  readonly publisher: Publisher;
}

/** Starts the ingestion service and returns once it listens. */
export async function startIngestService(options: IngestServiceOptions): Promise<IngestService> {
  const { config } = options;
  const logger = options.logger.child({ component: 'ingest' });
  const host = options.host ?? config.ingest.host;
  const port = options.port ?? config.ingest.port;
  const auth = await resolveAuth(config, host);
  // Each part takes its own child of the root logger (`component` is set once per line).
  const publisher = await Publisher.create(options.catalog, config, options.logger, options.publisherOptions);
  let server: IngestServer;
  try {
    server = await buildIngestServer({
      catalog: options.catalog,
      appRoutes: options.appRoutes,
      ...(options.appName === undefined ? {} : { appName: options.appName }),
      config,
      logger: options.logger,
      publisher,
      auth: auth.settings,
    });
  } catch (err) {
    await publisher.close().catch(() => undefined);
    throw err;
  }
  const listening = await listenService({
    app: server.app,
    host,
    port,
    logger,
    name: 'ingestion service',
    closingWhat: 'finishing requests in flight',
    shutdownTimeoutMs: config.ingest.shutdownTimeoutMs,
    afterClose: () => publisher.close(),
    describe: {
      auth: server.authenticator.mode,
      methods: server.authenticator.methods,
      engine: publisher.engine,
    },
  });
  return { ...server, ...listening, publisher, auth };
}
