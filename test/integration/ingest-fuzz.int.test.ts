/**
 * Property-based fuzzing of the ingestion API with schemathesis (Python, in `.tributary/venv`):
 * it reads `/openapi.json` and sends valid and invalid requests to every operation, on the real
 * stack with the real Publisher. Whatever it sends, the service must never answer 5xx.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import { startIngestService } from '../../producers/http/service.js';
import {
  FUZZ_BUDGET_MS,
  SCHEMATHESIS,
  requestSeries,
  runSchemathesis,
  schemathesisInstalled,
} from '../helpers/schemathesis.js';
import { cleanupTopics, testAdmin, testConfig, testLogger, uid } from '../helpers/stack.js';
import { shopApp, shopCatalog } from '../helpers/shop.js';

/** Test cases per operation and phase; the run stays well under a minute on two cores. */
const MAX_EXAMPLES = process.env.TRIBUTARY_FUZZ_EXAMPLES ?? '25';

describe('ingestion API under schemathesis', () => {
  it('never answers 5xx, whatever the request', { timeout: FUZZ_BUDGET_MS + 30_000 }, async () => {
    expect(schemathesisInstalled(), `${SCHEMATHESIS} missing: run bash infra/bootstrap.sh deps`).toBe(true);
    const key = `fuzz-${uid()}-0123456789`;
    const config = testConfig({
      TRIBUTARY_AUTH_API_KEYS: `fuzz:${key}=ingest`,
      TRIBUTARY_INGEST_RATE_LIMIT_PER_MINUTE: '0',
    });
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
    const service = await startIngestService({
      catalog: shopCatalog,
      appRoutes: shopApp.ingestRoutes,
      config,
      logger: testLogger(),
      host: '127.0.0.1',
      port: 0,
    });
    onTestFinished(async () => {
      await service.close();
    });
    const { code, output, seconds } = await runSchemathesis({
      url: service.url,
      apiKey: key,
      seed: '20260301',
      maxExamples: MAX_EXAMPLES,
      // Readiness may honestly answer 503; it is not an input-handling path.
      excludePaths: ['/readyz'],
    });
    expect(code, output).toBe(0);
    expect(seconds, 'the fuzz run should stay under a minute').toBeLessThan(60);

    // Our own account of what was answered: no 5xx, and the publish path was exercised.
    const series = await requestSeries(service.url);
    expect(series.length, 'no request counters in /metrics').toBeGreaterThan(0);
    expect(
      series.filter((s) => /status="5/.test(s.labels)).map((s) => s.line),
      output,
    ).toEqual([]);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    const accepted = [...metrics.matchAll(/^tributary_ingest_events_accepted_total\{[^}]*\} (\d+)/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    expect(accepted).toBeGreaterThan(0);
  });
});
