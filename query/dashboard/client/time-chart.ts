/**
 * A time-series chart on uPlot (bundled at build time) in the page's dark theme: one x axis of
 * window starts (24-hour clock), one line or bar series per label. Series come and go as the data
 * does (a new event type, a new currency): the chart is rebuilt when its set of labels changes,
 * and only its data is replaced otherwise. The legend shows the latest window with data unless
 * the cursor points at another. It follows its container's size.
 */
import uPlot from 'uplot';
import { formatClock } from './format.js';

export interface ChartSeries {
  readonly label: string;
  readonly values: readonly (number | null)[];
}

export interface TimeChartOptions {
  /** `line` (default) or `bars` (one series). */
  readonly kind?: 'line' | 'bars';
  /** Formats a y value for the axis and the legend. */
  readonly format: (value: number) => string;
  /** Colour of a series by label; a palette is used for labels it does not know. */
  readonly colorOf?: (label: string, index: number) => string;
  readonly height?: number;
}

/** A palette readable on the dark background, in order of use. */
export const PALETTE = [
  '#4f8cff',
  '#2fd4a7',
  '#ffb547',
  '#ff6b8b',
  '#b58cff',
  '#4dd0e1',
  '#c6e06a',
  '#ff8a4c',
] as const;

const AXIS = {
  stroke: '#8b95a7',
  grid: { stroke: 'rgba(148, 163, 184, 0.10)', width: 1 },
  ticks: { stroke: 'rgba(148, 163, 184, 0.18)', width: 1 },
  font: '12px Inter, system-ui, sans-serif',
};

/** `rgb(a)` of a `#rrggbb` colour with alpha. */
function alpha(hex: string, a: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

export class TimeChart {
  private plot: uPlot | undefined;
  private labels = '';
  private readonly resize: ResizeObserver;
  private readonly empty: HTMLElement;

  constructor(
    private readonly container: HTMLElement,
    private readonly options: TimeChartOptions,
  ) {
    this.empty = document.createElement('div');
    this.empty.className = 'chart-empty';
    this.empty.textContent = 'No data in this range yet';
    container.append(this.empty);
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.resize.observe(container);
  }

  /** Shows `series` over the window starts `xs` (epoch ms). */
  set(xs: readonly number[], series: readonly ChartSeries[]): void {
    const data: uPlot.AlignedData = [
      xs.map((x) => x / 1000),
      ...series.map((s) => s.values.map((v) => v ?? null) as (number | null)[]),
    ];
    this.empty.hidden = xs.length > 0 && series.length > 0;
    const labels = series.map((s) => s.label).join('\u0000');
    if (!this.plot || labels !== this.labels) {
      this.plot?.destroy();
      this.labels = labels;
      this.plot = new uPlot(this.opts(series), data, this.container);
    } else {
      this.plot.setData(data);
    }
    this.showLatest(this.plot);
  }

  /** Points the legend at the latest window with data while the cursor is not on the chart. */
  private showLatest(plot: uPlot): void {
    if (plot.cursor.idx != null) return;
    const [xs, ...ys] = plot.data;
    let idx = xs.length - 1;
    while (idx > 0 && ys.every((y) => !y[idx])) idx--;
    if (idx >= 0) plot.setLegend({ idx }, false);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(200, this.container.clientWidth), height: this.options.height ?? 240 };
  }

  private opts(series: readonly ChartSeries[]): uPlot.Options {
    const { format, kind = 'line' } = this.options;
    const colorOf = this.options.colorOf ?? ((_: string, i: number) => PALETTE[i % PALETTE.length]!);
    const bars = kind === 'bars' ? uPlot.paths.bars!({ size: [0.7, 48], gap: 2 }) : undefined;
    return {
      ...this.size(),
      padding: [12, 8, 0, 0],
      cursor: { points: { size: 7 }, drag: { x: false, y: false } },
      legend: { live: true },
      hooks: { setCursor: [(u) => this.showLatest(u)] },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        {
          ...AXIS,
          space: 70,
          // Seconds only when ticks are less than a minute apart.
          values: (_u, ticks) => {
            const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 60;
            return ticks.map((t) => formatClock(t * 1000, step < 60));
          },
        },
        { ...AXIS, size: 64, values: (_u, ticks) => ticks.map((t) => format(t)) },
      ],
      series: [
        { label: 'Window', value: (_u, v) => (v == null ? '–' : formatClock(v * 1000, true)) },
        ...series.map((s, i): uPlot.Series => {
          const color = colorOf(s.label, i);
          return {
            label: s.label,
            stroke: color,
            width: kind === 'bars' ? 0 : 2,
            fill: alpha(color, kind === 'bars' ? 0.75 : 0.08),
            points: { show: false },
            spanGaps: false,
            value: (_u, v) => (v === null || v === undefined ? '–' : format(v)),
            ...(bars ? { paths: bars } : {}),
          };
        }),
      ],
    };
  }
}
