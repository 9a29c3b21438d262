/**
 * What a bench run leaves behind: `<out>/<timestamp>-<scenario>.json` (the data, schema
 * `tributary-bench/1`), `.md` (the same for people) and `.svg` (throughput and latency over
 * time). Goals are measured and reported as met or missed, never asserted.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EngineName } from '../lib/engine.js';
import { renderChart } from './chart.js';
import type { ReferenceResult } from './kafka-perf-tools.js';
import type { LatencySummary, TimelineSample } from './latency-recorder.js';

export const SCENARIOS = ['produce', 'consume', 'e2e'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** One measured run of our code (one engine, one projection set, one mode). */
export interface RunResult {
  readonly name: string;
  readonly engine: EngineName;
  readonly mode: 'rate' | 'max';
  readonly targetRate?: number;
  /** Events completed inside the measurement window. */
  readonly events: number;
  readonly seconds: number;
  readonly throughput: { readonly eventsPerSecond: number; readonly megabytesPerSecond: number };
  /** What the latency measures (e.g. "intended send → broker ack"). */
  readonly latencyKind: string;
  readonly latency: LatencySummary;
  readonly timeline: readonly TimelineSample[];
  readonly memory?: { readonly rssStartMB: number; readonly rssMaxMB: number };
  readonly details: Readonly<Record<string, number | string | boolean>>;
}

export interface Ratio {
  readonly name: string;
  readonly ours: number;
  readonly reference: number;
  readonly ratio: number;
}

export interface GoalResult {
  readonly id: string;
  readonly goal: string;
  readonly value: number | null;
  readonly unit: string;
  readonly status: 'met' | 'missed' | 'not measured';
  readonly note?: string;
}

export interface BenchReport {
  readonly schema: 'tributary-bench/1';
  readonly scenario: Scenario;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly command: string;
  readonly environment: Readonly<Record<string, string | number>>;
  readonly options: Readonly<Record<string, unknown>>;
  readonly runs: readonly RunResult[];
  readonly references: readonly ReferenceResult[];
  readonly ratios: readonly Ratio[];
  readonly goals: readonly GoalResult[];
  readonly notes: readonly string[];
}

/** `ours / reference`, rounded; a reference of 0 gives 0. */
export function ratio(name: string, ours: number, reference: number): Ratio {
  return { name, ours, reference, ratio: reference > 0 ? Number((ours / reference).toFixed(3)) : 0 };
}

function goal(
  id: string,
  text: string,
  value: number | undefined,
  unit: string,
  ok: (v: number) => boolean,
  note?: string,
): GoalResult {
  if (value === undefined)
    return { id, goal: text, value: null, unit, status: 'not measured', ...(note && { note }) };
  return { id, goal: text, value, unit, status: ok(value) ? 'met' : 'missed', ...(note && { note }) };
}

/** The project's performance goals that this report's runs measure. */
export function evaluateGoals(
  scenario: Scenario,
  runs: readonly RunResult[],
  ratios: readonly Ratio[],
): GoalResult[] {
  const goals: GoalResult[] = [];
  if (scenario === 'produce') {
    for (const r of ratios.filter((x) => x.name.startsWith('produce '))) {
      goals.push(goal(`produce-vs-java:${r.name}`, `${r.name} ≥ 0.5`, r.ratio, '× Java', (v) => v >= 0.5));
    }
  }
  if (scenario === 'consume') {
    const run = runs[0];
    const label = run ? `consumer RSS ≤ 300 MB (${run.name}, ${run.engine})` : 'consumer RSS ≤ 300 MB';
    goals.push(goal('consumer-rss', label, run?.memory?.rssMaxMB, 'MB', (v) => v <= 300));
  }
  if (scenario === 'e2e') {
    for (const run of runs) {
      if (run.mode === 'max') {
        const eps = run.throughput.eventsPerSecond;
        goals.push(
          goal(
            'e2e-throughput',
            'e2e ≥ 100,000 events/s sustained (2 cores)',
            eps,
            'events/s',
            (v) => v >= 100_000,
          ),
        );
      } else if (run.targetRate === 10_000) {
        const { p99, p999 } = run.latency;
        goals.push(goal('e2e-p99', 'e2e p99 ≤ 50 ms at 10,000 events/s', p99, 'ms', (v) => v <= 50));
        goals.push(goal('e2e-p999', 'e2e p99.9 ≤ 200 ms at 10,000 events/s', p999, 'ms', (v) => v <= 200));
      } else {
        const note = `ran at ${run.targetRate} events/s; the latency goal is stated at 10,000`;
        goals.push(goal('e2e-p99', 'e2e p99 ≤ 50 ms at 10,000 events/s', undefined, 'ms', () => false, note));
      }
    }
  }
  return goals;
}

const n = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: 1 });

/** A latency for people: 3 significant digits, at most 2 decimals (the JSON keeps µs). */
export function ms(v: number): string {
  if (v >= 100) return String(Math.round(v));
  return String(Number(v.toPrecision(3)));
}

