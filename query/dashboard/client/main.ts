/**
 * The dashboard page's script. Data flow:
 *
 * 1. The API key comes from `#key=`/`?key=` or local storage, else the key dialog asks for it.
 * 2. `GET /stream` is read with fetch (sse-reader.ts) with the key in `X-API-Key`. Each live update
 *    of the analytics group marks the view stale; the view is then refetched at most every
 *    {@link LIVE_REFRESH_MS}. `reset` (updates were lost) refetches at once. Nothing is fetched
 *    while the tab is hidden (it catches up when shown), nor for a while after a 429.
 * 3. The view is the four analytics routes over the chosen range and window kind, fetched
 *    together: per-window series for the charts, the range's totals for the KPIs and top pages.
 *    They are also refetched every {@link PERIODIC_REFRESH_MS}, stream or not.
 * 4. `GET /dashboard/status` every {@link STATUS_REFRESH_MS}: the consumers panel.
 *
 * The charts come from uPlot, bundled with this file at build time.
 */
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import {
  ApiError,
  QueryApi,
  type CountsFields,
  type MetricAnswer,
  type RevenueFields,
  type TopPagesFields,
  type UniqueUsersFields,
  type WindowKind,
} from './api.js';
import { byId, find } from './dom.js';
import { formatCount, formatDuration, formatMoney, formatRate, formatTime, toMajor } from './format.js';
import { KeyStore } from './key-store.js';
import {
  CURRENCY_COLORS,
  EVENT_COLORS,
  currenciesByRevenue,
  renderConsumers,
  renderRevenue,
  renderTopPages,
  setKpi,
  setStat,
} from './panels.js';
import { SseReader, type SseState } from './sse-reader.js';
import { PALETTE, TimeChart } from './time-chart.js';

/**
 * Least time between two refetches driven by live updates: 4 requests per refetch, so a busy
 * stream costs a tab 120 requests a minute, well inside the query service's rate limit.
 */
const LIVE_REFRESH_MS = 2_000;
/** How long to hold back after the service answered 429 (rate limited). */
const RATE_LIMITED_PAUSE_MS = 15_000;
/** Refetch this often even when no update arrives (a stream behind a buffering proxy, idle data). */
const PERIODIC_REFRESH_MS = 15_000;
const STATUS_REFRESH_MS = 5_000;
/** Span over which the applied-events rate of the live stream is measured. */
const APPLIED_RATE_SPAN_MS = 10_000;
/** Pages listed. */
const TOP_PAGES = 10;
/** The order event types are drawn in (others follow by name). */
const EVENT_ORDER = Object.keys(EVENT_COLORS);

const RANGE_LABELS: Readonly<Record<string, string>> = {
  '15m': 'in the last 15 minutes',
  '1h': 'in the last hour',
  '6h': 'in the last 6 hours',
  '24h': 'in the last 24 hours',
};

interface View {
  readonly counts: MetricAnswer<CountsFields>;
  readonly users: MetricAnswer<UniqueUsersFields>;
  readonly revenue: MetricAnswer<RevenueFields>;
  readonly pages: MetricAnswer<TopPagesFields>;
}

/** Seconds of a window that have passed (event time ≈ now for live data), at least 1. */
function elapsedSeconds(w: { start: number; end: number; final: boolean }, now: number): number {
  const until = w.final ? w.end : Math.min(w.end, Math.max(now, w.start));
  return Math.max(1, (until - w.start) / 1000);
}

