/**
 * `npm run bench:update-readme`: regenerates the README's Performance section, between
 * `<!-- bench:start -->` and `<!-- bench:end -->`, from the newest report of each scenario in
 * `bench/results/` (pino's `update-bench-doc` habit: the README's figures are never typed by hand).
 * Without the markers it prints the section instead.
 *
 *   npx tsx bench/update-readme.ts [--results bench/results] [--readme README.md] [--print]
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ms, type BenchReport, type GoalResult, type RunResult } from './report.js';

export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

interface Latest {
  readonly report: BenchReport;
  readonly file: string;
}

/** The newest report per kind (`produce`, `consume`, `e2e`, `e2e-max`), by file name (timestamps sort). */
export async function latestReports(dir: string): Promise<Map<string, Latest>> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  const latest = new Map<string, Latest>();
  for (const file of files) {
    const report = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as BenchReport;
    if (report.schema !== 'tributary-bench/1') continue;
    const kind = report.scenario === 'e2e' && report.runs[0]?.mode === 'max' ? 'e2e-max' : report.scenario;
    latest.set(kind, { report, file });
  }
  return latest;
}

const n = (v: number) => Math.round(v).toLocaleString('en-US');

function runRow(r: RunResult): string {
  const mode = r.mode === 'rate' ? `${n(r.targetRate ?? 0)}/s open loop` : 'max';
  const l = r.latency;
  return `| ${r.name} | ${mode} | ${n(r.throughput.eventsPerSecond)} | ${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p99)} | ${ms(l.p999)} | ${ms(l.max)} | ${r.latencyKind} |`;
}

/** The Markdown of the Performance section (without the markers). */
export function renderSection(latest: ReadonlyMap<string, Latest>, resultsDir: string): string {
  const order = ['produce', 'consume', 'e2e', 'e2e-max'];
  const found = order.map((k) => latest.get(k)).filter((x): x is Latest => x !== undefined);
  const lines = ['## Performance', ''];
  if (found.length === 0) {
    lines.push('No bench results yet: run `node bin/tributary.js bench <produce|consume|e2e>`.');
    return lines.join('\n');
  }
  const env = found[0]!.report.environment;
  lines.push(
    `Measured with \`tributary bench\` on ${env.cpu}, ${env.memoryGB} GB, Node ${env.node}, Kafka ${env.kafka}, ` +
      `Redis ${env.redis}: one broker, Redis and the bench on the same machine. Regenerated from ` +
      `\`${resultsDir}/\` by \`npm run bench:update-readme\`; each report (JSON, Markdown, chart) holds the exact command. ` +
      `1-minute load average when each run began: ${found.map(({ report }) => report.environment.loadAverage1m ?? '?').join(', ')} ` +
      '(on 2 cores, anything above 2 means other work competed with the bench).',
    '',
    '| run | mode | events/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | latency of |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const { report } of found) for (const r of report.runs) lines.push(runRow(r));
  const ratios = found.flatMap(({ report }) => report.ratios);
  if (ratios.length > 0) {
    lines.push('', 'References, measured in the same run on the same broker and Redis:', '');
    lines.push('| ours / reference | ours | reference | ratio |', '| --- | ---: | ---: | ---: |');
    for (const r of ratios) lines.push(`| ${r.name} | ${n(r.ours)} | ${n(r.reference)} | ${r.ratio} |`);
  }
  const goals: GoalResult[] = found.flatMap(({ report }) =>
    report.goals.filter((g) => g.status !== 'not measured'),
  );
  if (goals.length > 0) {
    lines.push('', 'Goals (measured, not asserted):', '', '| goal | measured | |', '| --- | ---: | --- |');
    for (const g of goals) {
      const value = g.unit === 'ms' ? ms(g.value!) : g.value!.toLocaleString('en-US');
      lines.push(`| ${g.goal} | ${value} ${g.unit} | ${g.status === 'met' ? 'met' : '**missed**'} |`);
    }
  }
  lines.push('', 'Reports:');
  for (const { report, file } of found) {
    const base = file.replace(/\.json$/, '');
    lines.push(
      `- ${report.scenario}${report.runs[0]?.mode === 'max' && report.scenario === 'e2e' ? ' (max)' : ''}: ` +
        `\`${report.command}\` — [report](${resultsDir}/${base}.md), [chart](${resultsDir}/${base}.svg)`,
    );
  }
  return lines.join('\n');
}

/** Replaces what lies between the markers; undefined when they are missing. */
export function replaceSection(readme: string, section: string): string | undefined {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) return undefined;
  return `${readme.slice(0, start + START.length)}\n${section}\n${readme.slice(end)}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      results: { type: 'string', default: 'bench/results' },
      readme: { type: 'string', default: 'README.md' },
      print: { type: 'boolean', default: false },
    },
  });
  const section = renderSection(await latestReports(values.results), values.results.replace(/\/+$/, ''));
  const readme = await readFile(values.readme, 'utf8').catch(() => '');
  const updated = values.print ? undefined : replaceSection(readme, section);
  if (updated === undefined) {
    if (!values.print)
      process.stderr.write(
        `${values.readme} has no ${START} … ${END} markers; printing the section instead\n`,
      );
    process.stdout.write(`${section}\n`);
    return;
  }
  await writeFile(values.readme, updated);
  process.stderr.write(`updated the Performance section of ${values.readme}\n`);
}

const self = fileURLToPath(import.meta.url).replace(/\.[jt]s$/, '');
if (process.argv[1] && path.resolve(process.argv[1]).replace(/\.[jt]s$/, '') === self) await main();