/** The Markdown rendering of a report. */
export function renderMarkdown(report: BenchReport, chartFile: string): string {
  const lines: string[] = [];
  lines.push(`# Bench: ${report.scenario} (${report.startedAt})`, '');
  lines.push('```sh', report.command, '```', '');
  lines.push('| environment | |', '| --- | --- |');
  for (const [k, v] of Object.entries(report.environment)) lines.push(`| ${k} | ${v} |`);
  lines.push('', '## Runs', '');
  lines.push(
    '| run | mode | events | events/s | MB/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | latency of |',
  );
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of report.runs) {
    const mode = r.mode === 'rate' ? `rate ${n(r.targetRate ?? 0)}/s` : 'max';
    const l = r.latency;
    lines.push(
      `| ${r.name} | ${mode} | ${n(r.events)} | ${n(r.throughput.eventsPerSecond)} | ${r.throughput.megabytesPerSecond} | ` +
        `${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p99)} | ${ms(l.p999)} | ${ms(l.max)} | ${r.latencyKind} |`,
    );
  }
  for (const r of report.runs.filter((x) => typeof x.details.cpuMicrosPerEvent === 'number')) {
    const us = Number(r.details.cpuMicrosPerEvent);
    // A run over several processes (e2e) breaks its figure down as `<process>.cpuMicrosPerEvent`.
    const parts = Object.entries(r.details)
      .filter(([k]) => k.endsWith('.cpuMicrosPerEvent'))
      .map(([k, v]) => `${k.slice(0, -'.cpuMicrosPerEvent'.length)} ${String(v)}`);
    lines.push(
      '',
      `CPU (${r.name}): ${us} µs per event ${parts.length > 0 ? `over all its processes (${parts.join(', ')})` : 'of this process'}, ` +
        `i.e. about ${n(Math.round(1e6 / Math.max(us, 0.001)))} events/s per fully available core (broker and Redis not included).`,
    );
    const { brokerCpuMicrosPerEvent: broker, redisCpuMicrosPerEvent: redis } = r.details;
    if (broker !== undefined || redis !== undefined) {
      lines.push(
        '',
        `The local stack in the same window, whole processes (other clients' work included): ` +
          [
            broker !== undefined && `Kafka broker ${String(broker)} µs`,
            redis !== undefined && `Redis ${String(redis)} µs`,
          ]
            .filter(Boolean)
            .join(', ') +
          ' per event.',
      );
    }
    const groups = Object.keys(r.details)
      .filter((k) => k.endsWith('.inHandP50'))
      .map((k) => k.slice(0, -'.inHandP50'.length));
    if (groups.length > 0) {
      const d = (g: string, k: string) => ms(Number(r.details[`${g}.${k}`]));
      lines.push(
        '',
        `Where each group's latency goes (${r.name}), ms: until its runtime had the record in hand (producer, ` +
          'broker, fetch, waiting behind earlier batches), then building and applying its slice in Redis.',
        '',
        '| group | p99 | p99.9 | in hand p50 | in hand p99 | apply p50 | apply p99 |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...groups.map(
          (g) =>
            `| ${g} | ${d(g, 'p99')} | ${d(g, 'p999')} | ${d(g, 'inHandP50')} | ${d(g, 'inHandP99')} | ` +
            `${d(g, 'applyP50')} | ${d(g, 'applyP99')} |`,
        ),
      );
      if (typeof r.details.producerAckP50 === 'number') {
        lines.push(
          '',
          `Of that, intended send → broker ack: p50 ${ms(r.details.producerAckP50)}, p99 ${ms(Number(r.details.producerAckP99))} ms.`,
        );
      }
    }
  }
  for (const r of report.runs.filter((x) => x.memory)) {
    lines.push('', `RSS (${r.name}): ${r.memory!.rssStartMB} MB at start, ${r.memory!.rssMaxMB} MB at most.`);
  }
  if (report.references.length > 0) {
    lines.push('', '## References (same run, same broker / Redis)', '');
    lines.push('| reference | events/s | MB/s | summary |', '| --- | ---: | ---: | --- |');
    for (const ref of report.references) {
      lines.push(
        `| ${ref.name} | ${n(ref.eventsPerSecond)} | ${ref.megabytesPerSecond ?? ''} | ${ref.raw.replaceAll('\n', ' ').replaceAll('|', '\\|')} |`,
      );
    }
    lines.push('', '<details><summary>reference commands</summary>', '', '```sh');
    for (const ref of report.references) lines.push(ref.command);
    lines.push('```', '', '</details>');
  }
  if (report.ratios.length > 0) {
    lines.push('', '## Ratios (ours / reference)', '', '| ratio | ours | reference | ours / reference |');
    lines.push('| --- | ---: | ---: | ---: |');
    for (const r of report.ratios)
      lines.push(`| ${r.name} | ${n(r.ours)} | ${n(r.reference)} | ${r.ratio} |`);
  }
  if (report.goals.length > 0) {
    lines.push(
      '',
      '## Goals (measured, not asserted)',
      '',
      '| goal | measured | status |',
      '| --- | ---: | --- |',
    );
    for (const g of report.goals) {
      const v = g.value === null ? '—' : `${n(g.value)} ${g.unit}`;
      lines.push(`| ${g.goal} | ${v} | ${g.status}${g.note ? ` (${g.note})` : ''} |`);
    }
  }
  if (report.notes.length > 0) lines.push('', '## Notes', '', ...report.notes.map((x) => `- ${x}`));
  lines.push('', `![throughput and latency over time](${chartFile})`, '');
  return lines.join('\n');
}

/** `2026-01-31T12-00-00Z`: sortable, and safe in file names. */
export function fileStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-');
}

/** Writes the JSON, Markdown and SVG of `report` into `dir`; returns the JSON path. */
export async function writeReport(dir: string, report: BenchReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const mode = report.scenario === 'e2e' && report.runs[0]?.mode === 'max' ? '-max' : '';
  const base = path.join(dir, `${fileStamp(new Date(report.startedAt))}-${report.scenario}${mode}`);
  const chart = `${path.basename(base)}.svg`;
  const title = `tributary bench ${report.scenario} — ${report.runs.map((r) => r.name).join(', ')}`;
  const series = report.runs.map((r) => ({ name: r.name, timeline: r.timeline }));
  await writeFile(`${base}.svg`, renderChart(title, series));
  await writeFile(`${base}.md`, renderMarkdown(report, chart));
  await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  return `${base}.json`;
}