class Dashboard {
  private readonly keys = new KeyStore();
  private readonly api = new QueryApi(new URL('../', import.meta.url), () => this.keys.get());
  private stream: SseReader | undefined;
  private streamMessages = 0;
  /** Events per applied batch of the last {@link APPLIED_RATE_SPAN_MS}, from `batch` messages. */
  private readonly applied: { at: number; events: number }[] = [];
  private lastRefresh = 0;
  /** No refetch before this (epoch ms): set by a 429. */
  private pausedUntil = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<void> | undefined;
  private stale = false;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly rangeSelect = byId<HTMLSelectElement>('range');
  private readonly kindSelect = byId<HTMLSelectElement>('window');
  private readonly charts = {
    events: new TimeChart(find(byId('chart-events'), '[data-role="chart"]'), {
      format: (v) => formatRate(v),
      colorOf: (label, i) => EVENT_COLORS[label] ?? PALETTE[i % PALETTE.length]!,
      height: 260,
    }),
    users: new TimeChart(find(byId('chart-users'), '[data-role="chart"]'), {
      kind: 'bars',
      format: (v) => formatCount(v),
      colorOf: () => '#2fd4a7',
    }),
    revenue: new TimeChart(find(byId('chart-revenue'), '[data-role="chart"]'), {
      format: (v) => formatCount(v),
      colorOf: (label, i) => CURRENCY_COLORS[label] ?? PALETTE[i % PALETTE.length]!,
    }),
  };

