/** Tributary's own package.json, found from this module (sources or `dist/`). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: { readonly name: string; readonly version: string } | undefined;

function packageJson(): { readonly name: string; readonly version: string } {
  if (cached) return cached;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tributary' && typeof pkg.version === 'string') {
        return (cached = { name: pkg.name, version: pkg.version });
      }
    }
    if (path.dirname(dir) === dir) throw new Error("cannot find tributary's package.json");
  }
}

/** The version of this Tributary. */
export function packageVersion(): string {
  return packageJson().version;
}
