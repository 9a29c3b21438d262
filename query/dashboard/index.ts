/**
 * The live dashboard (DESIGN.md §6), a Fastify plugin of the query service:
 *
 * - `GET /dashboard`: the page (public: a static shell with no data; `/dashboard/` redirects here).
 * - `GET /dashboard/app.js`, `app.css` (+ source maps): the browser code and
 *   its chart library (uPlot), bundled by esbuild at build time into `dist/dashboard`. Nothing is
 *   fetched from anywhere else at runtime, and the page's Content-Security-Policy forbids it.
 * - `GET /dashboard/status` (scope `query`): consumer groups' versions, progress, lag and health
 *   (status.ts).
 *
 * The page reads the analytics routes and `GET /stream` of the query service itself, with the API
 * key the user gives it (sent as `X-API-Key`; the stream is read with fetch, not EventSource,
 * which cannot send headers).
 *
 * ```ts
 * await registerDashboard(app, { source, config, logger }); // after the auth hooks, before app.ready()
 * ```
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TributaryConfig } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import type { ReadModelSource } from '../../lib/read-models/source.js';
import { ASSET_TYPES, DASHBOARD_ASSETS_DIR, loadAssets, type AssetBundle } from './assets.js';
import { PAGE_CSP, dashboardPage } from './page.js';
import { StatusReader, kafkaStatusProbe, type KafkaStatusProbe } from './status.js';

export type { DashboardStatusBody } from './status-types.js';

export interface DashboardOptions {
  /** The query service's read-model source (Redis, prefixes, partition counts). */
  readonly source: ReadModelSource;
  /** Base names of the app's event topics, whose progress the status shows. */
  readonly topics: readonly string[];
  readonly config: TributaryConfig;
  readonly logger: Logger;
  /** Where the built `app.js` and `app.css` are. Default `dist/dashboard` in the repository. */
  readonly assetsDir?: string;
  /** Kafka side of the status (watermarks, groups). Default: an admin client from `config`. */
  readonly kafka?: KafkaStatusProbe;
  /** A consumer group is shown as lagging beyond this many records. Default 1,000. */
  readonly lagThreshold?: number;
}

/** Security headers of every dashboard response. */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

/** Public routes are not rate-limited (they hold no data and the page needs them to load). */
const PUBLIC = { config: { rateLimit: false as const }, schema: { hide: true } };

/**
 * Registers the dashboard routes on `app` (usable as `app.register(registerDashboard, options)` too).
 * The status reader's Kafka connection is closed with the app.
 */
export async function registerDashboard(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const logger = options.logger.child({ component: 'dashboard' });
  const dir = options.assetsDir ?? DASHBOARD_ASSETS_DIR;
  let bundle: AssetBundle | null = await loadAssets(dir);
  if (!bundle) logger.warn({ dir }, 'dashboard assets not built yet: run npm run build');
  /** The bundle, looked for again while it is missing (a build after the service started). */
  const assets = async (): Promise<AssetBundle | null> => (bundle ??= await loadAssets(dir));
  const notBuilt = (reply: FastifyReply) =>
    reply.code(503).send({
      error: 'unavailable',
      message: `the dashboard assets are not built: run \`npm run build\` (looked in ${dir})`,
    });

  const status = new StatusReader({
    source: options.source,
    topics: options.topics,
    kafka: options.kafka ?? kafkaStatusProbe(options.config, logger),
    logger,
    ...(options.lagThreshold === undefined ? {} : { lagThreshold: options.lagThreshold }),
  });
  app.addHook('onClose', async () => status.close());

  app.get('/dashboard', PUBLIC, async (_request, reply) => {
    const found = await assets();
    if (!found) return notBuilt(reply);
    return reply
      .headers(SECURITY_HEADERS)
      .header('content-security-policy', PAGE_CSP)
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(dashboardPage(found.version));
  });
  if (!app.hasRoute({ method: 'GET', url: '/dashboard/' })) {
    // Relative, so that it also works behind a proxy that mounts the service on a sub-path.
    app.get('/dashboard/', PUBLIC, async (_request, reply) => reply.redirect('../dashboard', 308));
  }

  app.get<{ Params: { file: string }; Querystring: { v?: string } }>(
    '/dashboard/:file',
    PUBLIC,
    async (request, reply) => {
      const { file } = request.params;
      if (!Object.hasOwn(ASSET_TYPES, file)) {
        return reply
          .code(404)
          .send({ error: 'not_found', message: `no dashboard file ${JSON.stringify(file)}` });
      }
      const found = await assets();
      if (!found) return notBuilt(reply);
      const asset = found.files.get(file);
      if (!asset) return reply.code(404).send({ error: 'not_found', message: `${file} was not built` });
      // A URL that names the current build can be cached for good; others are revalidated.
      const cache = request.query.v === found.version ? 'public, max-age=31536000, immutable' : 'no-cache';
      reply.headers(SECURITY_HEADERS).header('etag', asset.etag).header('cache-control', cache);
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.type(asset.type).send(asset.body);
    },
  );

  app.get(
    '/dashboard/status',
    {
      config: { scope: 'query' },
      // The page's own endpoint, not part of the analysts' API: left out of /openapi.json.
      schema: { hide: true },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      return status.read();
    },
  );
}