  start(): void {
    this.restoreChoices();
    this.rangeSelect.addEventListener('change', () => this.choicesChanged());
    this.kindSelect.addEventListener('change', () => this.choicesChanged());
    byId('key-button').addEventListener('click', () => this.askForKey());
    window.addEventListener('hashchange', () => {
      if (!this.keys.takeFromLocation()) return;
      byId<HTMLDialogElement>('key-dialog').close('cancel');
      this.connect();
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && this.stale) this.requestRefresh(true);
    });
    const dialog = byId<HTMLDialogElement>('key-dialog');
    dialog.addEventListener('close', () => {
      if (dialog.returnValue !== 'save') return;
      this.keys.set(byId<HTMLInputElement>('key-input').value);
      this.connect();
    });
    if (this.keys.get()) this.connect();
    else this.askForKey();
  }

  /** Opens the key dialog, saying why when the last key was refused. */
  private askForKey(refusal?: string): void {
    const error = byId('key-error');
    error.hidden = refusal === undefined;
    error.textContent = refusal ?? '';
    const input = byId<HTMLInputElement>('key-input');
    input.value = this.keys.get() ?? '';
    const dialog = byId<HTMLDialogElement>('key-dialog');
    dialog.returnValue = '';
    if (!dialog.open) dialog.showModal();
    input.focus();
  }

  /** (Re)starts the stream and the refresh loops with the current key. */
  private connect(): void {
    this.stream?.close();
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.message(null);
    this.stream = new SseReader({
      url: this.api.url('stream'),
      headers: this.api.headers(),
      onMessage: (m) => {
        this.streamMessages++;
        find(document, '[data-testid="stream-count"]').textContent =
          `${formatCount(this.streamMessages)} live updates`;
        if (m.event === 'batch') this.countApplied(m.data);
        this.requestRefresh(m.event === 'reset');
      },
      onState: (s) => this.streamState(s),
    });
    this.stream.start();
    this.timers.push(setInterval(() => this.requestRefresh(true), PERIODIC_REFRESH_MS));
    this.timers.push(setInterval(() => void this.refreshStatus(), STATUS_REFRESH_MS));
    this.timers.push(setInterval(() => this.showAppliedRate(), 1_000));
    this.requestRefresh(true);
    void this.refreshStatus();
  }

  /** Notes the events of one applied batch (`{ type: 'batch', events, … }`). */
  private countApplied(data: string): void {
    try {
      const events = (JSON.parse(data) as { events?: unknown }).events;
      if (typeof events === 'number') this.applied.push({ at: Date.now(), events });
    } catch {
      // Not JSON: nothing to count.
    }
  }

  private showAppliedRate(): void {
    const since = Date.now() - APPLIED_RATE_SPAN_MS;
    while (this.applied.length > 0 && this.applied[0]!.at < since) this.applied.shift();
    const events = this.applied.reduce((sum, b) => sum + b.events, 0);
    setStat('stat-applied', `${formatRate(events / (APPLIED_RATE_SPAN_MS / 1000))} events/s`);
  }

  private streamState(state: SseState): void {
    const pill = byId('connection');
    pill.dataset.state = state.kind;
    switch (state.kind) {
      case 'connecting':
        pill.textContent = 'Connecting…';
        break;
      case 'open':
        pill.textContent = 'Live';
        pill.title = 'Receiving live window updates';
        break;
      case 'retrying':
        pill.textContent = `Reconnecting in ${Math.round(state.inMs / 1000)} s`;
        pill.title = state.reason;
        break;
      case 'refused':
        pill.textContent = 'Key refused';
        this.refused(state.reason);
        break;
      case 'closed':
        pill.textContent = 'Not connected';
        break;
    }
  }

  private refused(reason: string): void {
    this.stream?.close();
    for (const t of this.timers.splice(0)) clearInterval(t);
    byId('connection').dataset.state = 'refused';
    byId('connection').textContent = 'Key refused';
    const text = `The API key was refused: ${reason}`;
    this.message(text, 'error');
    this.askForKey(text);
  }

  /** Refetches now (`now`) or once {@link LIVE_REFRESH_MS} has passed since the last one. */
  private requestRefresh(now = false): void {
    this.stale = true;
    if (document.hidden) return; // visibilitychange asks again
    if (this.refreshTimer !== undefined) {
      if (!now) return;
      clearTimeout(this.refreshTimer);
    }
    const earliest = Math.max(this.pausedUntil, now ? 0 : this.lastRefresh + LIVE_REFRESH_MS);
    const wait = Math.max(0, earliest - Date.now());
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh();
    }, wait);
  }

  private async refresh(): Promise<void> {
    if (this.refreshing) return; // the one in flight re-runs if marked stale meanwhile
    this.stale = false;
    this.lastRefresh = Date.now();
    const range = this.rangeSelect.value;
    const kind = this.kindSelect.value as WindowKind;
    this.refreshing = (async () => {
      try {
        const [counts, users, revenue, pages] = await Promise.all([
          this.api.metric<CountsFields>('counts', range, kind),
          this.api.metric<UniqueUsersFields>('unique-users', range, kind),
          this.api.metric<RevenueFields>('revenue', range, kind),
          this.api.metric<TopPagesFields>('top-pages', range, kind, { limit: TOP_PAGES }),
        ]);
        this.render({ counts, users, revenue, pages }, range);
        this.message(null);
      } catch (err) {
        this.failed(err);
      }
    })();
    await this.refreshing;
    this.refreshing = undefined;
    if (this.stale) this.requestRefresh();
  }

  private async refreshStatus(): Promise<void> {
    if (document.hidden) return;
    try {
      const status = await this.api.status();
      renderConsumers(status);
      const a = status.analytics;
      if (a) {
        this.kindLabel('tumbling', `tumbling ${formatDuration(a.windows.tumbling.sizeMs)}`);
        this.kindLabel(
          'hopping',
          `hopping ${formatDuration(a.windows.hopping.sizeMs)} / ${formatDuration(a.windows.hopping.advanceMs)}`,
        );
      }
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    if (err instanceof ApiError && err.refused) return this.refused(err.message);
    if (err instanceof ApiError && err.status === 429) this.pausedUntil = Date.now() + RATE_LIMITED_PAUSE_MS;
    this.message(err instanceof Error ? err.message : String(err), 'error');
  }

  private render(view: View, range: string): void {
    const now = Date.now();
    const rangeLabel = RANGE_LABELS[range] ?? `in the last ${range}`;
    const { counts, users, revenue, pages } = view;
    const windowLabel = counts.window
      ? `${counts.window.kind} ${formatDuration(counts.window.sizeMs)} windows`
      : 'no windows yet';
    for (const id of ['chart-events', 'chart-users', 'chart-revenue']) {
      find(byId(id), '[data-role="hint"]').textContent = windowLabel;
    }

    // Events per second, per type: each window's count over the seconds it covers so far.
    const xs = counts.windows.map((w) => w.start);
    const types = [...new Set(counts.windows.flatMap((w) => Object.keys(w.events)))].sort(
      (a, b) => (EVENT_ORDER.indexOf(a) + 1 || 99) - (EVENT_ORDER.indexOf(b) + 1 || 99) || (a < b ? -1 : 1),
    );
    this.charts.events.set(
      xs,
      types.map((t) => ({
        label: t,
        values: counts.windows.map((w) => (w.events[t] ?? 0) / elapsedSeconds(w, now)),
      })),
    );
    this.charts.users.set(
      users.windows.map((w) => w.start),
      [{ label: 'Unique users', values: users.windows.map((w) => w.uniqueUsers) }],
    );
    const currencies = currenciesByRevenue(revenue.total?.revenue ?? {});
    this.charts.revenue.set(
      revenue.windows.map((w) => w.start),
      currencies.map((c) => ({
        label: c,
        values: revenue.windows.map((w) => toMajor(w.revenue[c] ?? 0, c)),
      })),
    );

    // The latest window with events: the rate now.
    const latest = [...counts.windows].reverse().find((w) => w.totalEvents > 0);
    setKpi(
      'kpi-rate',
      latest ? formatRate(latest.totalEvents / elapsedSeconds(latest, now)) : '–',
      latest
        ? `${latest.final ? 'final' : 'open'} window from ${formatTime(latest.start)}`
        : 'no events in this range',
    );
    const total = counts.total;
    setKpi(
      'kpi-events',
      total ? formatCount(total.totalEvents) : '–',
      total ? `${formatCount(total.orders.placed)} orders placed ${rangeLabel}` : rangeLabel,
    );
    setKpi('kpi-users', users.total ? formatCount(users.total.uniqueUsers) : '–', `${rangeLabel} (±0.8%)`);
    renderRevenue(revenue, rangeLabel);
    renderTopPages(pages);
    find(byId('top-pages'), '[data-role="hint"]').textContent = `views ${rangeLabel}`;
    const money = revenue.total
      ? currencies.map((c) => formatMoney(revenue.total!.revenue[c]!, c)).join(' · ')
      : '';
    document.title = total
      ? `${formatCount(total.totalEvents)} events${money ? ` · ${money}` : ''} · Tributary`
      : 'Tributary · Live analytics';
    find(document, '[data-testid="updated"]').textContent = `Updated ${formatTime(now)}`;
  }

  private kindLabel(kind: WindowKind, label: string): void {
    const option = this.kindSelect.querySelector<HTMLOptionElement>(`option[value="${kind}"]`);
    if (option && option.textContent !== label) option.textContent = label;
  }

  private restoreChoices(): void {
    try {
      const saved = JSON.parse(localStorage.getItem('tributary.dashboard.view') ?? '{}') as {
        range?: string;
        kind?: string;
      };
      if (saved.range && RANGE_LABELS[saved.range]) this.rangeSelect.value = saved.range;
      if (saved.kind === 'tumbling' || saved.kind === 'hopping') this.kindSelect.value = saved.kind;
    } catch {
      // Nothing saved, or storage disabled.
    }
  }

  private choicesChanged(): void {
    try {
      localStorage.setItem(
        'tributary.dashboard.view',
        JSON.stringify({ range: this.rangeSelect.value, kind: this.kindSelect.value }),
      );
    } catch {
      // Storage disabled: the choice lasts as long as the page.
    }
    this.requestRefresh(true);
  }

  /** Shows (or, with null, hides) the message bar under the header. */
  private message(text: string | null, kind: 'info' | 'error' = 'info'): void {
    const bar = byId('message');
    bar.hidden = text === null;
    bar.textContent = text ?? '';
    bar.dataset.kind = kind;
  }
}

new Dashboard().start();
