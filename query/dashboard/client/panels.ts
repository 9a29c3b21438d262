/**
 * The page's non-chart panels: the KPI cards, top pages as bars, the revenue totals per currency,
 * and the consumers table (lag and health from `GET /dashboard/status`).
 */
import type { DashboardStatusBody, MetricAnswer, RevenueFields, TopPagesFields } from './api.js';
import { find, h } from './dom.js';
import {
  formatCompact,
  formatCount,
  formatDuration,
  formatMoney,
  formatTime,
  toMajor,
  type MinorUnits,
} from './format.js';

/** Colours of the event types, so a type keeps its colour whatever else is in the range. */
export const EVENT_COLORS: Readonly<Record<string, string>> = {
  PageViewed: '#4f8cff',
  UserCreated: '#2fd4a7',
  UserUpdated: '#4dd0e1',
  UserDeleted: '#8b95a7',
  OrderPlaced: '#ffb547',
  OrderPaid: '#b58cff',
  OrderCancelled: '#ff6b8b',
};

/** Colours of the usual currencies. */
export const CURRENCY_COLORS: Readonly<Record<string, string>> = {
  EUR: '#4f8cff',
  USD: '#2fd4a7',
  GBP: '#ffb547',
  JPY: '#ff6b8b',
  CHF: '#b58cff',
};

/** Sets one KPI card: its big value and the line under it. */
export function setKpi(id: string, value: string | Node[], sub?: string): void {
  const card = find(document, `[data-testid="${id}"]`);
  const valueEl = find(card, `[data-testid="${id}-value"]`);
  if (typeof value === 'string') valueEl.textContent = value;
  else valueEl.replaceChildren(...value);
  if (sub !== undefined) find(card, `[data-testid="${id}-sub"]`).textContent = sub;
}

/** Currencies by revenue in major units, largest first (EUR, USD and GBP compare well enough). */
export function currenciesByRevenue(revenue: Readonly<Record<string, MinorUnits>>): string[] {
  return Object.keys(revenue).sort(
    (a, b) => toMajor(revenue[b]!, b) - toMajor(revenue[a]!, a) || (a < b ? -1 : 1),
  );
}

/** The revenue KPI (largest currency, the others counted) and the per-currency list of the revenue card. */
export function renderRevenue(answer: MetricAnswer<RevenueFields>, rangeLabel: string): void {
  const revenue = answer.total?.revenue ?? {};
  const currencies = currenciesByRevenue(revenue);
  const top = currencies[0];
  setKpi(
    'kpi-revenue',
    top === undefined ? '–' : [h('span', { text: formatMoney(revenue[top]!, top, { compact: true }) })],
    top === undefined
      ? `no payments ${rangeLabel}`
      : `${formatCount(answer.total?.ordersPaid ?? 0)} orders paid ${rangeLabel}` +
          (currencies.length > 1 ? ` · ${currencies.length} currencies` : ''),
  );
  const list = find(document, '[data-testid="revenue-totals"]');
  list.replaceChildren(
    ...currencies.map((c) => {
      const chip = h('span', { class: 'chip' });
      chip.style.background = CURRENCY_COLORS[c] ?? '#8b95a7';
      return h(
        'li',
        { testid: `revenue-total-${c}`, data: { currency: c, minor: String(revenue[c]) } },
        chip,
        h('span', { class: 'currency', text: c }),
        h('span', { class: 'amount', text: formatMoney(revenue[c]!, c) }),
      );
    }),
  );
}

/** Top pages of the range as horizontal bars, the widest being the most viewed. */
export function renderTopPages(answer: MetricAnswer<TopPagesFields>): void {
  const pages = answer.total?.topPages ?? [];
  const max = Math.max(1, ...pages.map((p) => p.views));
  const list = find(document, '[data-testid="top-pages-list"]');
  if (pages.length === 0) {
    list.replaceChildren(h('li', { class: 'empty', text: 'No page views in this range yet' }));
    return;
  }
  list.replaceChildren(
    ...pages.map((p, i) => {
      const bar = h('span', { class: 'bar' });
      bar.style.width = `${(100 * p.views) / max}%`;
      return h(
        'li',
        { testid: 'top-page', data: { path: p.path, views: String(p.views) }, title: p.path },
        h('span', { class: 'rank', text: String(i + 1) }),
        h('span', { class: 'track' }, bar, h('span', { class: 'path', text: p.path })),
        h('span', { class: 'views', text: formatCompact(p.views) }),
      );
    }),
  );
}

