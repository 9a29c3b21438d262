/**
 * The dashboard in a real browser (Debian's headless Chromium driven by playwright-core) against
 * the real stack: the analytics group and two projections run in-process with ConsumerRuntime,
 * the query service serves the page on a random port, and events published with the Publisher
 * must show up on the page as numbers (read from the DOM, not pixels) equal to an oracle computed
 * from the events alone. The page may load nothing from anywhere but the query service. A
 * screenshot is left in test-artifacts/dashboard.png for a person to look at.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConsumerRuntime } from '../../consumers/runtime/consumer-runtime.js';
import { generateEvents } from '../../examples/shop/generator.js';
import { DASHBOARD_ASSETS_DIR } from '../../query/dashboard/assets.js';
import { buildDashboard } from '../../query/dashboard/build.js';
import { projections, shopCatalog, createEvent, type TributaryEvent } from '../helpers/shop.js';
import { partitionFor } from '../helpers/analytics-oracle.js';
import { QUERY_KEY, queryFixture, serveQuery } from '../helpers/query-fixture.js';
import { testLogger } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

const CHROMIUM = process.env.TRIBUTARY_TEST_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve('test-artifacts');

/** Windows small enough that a test sees several of them close. */
const ANALYTICS_ENV = {
  TRIBUTARY_ANALYTICS_TUMBLING_MS: '20000',
  TRIBUTARY_ANALYTICS_HOPPING_SIZE_MS: '60000',
  TRIBUTARY_ANALYTICS_HOPPING_ADVANCE_MS: '20000',
  TRIBUTARY_ANALYTICS_ALLOWED_LATENESS_MS: '1000',
  TRIBUTARY_ANALYTICS_GRACE_MS: '1000',
  TRIBUTARY_ANALYTICS_TOP_N: '10',
  TRIBUTARY_ANALYTICS_FINALIZE_INTERVAL_MS: '250',
};

/** What the page must show for `events`, computed from the events alone. */
function oracle(events: readonly TributaryEvent[]) {
  const visitors = new Set<string>();
  const revenue = new Map<string, bigint>();
  const pages = new Map<string, number>();
  for (const e of events) {
    if (e.type === 'PageViewed') {
      visitors.add(e.data.userId ?? `session:${e.data.sessionId}`);
      pages.set(e.data.path, (pages.get(e.data.path) ?? 0) + 1);
    } else {
      visitors.add(e.data.userId);
    }
    if (e.type === 'OrderPaid') {
      revenue.set(e.data.currency, (revenue.get(e.data.currency) ?? 0n) + BigInt(e.data.amount));
    }
  }
  const top = [...pages].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]!;
  return {
    events: events.length,
    visitors: visitors.size,
    /** Minor units per currency, summed as BigInt, as decimal strings. */
    revenue: Object.fromEntries([...revenue].map(([c, n]) => [c, n.toString()])),
    topPage: { path: top[0], views: top[1] },
  };
}

/** The digits of a DOM text as a number (`6,000` → 6000); NaN for `–`. */
function numberIn(text: string | null): number {
  const digits = (text ?? '').replace(/[^\d]/g, '');
  return digits === '' ? Number.NaN : Number(digits);
}

async function text(page: Page, testid: string): Promise<string> {
  return (await page.locator(`[data-testid="${testid}"]`).first().textContent()) ?? '';
}

