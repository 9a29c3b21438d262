/**
 * The dashboard's HTML: a static shell that the bundled script (client/main.ts) fills in. It holds
 * no data and no secrets, so it is served without credentials; everything it shows comes from the
 * query API, called with the API key the user enters. Asset URLs are relative (`dashboard/app.js`
 * from `/dashboard`) so the page also works behind a reverse proxy that mounts the service on a
 * sub-path, and carry the bundle's content hash so a new build is never hidden by a cache.
 */

/** Ids the script and the browser test find elements by. */
export const PAGE_IDS = {
  connection: 'connection',
  range: 'range',
  window: 'window',
  keyButton: 'key-button',
  keyDialog: 'key-dialog',
  keyInput: 'key-input',
  keyError: 'key-error',
  message: 'message',
} as const;

/** Content-Security-Policy of the page: only its own scripts, styles and API; no third party at all. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const RANGES: readonly [string, string][] = [
  ['15m', 'Last 15 minutes'],
  ['1h', 'Last hour'],
  ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'],
];

function card(id: string, title: string, hint: string, body: string, extra = ''): string {
  return `<article class="card ${extra}" id="${id}" data-testid="${id}">
        <header><h2>${title}</h2><span class="hint" data-role="hint">${hint}</span></header>
        ${body}
      </article>`;
}

function kpi(id: string, label: string, sub: string): string {
  return `<div class="kpi" data-testid="${id}">
        <div class="kpi-label">${label}</div>
        <div class="kpi-value" data-testid="${id}-value">–</div>
        <div class="kpi-sub" data-testid="${id}-sub">${sub}</div>
      </div>`;
}

function stat(id: string, label: string, title: string): string {
  return `<div title="${title}"><dt>${label}</dt><dd data-testid="${id}">–</dd></div>`;
}

const CONSUMERS_BODY = `<table class="consumers" data-testid="consumers-table">
          <thead><tr><th>Group</th><th>State</th><th class="num">Records</th><th class="num">Lag</th><th>Partitions</th></tr></thead>
          <tbody></tbody>
        </table>
        <dl class="stats">
          ${stat('stat-windows', 'Windows', 'The analytics group’s window sizes (event time)')}
          ${stat('stat-final', 'Final up to', 'Windows ending before this (plus grace) no longer change')}
          ${stat('stat-late', 'Late events', 'Events that arrived after their window had closed')}
          ${stat('stat-applied', 'Applied now', 'Events applied per second by the analytics group, from the live stream')}
        </dl>
        <p class="note" data-testid="status-note">Lag: records in Kafka not yet applied to Redis.</p>`;

/** The page, referring to the bundle of `version` (the assets' content hash). */
export function dashboardPage(version: string): string {
  const ranges = RANGES.map(([v, label]) => `<option value="${v}">${label}</option>`).join('');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="no-referrer" />
    <title>Tributary · Live analytics</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="dashboard/app.css?v=${version}" />
    <script type="module" src="dashboard/app.js?v=${version}"></script>
  </head>
  <body>
    <header class="topbar">
      <div class="brand">
        <span class="logo" aria-hidden="true"></span>
        <span class="name">Tributary</span><span class="subtitle">Live analytics</span>
      </div>
      <div class="controls">
        <label>Range <select id="${PAGE_IDS.range}">${ranges}</select></label>
        <label>Windows <select id="${PAGE_IDS.window}"><option value="tumbling">tumbling</option><option value="hopping">hopping</option></select></label>
        <span id="${PAGE_IDS.connection}" class="pill" data-state="idle" data-testid="connection">Not connected</span>
        <button id="${PAGE_IDS.keyButton}" type="button" class="button">API key</button>
      </div>
    </header>
    <div id="${PAGE_IDS.message}" class="message" role="status" hidden></div>
    <dialog id="${PAGE_IDS.keyDialog}">
      <form method="dialog">
        <h2>Query API key</h2>
        <p>A key with the <code>query</code> scope. It is kept in this browser only (local storage).
          For a local stack: <code>cat .tributary/dev-api-key</code>.</p>
        <p id="${PAGE_IDS.keyError}" class="dialog-error" role="alert" hidden></p>
        <input id="${PAGE_IDS.keyInput}" type="password" autocomplete="off" spellcheck="false" placeholder="dev_…" />
        <menu>
          <button value="cancel" class="button secondary">Cancel</button>
          <button value="save" class="button">Connect</button>
        </menu>
      </form>
    </dialog>
    <main>
      <section class="kpis">
        ${kpi('kpi-rate', 'Events / s', 'latest window')}
        ${kpi('kpi-events', 'Events', 'in range')}
        ${kpi('kpi-users', 'Unique users', 'in range')}
        ${kpi('kpi-revenue', 'Revenue', 'paid, in range')}
      </section>
      <section class="grid">
        ${card('chart-events', 'Events per second, by type', '', '<div class="chart" data-role="chart"></div>', 'wide')}
        ${card('chart-users', 'Unique users per window', '', '<div class="chart" data-role="chart"></div>')}
        ${card('chart-revenue', 'Revenue per window (major units)', '', '<div class="chart" data-role="chart"></div><ul class="totals" data-testid="revenue-totals"></ul>')}
        ${card('top-pages', 'Top pages', 'views in range', '<ol class="bars" data-testid="top-pages-list"></ol>')}
        ${card('consumers', 'Consumers', 'lag and health', CONSUMERS_BODY)}
      </section>
    </main>
    <footer class="footer"><span data-testid="updated">Waiting for data…</span><span data-testid="stream-count"></span></footer>
  </body>
</html>
`;
}
