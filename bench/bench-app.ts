/**
 * The app the bench drives: the shop example (its events are what the scenarios generate and pad
 * to `--size`, its projections what they consume into). Loaded from the repository's
 * `examples/shop` by the bench and by its child processes alike.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { App } from '../app/app.js';
import { loadApp } from '../app/load-app.js';

/** `examples/shop` of this checkout (walking up from this module: sources or `dist/`). */
export function shopAppDir(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'examples', 'shop');
    if (existsSync(path.join(candidate, 'tributary.config.ts'))) return candidate;
    if (path.dirname(dir) === dir)
      throw new Error('the bench needs examples/shop of the Tributary repository');
  }
}

let loaded: Promise<App> | undefined;

/** The shop app, loaded once per process. */
export function benchApp(): Promise<App> {
  return (loaded ??= loadApp({ app: shopAppDir() }));
}
