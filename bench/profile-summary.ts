/**
 * Where the time goes in a `node --cpu-prof` profile: self time per function (and per package),
 * optionally only between two marks of the monotonic clock, e.g. the consume phase of a bench
 * report (`details.profileWindowFromUs` / `profileWindowToUs`).
 *
 *   node --cpu-prof --cpu-prof-dir=prof bin/tributary.js bench consume --events 200000
 *   npx tsx bench/profile-summary.ts prof/CPU.*.cpuprofile [--report bench/results/…-consume.json] [--top 25]
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly ms: number;
  readonly percent: number;
}

/** A script URL, shortened (`kafkajs/src/…:12`, `consumers/…:3`), and the package it belongs to. */
function locate(url: string, line: number, name: string): { where: string; pkg: string } {
  if (name === '(garbage collector)') return { where: '', pkg: '(gc)' };
  if (name === '(idle)' || name === '(program)') return { where: '', pkg: name };
  if (!url) return { where: '(native)', pkg: '(native)' };
  if (url.startsWith('node:')) return { where: `${url}:${line + 1}`, pkg: 'node' };
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('node_modules/');
  if (nm < 0) return { where: `${path.relative(process.cwd(), file)}:${line + 1}`, pkg: 'tributary' };
  const rest = file.slice(nm + 'node_modules/'.length);
  const parts = rest.split('/');
  const pkg = rest.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  return { where: `${rest}:${line + 1}`, pkg };
}

/** Self time by function and by package, in the window [fromUs, toUs] of the profile's clock. */
export function selfTimes(
  profile: CpuProfile,
  window: { fromUs?: number; toUs?: number } = {},
): { functions: SelfTime[]; packages: SelfTime[]; totalMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const pkg = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if ((window.fromUs !== undefined && t < window.fromUs) || (window.toUs !== undefined && t > window.toUs))
      continue;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const { where, pkg: p } = locate(url, lineNumber, name);
    const key = `${name}@${where}`;
    const entry = fn.get(key) ?? { name, where, us: 0 };
    entry.us += dt;
    fn.set(key, entry);
    pkg.set(p, (pkg.get(p) ?? 0) + dt);
    total += dt;
  }
  const pct = (us: number) => Number(((100 * us) / Math.max(total, 1)).toFixed(1));
  const functions = [...fn.values()]
    .sort((a, b) => b.us - a.us)
    .map((e) => ({ name: e.name, where: e.where, ms: Math.round(e.us / 1000), percent: pct(e.us) }));
  const packages = [...pkg]
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => ({ name, where: '', ms: Math.round(us / 1000), percent: pct(us) }));
  return { functions, packages, totalMs: Math.round(total / 1000) };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { report: { type: 'string' }, top: { type: 'string', default: '25' } },
  });
  const file = positionals[0];
  if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [--report <bench json>] [--top N]');
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  let window: { fromUs?: number; toUs?: number } = {};
  if (values.report) {
    const report = JSON.parse(await readFile(values.report, 'utf8')) as {
      runs: { details: { profileWindowFromUs?: number; profileWindowToUs?: number } }[];
    };
    const d = report.runs[0]?.details ?? {};
    window = { fromUs: d.profileWindowFromUs, toUs: d.profileWindowToUs };
  }
  const { functions, packages, totalMs } = selfTimes(profile, window);
  const top = Number(values.top);
  const out: string[] = [
    `${totalMs} ms of samples${values.report ? ' in the measured window' : ''}`,
    '',
    'self time by package:',
  ];
  for (const p of packages.slice(0, 12))
    out.push(`  ${String(p.percent).padStart(5)} %  ${String(p.ms).padStart(7)} ms  ${p.name}`);
  out.push('', `top ${top} functions by self time:`);
  for (const f of functions.slice(0, top))
    out.push(`  ${String(f.percent).padStart(5)} %  ${String(f.ms).padStart(7)} ms  ${f.name}  ${f.where}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

const self = fileURLToPath(import.meta.url).replace(/\.[jt]s$/, '');
if (process.argv[1] && path.resolve(process.argv[1]).replace(/\.[jt]s$/, '') === self) await main();
