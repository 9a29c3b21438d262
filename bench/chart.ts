/**
 * The report's chart, written as SVG by hand (no browser, no native renderer): throughput per
 * second on top, latency p50 (dashed) and p99 (solid) per second below, one colour per run.
 */
import type { TimelineSample } from './latency-recorder.js';

export interface ChartSeries {
  readonly name: string;
  readonly timeline: readonly TimelineSample[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const W = 900;
const PANEL_H = 240;
const M = { left: 80, right: 20, top: 40, gap: 60, bottom: 72 };

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** A "nice" upper bound and tick step for an axis from 0 to `max`. */
export function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

function fmt(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(n < 10 ? 2 : 0)}`;
}

interface Panel {
  readonly y0: number;
  readonly label: string;
  readonly max: number;
  readonly lines: { color: string; dashed: boolean; points: [number, number][] }[];
}

function panel(p: Panel, xMax: number): string {
  const plotW = W - M.left - M.right;
  const { top, step } = niceScale(p.max);
  const { top: xTop, step: xStep } = niceScale(xMax, 10);
  const x = (t: number) => M.left + (t / xTop) * plotW;
  const y = (v: number) => p.y0 + PANEL_H - (Math.min(v, top) / top) * PANEL_H;
  const out: string[] = [];
  out.push(
    `<rect x="${M.left}" y="${p.y0}" width="${plotW}" height="${PANEL_H}" fill="#fafafa" stroke="#ccc"/>`,
  );
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (let t = 0; t <= xTop + xStep / 2; t += xStep) {
    out.push(`<text x="${x(t)}" y="${p.y0 + PANEL_H + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(
    `<text transform="translate(18 ${p.y0 + PANEL_H / 2}) rotate(-90)" text-anchor="middle">${esc(p.label)}</text>`,
  );
  for (const line of p.lines) {
    if (line.points.length === 0) continue;
    const d = line.points.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    const dash = line.dashed ? ' stroke-dasharray="5 4"' : '';
    out.push(`<path d="${d.join(' ')}" fill="none" stroke="${line.color}" stroke-width="1.8"${dash}/>`);
  }
  return out.join('\n');
}

/** An SVG document charting `series` (seconds on the x axis, from the measurement start). */
export function renderChart(title: string, series: readonly ChartSeries[]): string {
  // Each sample covers [t, t+1): plot it at its middle.
  const at = (s: TimelineSample) => s.t + 0.5;
  const xMax = Math.max(1, ...series.flatMap((s) => s.timeline.map((p) => p.t + 1)));
  const maxOf = (f: (s: TimelineSample) => number) =>
    Math.max(0, ...series.flatMap((s) => s.timeline.map(f)));
  const throughput: Panel = {
    y0: M.top,
    label: 'events/s',
    max: maxOf((s) => s.eventsPerSecond),
    lines: series.map((s, i) => ({
      color: COLORS[i % COLORS.length]!,
      dashed: false,
      points: s.timeline.map((p) => [at(p), p.eventsPerSecond] as [number, number]),
    })),
  };
  const latency: Panel = {
    y0: M.top + PANEL_H + M.gap,
    label: 'latency ms (p99 solid, p50 dashed)',
    max: maxOf((s) => s.p99),
    lines: series.flatMap((s, i) => {
      const withData = s.timeline.filter((p) => p.eventsPerSecond > 0);
      const color = COLORS[i % COLORS.length]!;
      return [
        { color, dashed: false, points: withData.map((p) => [at(p), p.p99] as [number, number]) },
        { color, dashed: true, points: withData.map((p) => [at(p), p.p50] as [number, number]) },
      ];
    }),
  };
  const height = M.top + 2 * PANEL_H + M.gap + M.bottom;
  const legend = series
    .map(
      (s, i) =>
        `<rect x="${M.left + i * 190}" y="${height - 18}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>` +
        `<text x="${M.left + i * 190 + 18}" y="${height - 8}">${esc(s.name)}</text>`,
    )
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    panel(throughput, xMax),
    panel(latency, xMax),
    `<text x="${W / 2}" y="${M.top + 2 * PANEL_H + M.gap + 32}" text-anchor="middle">seconds since the measurement started</text>`,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