const HEALTH_LABEL: Readonly<Record<string, string>> = {
  ok: 'healthy',
  lagging: 'lagging',
  down: 'no consumers',
  unknown: 'unknown',
};

/** Per-partition lag as a row of small bars (a flat row when nothing is behind). */
function lagBars(partitions: DashboardStatusBody['projections'][number]['partitions']): HTMLElement {
  const max = Math.max(1, ...partitions.map((p) => p.lag ?? 0));
  const row = h('span', { class: 'lagbars' });
  for (const p of partitions) {
    const bar = h('span', {
      class: p.lag ? 'lagbar behind' : 'lagbar',
      title: `${p.topic}[${p.partition}]: ${p.lag === null ? 'lag unknown' : `${formatCount(p.lag)} behind`}, offset ${p.appliedOffset ?? '–'} of ${p.endOffset ?? '–'}`,
    });
    bar.style.height = `${Math.max(12, (100 * (p.lag ?? 0)) / max)}%`;
    row.append(bar);
  }
  return row;
}

/** The consumers table and the analytics line under it. */
export function renderConsumers(status: DashboardStatusBody): void {
  const table = find(document, '[data-testid="consumers-table"]');
  const body = find(table, 'tbody');
  if (status.projections.length === 0) {
    body.replaceChildren(h('tr', {}, h('td', { class: 'empty', text: 'No consumer group has run yet' })));
    find<HTMLTableCellElement>(body, 'td').colSpan = 5;
  } else {
    body.replaceChildren(
      ...status.projections.map((p) =>
        h(
          'tr',
          { testid: `consumer-${p.name}`, data: { health: p.health } },
          h(
            'td',
            { title: p.groupId },
            h('span', { class: 'group', text: p.name }),
            h('span', { class: 'version', text: p.version }),
          ),
          h(
            'td',
            {},
            h('span', {
              class: `badge ${p.health}`,
              text: HEALTH_LABEL[p.health] ?? p.health,
              title: `group ${p.groupState ?? 'unknown'}, ${p.members ?? '?'} member(s)`,
              testid: `consumer-${p.name}-health`,
            }),
          ),
          h('td', { class: 'num', text: formatCount(p.records), testid: `consumer-${p.name}-records` }),
          h('td', {
            class: 'num',
            text: p.lag === null ? '–' : formatCount(p.lag),
            testid: `consumer-${p.name}-lag`,
          }),
          h('td', {}, lagBars(p.partitions)),
        ),
      ),
    );
  }
  const card = find(document, '[data-testid="consumers"]');
  const hint = find(card, '[data-role="hint"]');
  hint.textContent = status.kafka.ok ? 'lag and health' : `Kafka unreachable: ${status.kafka.error ?? ''}`;
  hint.classList.toggle('warn', !status.kafka.ok);
  find(document, '[data-testid="status-note"]').textContent =
    `Lag: records in Kafka not yet applied to Redis (behind the offset fence). ` +
    `Groups are lagging beyond ${formatCount(status.lagThreshold)}. Checked ${formatTime(status.at)}.`;
  const a = status.analytics;
  setStat(
    'stat-windows',
    a
      ? `${formatDuration(a.windows.tumbling.sizeMs)} · ${formatDuration(a.windows.hopping.sizeMs)} / ${formatDuration(a.windows.hopping.advanceMs)}`
      : 'not running',
  );
  setStat('stat-final', a?.frontier == null ? '–' : formatTime(a.frontier));
  setStat('stat-late', a ? formatCount(a.late.tumbling) : '–');
}

/** Sets one of the small figures under the consumers table. */
export function setStat(testid: string, value: string): void {
  find(document, `[data-testid="${testid}"]`).textContent = value;
}
