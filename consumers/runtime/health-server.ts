/**
 * The consumer process's own small HTTP server: `/metrics` (Prometheus), `/healthz` (the process
 * is up) and `/readyz` (every consumer group has joined and is running). Read-only, no secrets,
 * bound to loopback by default.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from '../../lib/metrics.js';

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** Names of the groups that are not running (empty when ready). */
  readonly notReady: () => string[];
}

export async function startHealthServer(options: HealthServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const waiting = options.notReady();
    if (waiting.length > 0) return reply.code(503).send({ status: 'not ready', waiting });
    return { status: 'ready' };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
  await app.listen({ host: options.host, port: options.port });
  return app;
}
