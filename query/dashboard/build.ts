/**
 * Bundles the dashboard's browser code (query/dashboard/client) and its chart library (uPlot) with
 * esbuild into `app.js` and `app.css`, which {@link registerDashboard} serves. Run at build time
 * (`npm run build` → `npm run build:dashboard`), never at runtime: the page fetches nothing but
 * its own assets and the query API. `tsx query/dashboard/build.ts [outdir]`; default `dist/dashboard`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildResult, type Metafile } from 'esbuild';
import { DASHBOARD_ASSETS_DIR, packageRoot } from './assets.js';

export interface DashboardBuildOptions {
  /** Where to write `app.js`, `app.css` and their source maps. */
  readonly outdir: string;
  /** Minify (default true). */
  readonly minify?: boolean;
}

/** Bundles the dashboard client into `options.outdir`; resolves with esbuild's metafile. */
export async function buildDashboard(options: DashboardBuildOptions): Promise<Metafile> {
  const result: BuildResult<{ metafile: true }> = await build({
    // From the source tree, also when this module runs compiled from dist/.
    entryPoints: { app: path.join(packageRoot(), 'query', 'dashboard', 'client', 'main.ts') },
    outdir: options.outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    minify: options.minify ?? true,
    sourcemap: 'linked',
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });
  return result.metafile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = path.resolve(process.argv[2] ?? DASHBOARD_ASSETS_DIR);
  const metafile = await buildDashboard({ outdir });
  const sizes = Object.entries(metafile.outputs)
    .filter(([file]) => !file.endsWith('.map') && !file.endsWith('.txt'))
    .map(([file, out]) => `${path.basename(file)} ${(out.bytes / 1024).toFixed(1)} KiB`);
  process.stdout.write(`dashboard assets in ${path.relative(process.cwd(), outdir)}: ${sizes.join(', ')}\n`);
}
