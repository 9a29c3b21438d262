/**
 * `tributary query …` as a user runs it, against read models built by the real projections:
 * tables and `--json` equal to the oracles, clear one-line errors with exit code 1, and `query
 * serve` answering and stopping cleanly on SIGTERM. The CLI runs from its TypeScript sources
 * (through tsx), so the test does not depend on a fresh `npm run build`.
 */
import { freePort } from '../helpers/free-port.js';
import { spawn } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { analyticsProjection } from '../../consumers/analytics/analytics-projection.js';
import type { TributaryConfig } from '../../lib/config.js';
import { generateEvents } from '../../examples/shop/generator.js';
import { CLI_ENTRY, cliEnv, runCli } from '../helpers/cli.js';
import { orderEdgeCases, ordersOracle } from '../helpers/orders-oracle.js';
import { QUERY_KEY, buildReadModels, queryFixture, userAndOrderEvents } from '../helpers/query-fixture.js';
import { uid } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { usersOracle } from '../helpers/users-oracle.js';

const AUTH = { TRIBUTARY_AUTH_API_KEYS: `analyst:${QUERY_KEY}=query` };
const cli = (config: TributaryConfig, ...args: string[]) => runCli(config, args, AUTH);

describe('tributary query', () => {
  it('prints users, a user and orders as tables or JSON equal to the oracles', async () => {
    const f = await queryFixture();
    const edge = orderEdgeCases(uid());
    const events = [...userAndOrderEvents(7, 120, 6_000), ...edge.events];
    await buildReadModels(f, events);
    const users = usersOracle(events);
    const orders = ordersOracle(events.filter((e) => !edge.poison.has(e.data.eventId)));

    const all = await cli(f.config, 'query', 'users', 'list', '--all', '--limit', '7', '--json');
    expect(all.code, all.stderr).toBe(0);
    const listed = JSON.parse(all.stdout) as { users: { userId: string }[]; total: number; nextCursor: null };
    expect(listed.total).toBe(users.size);
    expect(listed.nextCursor).toBeNull();
    expect(listed.users.map((u) => u.userId).sort()).toEqual([...users.keys()].sort());

    const table = await cli(f.config, 'query', 'users', 'list', '--limit', '5');
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^USERID\s+EMAIL\s+NAME\s+PLAN\s+COUNTRY\s+CREATEDAT\s+UPDATEDAT$/);
    expect(lines[1]).toMatch(/^-+( +-+){6}$/);
    expect(lines.slice(2, 7).every((l) => users.has(l.split(/\s+/)[0]!))).toBe(true);
    expect(table.stdout).toMatch(new RegExp(`^total +${users.size}$`, 'm'));
    const next = /^nextCursor +(\S+)$/m.exec(table.stdout)?.[1];
    expect(next).toBeDefined();
    expect((await cli(f.config, 'query', 'users', 'list', '--limit', '5', '--cursor', next!)).code).toBe(0);

    const [someone, profile] = [...users][0]!;
    const one = await cli(f.config, 'query', 'users', 'get', '--id', someone);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(new RegExp(`^userId +${someone}$`, 'm'));
    expect(one.stdout).toMatch(new RegExp(`^email +${profile.email.replace(/\./g, '\\.')}$`, 'm'));
    const json = JSON.parse(
      (await cli(f.config, 'query', 'users', 'get', `--id=${someone}`, '--json')).stdout,
    ) as object;
    expect(json).toMatchObject({ userId: someone, ...profile, createdAt: Number(profile.createdAt) });

    const [buyer, want] = [...orders.users].find(([, o]) => o.orders.length > 2)!;
    const page = await cli(
      f.config,
      'query',
      'orders',
      'of-user',
      '--userId',
      buyer,
      '--limit',
      '500',
      '--json',
    );
    expect(page.code, page.stderr).toBe(0);
    expect(JSON.parse(page.stdout)).toEqual({
      userId: buyer,
      orders: want.orders,
      totals: want.totals,
      nextCursor: null,
    });
    const orderTable = await cli(f.config, 'query', 'orders', 'of-user', '--userId', buyer);
    expect(orderTable.code, orderTable.stderr).toBe(0);
    expect(orderTable.stdout).toMatch(/^ORDERID\s+USERID\s+STATUS\s+TOTALAMOUNT\s/m);
    expect(orderTable.stdout).toContain(`"placed":${want.totals.placed}`);
    const first = want.orders[0]!;
    // Newest first: the first row is the oracle's first order.
    expect(orderTable.stdout.split('\n')[2]).toMatch(new RegExp(`^${first.orderId} `));
    expect(orderTable.stdout).toMatch(new RegExp(`^userId +${buyer}$`, 'm'));

    // Analytics before the analytics group ran: said plainly.
    const counts = await cli(f.config, 'query', 'counts');
    expect(counts.code, counts.stderr).toBe(0);
    expect(counts.stdout).toContain('no analytics yet');
  });

  it('prints analytics windows as a table, or the HTTP answer as JSON', async () => {
    const f = await queryFixture({
      TRIBUTARY_ANALYTICS_TUMBLING_MS: '10000',
      TRIBUTARY_ANALYTICS_HOPPING_SIZE_MS: '30000',
      TRIBUTARY_ANALYTICS_HOPPING_ADVANCE_MS: '10000',
    });
    const t0 = Date.UTC(2026, 0, 1);
    const events = [
      ...generateEvents({ seed: 17, users: 40, pages: 12, startTime: t0, intervalMs: 20 }, 3_000),
    ].map((g) => g.event);
    await buildReadModels(f, events, [analyticsProjection]);
    const range = ['--from', new Date(t0).toISOString(), '--to', String(t0 + 60_000)];

    const json = await cli(f.config, 'query', 'counts', ...range, '--window', '30s', '--json');
    expect(json.code, json.stderr).toBe(0);
    const answer = JSON.parse(json.stdout) as {
      window: object;
      windows: { start: number; totalEvents: number }[];
      total: { events: Record<string, number> };
    };
    expect(answer.window).toEqual({ kind: 'hopping', sizeMs: 30_000, advanceMs: 10_000 });
    expect(answer.windows.map((w) => w.start)).toEqual([0, 1, 2, 3, 4, 5].map((i) => t0 + i * 10_000));
    // Every event in the first minute is counted once in the total (nothing is late here).
    const firstMinute = events.filter((e) => e.data.occurredAt >= t0 && e.data.occurredAt < t0 + 60_000);
    expect(Object.values(answer.total.events).reduce((a, b) => a + b, 0)).toBe(firstMinute.length);

    const table = await cli(f.config, 'query', 'top-pages', ...range, '--limit', '2');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^tumbling windows of 10000 ms starting in \[2026-01-01T00:00:00\.000Z, /);
    expect(table.stdout).toMatch(/^START\s+END\s+FINAL\s+TOP PAGES$/m);
    expect(table.stdout.match(/^2026-01-01T00:0\d:\d0\.000Z/gm)).toHaveLength(6);
    expect(table.stdout).toMatch(/^total \[2026-01-01T00:00:00\.000Z, 2026-01-01T00:01:00\.000Z\)/m);

    const unknown = await cli(f.config, 'query', 'revenue', '--window', '7m');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(
      'tributary query revenue: --window: no 7m windows: the analytics group keeps tumbling 10s and hopping 30s every 10s',
    );
  });

  it('says what is wrong in one line and exits 1', async () => {
    const f = await queryFixture();
    const cases: [string[], RegExp][] = [
      [
        ['query', 'users', 'get', '--id', `nobody-${uid()}`],
        /^tributary query: No such user \(never created, or deleted\)\.$/,
      ],
      [
        ['query', 'orders', 'of-user', '--userId', `nobody-${uid()}`],
        /^tributary query: No such user and no orders/,
      ],
      [['query', 'users', 'list', '--cursor', 'garbage'], /^tributary query: invalid cursor/],
      [['query', 'nope', 'list'], /^tributary query: no model "nope"; readers: users get, users list, /],
      [['query', 'users'], /^tributary query: which reader of users\? one of get, list$/],
      [['query', 'users', 'get'], /^tributary query: --id is required$/],
      [
        ['query', 'users', 'get', '--idd', 'x'],
        /^tributary query: unknown parameter --idd \(parameters: --id\)$/,
      ],
      [
        ['query', 'counts', '--from', 'yesterday'],
        /^tributary query counts: --from: expected epoch milliseconds/,
      ],
      [
        ['query', 'revenue', '--window', 'sliding'],
        /^tributary query revenue: --window: expected tumbling, hopping/,
      ],
      [['query', 'users', 'list', '--limit', '0'], /^tributary query: --limit: must be ≥ 1$/],
      [
        ['query', 'users', 'list', '--limit', 'ten'],
        /^tributary query: --limit: expected an integer, got "ten"$/,
      ],
    ];
    await buildReadModels(f, userAndOrderEvents(3, 20, 400), ['users']);
    const results = await Promise.all(cases.map(([args]) => cli(f.config, ...args)));
    cases.forEach(([args, message], i) => {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim(), args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  });

  it('query serve answers over HTTP and stops cleanly on SIGTERM', async () => {
    const f = await queryFixture();
    const port = await freePort();
    const child = spawn(process.execPath, [...CLI_ENTRY, 'query', 'serve', '--port', String(port)], {
      env: cliEnv(f.config, { ...AUTH, TRIBUTARY_LOG_LEVEL: 'warn' }),
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    onTestFinished(() => {
      child.kill('SIGKILL');
    });
    const url = `http://127.0.0.1:${port}`;
    await until(async () => stderr.includes(`Tributary query service on ${url}`), 'the banner', {
      timeoutMs: 30_000,
    });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const res = await fetch(`${url}/models/users/list`, { headers: { 'x-api-key': QUERY_KEY } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ users: [], total: null, nextCursor: null });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
