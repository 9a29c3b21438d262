/**
 * Finds and loads a user's `tributary.config.{ts,mts,js,mjs}`: the path given (a file, or a folder
 * that holds one), else `TRIBUTARY_APP`, else the working directory. JavaScript is imported
 * natively; TypeScript through tsx, which maps `./x.js` imports onto `./x.ts` as `tsc` does (Node's
 * own type stripping does not). The default export is checked before anything runs.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCodes, TributaryError, isTributaryError } from '../lib/errors.js';
import { resolveApp, type App } from './app.js';

/** The file names looked for in a folder, in this order. */
export const CONFIG_FILES = [
  'tributary.config.ts',
  'tributary.config.mts',
  'tributary.config.js',
  'tributary.config.mjs',
] as const;

/** Where to look for the app. */
export interface LoadAppOptions {
  /** `--app`: a config file, or a folder with one. */
  readonly app?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

function notFound(message: string): TributaryError {
  return new TributaryError(ErrorCodes.APP_NOT_FOUND, message);
}

/**
 * The config file to load.
 *
 * @throws {@link TributaryError} `TRIBUTARY_APP_NOT_FOUND` saying where it looked.
 */
export function findAppFile(options: LoadAppOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const given = options.app ?? (options.env ?? process.env).TRIBUTARY_APP;
  const origin = options.app !== undefined ? '--app' : 'TRIBUTARY_APP';
  if (given !== undefined && given !== '') {
    const target = path.resolve(cwd, given);
    if (!existsSync(target)) throw notFound(`${origin} ${given}: no such file or folder`);
    if (statSync(target).isFile()) return target;
    const file = CONFIG_FILES.map((f) => path.join(target, f)).find((f) => existsSync(f));
    if (!file) throw notFound(`${origin} ${given}: the folder holds no ${CONFIG_FILES.join(', ')}`);
    return file;
  }
  const file = CONFIG_FILES.map((f) => path.join(cwd, f)).find((f) => existsSync(f));
  if (!file) {
    throw notFound(
      `no app: ${cwd} holds no tributary.config.ts (or .mts, .js, .mjs); ` +
        'pass --app <path>, set TRIBUTARY_APP, or create one with `tributary init <dir>`',
    );
  }
  return file;
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  if (/\.[mc]?ts$/.test(file)) {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/**
 * Loads, checks and resolves the app.
 *
 * @throws {@link TributaryError} `TRIBUTARY_APP_NOT_FOUND`, or `TRIBUTARY_APP_INVALID` naming the
 *   file and what is wrong (including an error the module threw while it was imported).
 */
export async function loadApp(options: LoadAppOptions = {}): Promise<App> {
  const file = findAppFile(options);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(file);
  } catch (err) {
    if (isTributaryError(err)) throw err;
    throw new TributaryError(ErrorCodes.APP_INVALID, `${file}: cannot load: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // tsx may wrap a module's exports once more under `default` when it compiles it as CommonJS.
  let definition = mod.default;
  if (definition && typeof definition === 'object' && 'default' in definition && !('name' in definition)) {
    definition = (definition as { default: unknown }).default;
  }
  if (definition === undefined) {
    throw new TributaryError(
      ErrorCodes.APP_INVALID,
      `${file}: has no default export; end it with \`export default defineApp({ ... })\``,
    );
  }
  return resolveApp(definition, file);
}
