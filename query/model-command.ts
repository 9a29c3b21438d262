/**
 * `tributary query <model> <reader> [--param value …]`: runs one of the app's readers directly
 * against Redis (no HTTP) and prints its answer as tables, or the JSON the HTTP API answers with
 * `--json`. Parameters are checked against the reader's schema (required, types, no unknown ones)
 * and get its defaults, as the service's query-string validation does.
 */
import type { JsonSchema } from '../lib/http/openapi.js';
import type { ReadableModel, Reader } from '../lib/read-models/reader.js';
import { readerContext } from '../lib/read-models/reader.js';
import type { ReadModelSource } from '../lib/read-models/source.js';
import { formatPairs, formatTable, formatTime } from './table.js';

/** Thrown for a reader or parameter the command cannot run; the CLI prints its message. */
export class ModelCommandError extends Error {}

interface ParamSpec {
  readonly type: string;
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
}

function paramSpecs(reader: Reader<never>): { specs: Map<string, ParamSpec>; required: Set<string> } {
  const params = (reader.params ?? {}) as { properties?: Record<string, JsonSchema>; required?: string[] };
  const specs = new Map<string, ParamSpec>();
  for (const [name, schema] of Object.entries(params.properties ?? {})) {
    const type = Array.isArray(schema.type) ? String(schema.type[0]) : String(schema.type ?? 'string');
    specs.set(name, { ...(schema as object), type } as ParamSpec);
  }
  return { specs, required: new Set(params.required ?? []) };
}

/** The readers of `models` as `<model> <reader>` lines, for help and errors. */
export function listReaders(models: readonly ReadableModel[]): string[] {
  return models.flatMap((m) =>
    Object.entries(m.readers ?? {}).map(([name, r]) => `${m.name} ${name}: ${r.description}`),
  );
}

/** Finds the reader, or says which there are. */
export function findReader(
  models: readonly ReadableModel[],
  model: string | undefined,
  reader: string | undefined,
): Reader<never> {
  const m = models.find((x) => x.name === model);
  const available = listReaders(models);
  const known = available.length > 0 ? `; readers: ${available.map((l) => l.split(':')[0]).join(', ')}` : '';
  if (!m) throw new ModelCommandError(`no model ${JSON.stringify(model ?? '')}${known}`);
  const r = reader === undefined ? undefined : m.readers?.[reader];
  if (!r) {
    const names = Object.keys(m.readers ?? {});
    throw new ModelCommandError(
      `${reader === undefined ? 'which reader' : `no reader ${JSON.stringify(reader)}`} of ${m.name}? ` +
        (names.length > 0 ? `one of ${names.join(', ')}` : 'it declares none'),
    );
  }
  return r;
}

/**
 * Turns `--name value` / `--name=value` flags into the reader's parameters, typed by its schema.
 *
 * @throws {@link ModelCommandError} naming the flag: unknown, missing, or not of its type.
 */
export function parseParams(reader: Reader<never>, args: readonly string[]): Record<string, unknown> {
  const { specs, required } = paramSpecs(reader);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const m = /^--([A-Za-z][\w-]*)(?:=(.*))?$/.exec(args[i]!);
    if (!m) throw new ModelCommandError(`expected --param value, got ${JSON.stringify(args[i])}`);
    const name = m[1]!;
    const spec = specs.get(name);
    if (!spec) {
      const known = [...specs.keys()].map((k) => `--${k}`).join(', ') || 'none';
      throw new ModelCommandError(`unknown parameter --${name} (parameters: ${known})`);
    }
    const raw = m[2] ?? args[++i];
    if (raw === undefined) throw new ModelCommandError(`--${name} needs a value`);
    out[name] = coerce(name, raw, spec);
  }
  for (const [name, spec] of specs)
    if (out[name] === undefined && spec.default !== undefined) out[name] = spec.default;
  for (const name of required) {
    if (out[name] === undefined) throw new ModelCommandError(`--${name} is required`);
  }
  return out;
}

function coerce(name: string, raw: string, spec: ParamSpec): unknown {
  if (spec.type === 'integer' || spec.type === 'number') {
    const n = Number(raw);
    const ok = raw.trim() !== '' && Number.isFinite(n) && (spec.type === 'number' || Number.isInteger(n));
    if (!ok)
      throw new ModelCommandError(
        `--${name}: expected ${spec.type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`,
      );
    if (spec.minimum !== undefined && n < spec.minimum)
      throw new ModelCommandError(`--${name}: must be ≥ ${spec.minimum}`);
    if (spec.maximum !== undefined && n > spec.maximum)
      throw new ModelCommandError(`--${name}: must be ≤ ${spec.maximum}`);
    return n;
  }
  if (spec.type === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw new ModelCommandError(`--${name}: expected true or false`);
    return raw === 'true';
  }
  return raw;
}

/**
 * Runs the reader; with `all`, follows `nextCursor` (for a reader with a `cursor` parameter) and
 * joins the pages' list. Null: not found.
 */
export async function runReader(
  source: ReadModelSource,
  model: string,
  reader: Reader<never>,
  params: Record<string, unknown>,
  all = false,
): Promise<unknown> {
  const read = reader as Reader<Record<string, unknown>>;
  let answer = (await read.read(params, readerContext(source, model))) as Record<string, unknown> | null;
  if (!all || answer === null || typeof answer !== 'object') return answer;
  const list = Object.keys(answer).find((k) => Array.isArray(answer![k]));
  // A reader that hands back a cursor it gave before would page forever: stop there.
  const seen = new Set<string>();
  while (list && typeof answer.nextCursor === 'string' && !seen.has(answer.nextCursor)) {
    seen.add(answer.nextCursor);
    const next = (await read.read(
      { ...params, cursor: answer.nextCursor },
      readerContext(source, model),
    )) as Record<string, unknown> | null;
    if (next === null) break;
    answer = { ...next, [list]: [...(answer[list] as unknown[]), ...(next[list] as unknown[])] };
  }
  return answer;
}

function cell(key: string, value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number' && /At$/.test(key)) return formatTime(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** An answer as people read it: its scalar fields as pairs, each list of objects as a table. */
export function formatAnswer(answer: unknown): string {
  if (answer === null || typeof answer !== 'object') return String(answer);
  if (Array.isArray(answer)) return formatList(answer);
  const pairs: [string, string][] = [];
  const tables: string[] = [];
  for (const [key, value] of Object.entries(answer)) {
    if (Array.isArray(value) && value.every((v) => v !== null && typeof v === 'object')) {
      tables.push(value.length === 0 ? `(no ${key})` : formatList(value));
    } else pairs.push([key, cell(key, value)]);
  }
  return [...tables, ...(pairs.length > 0 ? [formatPairs(pairs)] : [])].join('\n\n');
}

function formatList(items: readonly unknown[]): string {
  const rows = items as Record<string, unknown>[];
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return formatTable(
    columns.map((c) => c.toUpperCase()),
    rows.map((r) => columns.map((c) => cell(c, r[c]))),
  );
}
