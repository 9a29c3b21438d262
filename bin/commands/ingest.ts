/**
 * CLI: `tributary ingest`, the HTTP ingestion service in the foreground. Logs are pino JSON on
 * stdout at `TRIBUTARY_LOG_LEVEL` (a service's logs are its output); the banner with the URL and
 * the development key goes to stderr. SIGTERM or SIGINT shut it down gracefully; a second signal
 * exits at once.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { App } from '../../app/app.js';
import type { CliContext } from './stack.js';
import { parsePort, runUntilSignal } from '../../lib/http/service.js';
import { initLogger } from '../../lib/logger.js';
import { startIngestService } from '../../producers/http/service.js';
import type { IngestService } from '../../producers/http/service.js';

/** Prints where the service listens and how to call it (the development key, when one is in use) to stderr. */
export function printIngestBanner(service: IngestService, app: App): void {
  const own = service.appRoutes;
  const lines = [
    `Tributary ingestion service on ${service.url} (app ${app.name}: ${app.catalog.types.join(', ')})`,
    `  POST /events, /events/batch${own.length > 0 ? `; ${own.join('; ')}` : ''}`,
    `  OpenAPI ${service.url}/openapi.json · metrics ${service.url}/metrics · /healthz · /readyz`,
  ];
  const dev = service.auth.devKey;
  if (service.authenticator.mode === 'disabled') {
    lines.push('  authentication is OFF (TRIBUTARY_AUTH_DISABLED=true): anyone who can connect may publish');
  } else if (dev) {
    const file = path.relative(process.cwd(), dev.file) || dev.file;
    lines.push(
      `  no credentials configured: local development API key (scopes ingest, query) in ${file}:`,
      `    ${dev.key}`,
      '  try:',
      `    curl -sS ${service.url}/events -H "X-API-Key: $(cat ${file})" -H 'content-type: application/json' \\`,
      `      -d '{"type":"${app.catalog.types[0] ?? '<EventType>'}","data":{…}}'   # fields: ${service.url}/openapi.json`,
    );
  } else {
    lines.push(`  credentials: ${service.authenticator.methods.join(', ')}`);
  }
  console.error(lines.join('\n'));
}

/** Registers `tributary ingest`. */
export function registerIngestCommand(program: Command, ctx: CliContext): void {
  program
    .command('ingest')
    .description('run the HTTP ingestion service (events in over HTTP, acknowledged by Kafka)')
    .option('--host <host>', 'address to listen on (default TRIBUTARY_INGEST_HOST, 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any (default TRIBUTARY_INGEST_PORT, 8080)', parsePort)
    .action(async (opts: { host?: string; port?: number }) => {
      const config = ctx.config();
      const logger = initLogger({ level: config.logLevel, destination: 1 });
      const app = await ctx.app();
      const service = await startIngestService({
        catalog: app.catalog,
        appRoutes: app.ingestRoutes,
        appName: app.name,
        config,
        logger,
        ...(opts.host === undefined ? {} : { host: opts.host }),
        ...(opts.port === undefined ? {} : { port: opts.port }),
      });
      printIngestBanner(service, app);
      await runUntilSignal(service, logger);
    });
}
