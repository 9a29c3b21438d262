/**
 * Property-based fuzzing of the query API with schemathesis (Python, in `.tributary/venv`): it reads
 * `/openapi.json` and sends valid and invalid requests to every operation, against read models
 * and analytics windows built by the real consumer groups. Whatever it sends, the service must never answer 5xx.
 * `GET /stream` is left out (it never ends, by design; its parameter checks are unit-tested), and
 * so is `/readyz` (it may honestly answer 503).
 */
import { describe, expect, it } from 'vitest';
import { analyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import { generateEvents } from '../../examples/shop/generator.js';
import { QUERY_KEY, buildReadModels, queryFixture, serveQuery } from '../helpers/query-fixture.js';
import {
  FUZZ_BUDGET_MS,
  SCHEMATHESIS,
  requestSeries,
  runSchemathesis,
  schemathesisInstalled,
} from '../helpers/schemathesis.js';

/** Test cases per operation and phase; the run stays well under a minute on two cores. */
const MAX_EXAMPLES = process.env.TRIBUTARY_FUZZ_EXAMPLES ?? '40';

describe('query API under schemathesis', () => {
  it('never answers 5xx, whatever the request', { timeout: FUZZ_BUDGET_MS + 90_000 }, async () => {
    expect(schemathesisInstalled(), `${SCHEMATHESIS} missing: run bash infra/bootstrap.sh deps`).toBe(true);
    const f = await queryFixture();
    // Users, orders and the analytics group's windows (around now, so the default range has data).
    const events = [
      ...generateEvents(
        { seed: 5, users: 80, pages: 20, startTime: Date.now() - 600_000, intervalMs: 200 },
        3_000,
      ),
    ].map((g) => g.event);
    await buildReadModels(f, events, ['users', 'user-count', 'orders', analyticsProjection]);
    const service = await serveQuery(f);
    const { code, output, seconds } = await runSchemathesis({
      url: service.url,
      apiKey: QUERY_KEY,
      seed: '20260302',
      maxExamples: MAX_EXAMPLES,
      excludePaths: ['/readyz', '/stream'],
    });
    expect(code, output).toBe(0);
    expect(seconds, 'the fuzz run should stay under a minute').toBeLessThan(60);

    // Our own account of what was answered: no 5xx, and the read paths were reached (200s).
    const series = await requestSeries(service.url);
    expect(
      series.filter((s) => /status="5/.test(s.labels)).map((s) => s.line),
      output,
    ).toEqual([]);
    const okRoutes = new Set(
      series.filter((s) => /status="200"/.test(s.labels)).map((s) => /route="([^"]+)"/.exec(s.labels)?.[1]),
    );
    for (const route of [
      '/models/users/list',
      '/models/orders/of-user',
      '/analytics/counts',
      '/analytics/top-pages',
    ]) {
      expect(okRoutes, `no 200 from ${route}`).toContain(route);
    }
  });
});
