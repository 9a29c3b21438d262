/**
 * The dashboard's built assets (`app.js`, `app.css` and their source maps), made by
 * query/dashboard/build.ts into `dist/dashboard` at build time. They are read once into memory
 * with a content hash for ETags; if they were not built yet, the routes say so (503) instead of
 * serving a broken page, and look again on the next request.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this module with a package.json. */
export function packageRoot(): string {
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no package.json above ${start}`);
}

/** Where `npm run build` puts the dashboard bundle. */
export const DASHBOARD_ASSETS_DIR = path.join(packageRoot(), 'dist', 'dashboard');

/** The files served under `/dashboard/`, with their content types. */
export const ASSET_TYPES: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'app.css.map': 'application/json; charset=utf-8',
};

/** One asset in memory. */
export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  /** Strong ETag from the content hash. */
  readonly etag: string;
}

/** The loaded bundle: every file of {@link ASSET_TYPES} that exists, and a short hash of `app.js`/`app.css`. */
export interface AssetBundle {
  readonly files: ReadonlyMap<string, Asset>;
  /** Changes whenever the JS or CSS changes; appended to their URLs in the page to bust caches. */
  readonly version: string;
}

/** Loads the bundle from `dir`, or null when `app.js` or `app.css` is missing (not built). */
export async function loadAssets(dir: string): Promise<AssetBundle | null> {
  const files = new Map<string, Asset>();
  for (const [name, type] of Object.entries(ASSET_TYPES)) {
    let body: Buffer;
    try {
      body = await readFile(path.join(dir, name));
    } catch {
      continue;
    }
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16);
    files.set(name, { body, type, etag: `"${hash}"` });
  }
  const js = files.get('app.js');
  const css = files.get('app.css');
  if (!js || !css) return null;
  return { files, version: `${js.etag.slice(1, 9)}${css.etag.slice(1, 9)}` };
}