/** A fresh, isolated Chromium profile, closed and deleted when the test finishes. */
async function launchBrowser(): Promise<BrowserContext> {
  const profile = await mkdtemp(path.join(tmpdir(), 'tributary-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // Without the background-networking flags Chromium calls home, which a closed network punishes.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1440, height: 1000 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  onTestFinished(async () => {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  });
  return context;
}

describe('dashboard (browser)', () => {
  it('shows live analytics and consumer health from the real stack, fetching nothing from elsewhere', async () => {
    const started = Date.now();
    // The bundle as `npm run build` makes it, where the query service looks for it.
    await buildDashboard({ outdir: DASHBOARD_ASSETS_DIR });

    const f = await queryFixture(ANALYTICS_ENV);
    const runtimes = await Promise.all(
      ['analytics', 'users', 'orders'].map((name) =>
        ConsumerRuntime.start({
          catalog: shopCatalog,
          config: f.config,
          logger: testLogger(),
          projection: projections[name]!,
        }),
      ),
    );
    onTestFinished(async () => {
      await Promise.all(runtimes.map((r) => r.stop()));
    });
    const service = await serveQuery(f);

    // The status route is guarded like every data route; the page itself is public and locked down.
    expect((await fetch(`${service.url}/dashboard/status`)).status).toBe(401);
    const shell = await fetch(`${service.url}/dashboard`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-security-policy')).toContain("connect-src 'self'");

    // Ten minutes of traffic ending now, in event time, in order (no late events): the first 70%
    // is published once the page is open, the rest later, and the page must follow both.
    const count = 3_000;
    const spanMs = 10 * 60_000;
    const events = [
      ...generateEvents(
        {
          seed: 7,
          users: 250,
          pages: 60,
          startTime: Date.now() - spanMs,
          intervalMs: spanMs / count,
          outOfOrderFraction: 0,
          lateFraction: 0,
        },
        count,
      ),
    ].map((g) => g.event);
    // Revenue past 2^53: a payment of ~9e15 minor units in each partition of `orders`, all in the
    // last window, in a currency the generator does not use; their sum is no double.
    const last = events.at(-1)!.data.occurredAt;
    const payers = [0, 1, 2].map((p) => {
      for (let i = 0; ; i++) if (partitionFor(`whale-${i}`, f.partitions) === p) return `whale-${i}`;
    });
    const big = [9_007_199_254_740_990, 9_000_000_000_000_000, 8_999_999_999_999_999];
    events.push(
      ...big.map(
        (amount, p) =>
          createEvent(
            'OrderPaid',
            {
              orderId: `whale-order-${p}`,
              userId: payers[p]!,
              amount,
              currency: 'CHF',
              paymentMethod: 'CARD',
              paymentId: `whale-pay-${p}`,
            },
            last,
          ) as TributaryEvent,
      ),
    );
    const first = events.slice(0, Math.floor(count * 0.7));

    const context = await launchBrowser();
    const page = await context.newPage();
    const foreign: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(`${service.url}/`)) foreign.push(r.url());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    // Without a key the page asks for one; a wrong one is refused and asked for again.
    await page.goto(`${service.url}/dashboard`);
    await page.locator('#key-dialog').waitFor({ state: 'visible' });
    await page.fill('#key-input', 'not-a-key-0123456789abcdef');
    await page.click('#key-dialog button[value="save"]');
    await page.locator('[data-testid="connection"][data-state="refused"]').waitFor();
    await page.locator('#key-dialog').waitFor({ state: 'visible' });
    expect(await page.locator('#message').textContent()).toContain('refused');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-key.png') });
    errors.length = 0; // the browser logs the 401s as console errors

    // The key in the fragment: stored by the page, never sent in a URL.
    await page.goto(`${service.url}/dashboard#key=${QUERY_KEY}`);
    await page.locator('[data-testid="connection"][data-state="open"]').waitFor({ timeout: 15_000 });
    expect(page.url()).not.toContain(QUERY_KEY);
    // Nothing yet: 0 once the analytics group has stored its layout, `–` before.
    const before = numberIn(await text(page, 'kpi-events-value'));
    expect(Number.isNaN(before) || before === 0, `shows ${before} before any event`).toBe(true);

    await f.publisher.publishBatch(first);
    const want1 = oracle(first);
    await until(
      async () => numberIn(await text(page, 'kpi-events-value')) === want1.events,
      'first events on the page',
      {
        timeoutMs: 60_000,
        describe: () => `want ${want1.events}`,
      },
    );

    await f.publisher.publishBatch(events.slice(first.length));
    const want = oracle(events);
    expect(want.revenue.CHF).toBe('27007199254740989');
    let shown = '';
    await until(
      async () => numberIn((shown = await text(page, 'kpi-events-value'))) === want.events,
      'all events on the page',
      { timeoutMs: 60_000, describe: () => `shows ${shown}, want ${want.events}` },
    );

    // Revenue: per currency, the minor units summed and shown as major units with the currency.
    for (const [currency, minor] of Object.entries(want.revenue)) {
      const item = page.locator(`[data-testid="revenue-total-${currency}"]`);
      await until(async () => (await item.getAttribute('data-minor')) === minor, `${currency} revenue`);
      // Major units as an exact decimal string (every currency here has 2 minor digits).
      const digits = minor.padStart(3, '0');
      const exact = `${digits.slice(0, -2)}.${digits.slice(-2)}` as Intl.StringNumericLiteral;
      const major = new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(exact);
      expect(await item.locator('.amount').textContent()).toBe(major);
    }
    // Unique users: a HyperLogLog estimate, within 2% of the exact count.
    const users = numberIn(await text(page, 'kpi-users-value'));
    expect(Math.abs(users - want.visitors) / want.visitors).toBeLessThan(0.02);
    // Top pages: the most viewed first, with its views.
    const top = page.locator('[data-testid="top-page"]').first();
    expect(await top.getAttribute('data-path')).toBe(want.topPage.path);
    expect(Number(await top.getAttribute('data-views'))).toBe(want.topPage.views);
    // Live updates arrived over the fetch-based SSE reader.
    expect(numberIn(await text(page, 'stream-count'))).toBeGreaterThan(0);
    // The events-per-second chart has a series per event type.
    expect(await page.locator('#chart-events .u-legend .u-series').count()).toBeGreaterThan(3);

    // Consumers: the analytics group handled every record and is healthy, with nothing behind.
    const consumer = page.locator('[data-testid="consumer-analytics"]');
    await until(
      async () =>
        numberIn(await text(page, 'consumer-analytics-records')) === events.length &&
        (await text(page, 'consumer-analytics-lag')) === '0' &&
        (await consumer.getAttribute('data-health')) === 'ok',
      'analytics group healthy and caught up on the page',
      { timeoutMs: 30_000, describe: () => 'see the consumers panel' },
    );
    await page.locator('[data-testid="consumer-orders"]').waitFor();

    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(foreign, 'requests to anywhere but the query service').toEqual([]);
    expect(errors, 'errors in the page').toEqual([]);
    testLogger().info({ ms: Date.now() - started }, 'dashboard browser test done');
  });
});
