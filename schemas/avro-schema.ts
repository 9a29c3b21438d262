/**
 * Avro schemas as data: their JSON shape, how an app's `.avsc` files are read, and how Tributary
 * parses them. The engine's own schemas (the analytics window result) stay in `schemas/` when the
 * TypeScript is built to `dist/`, so they are found by walking up from the calling module.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { ForSchemaOptions, Type } from 'avsc';
import { ErrorCodes, TributaryError } from '../lib/errors.js';

/**
 * The options every avsc Type in Tributary is built with. Writer and reader types must agree on
 * them, so the registry client builds writer types with the same ones. No logical type
 * implementations: `timestamp-millis` stays epoch milliseconds and `uuid` a string, as the
 * generated types say. Unions of null and one type are unwrapped (`string | null`), and decoded
 * records are plain data objects without avsc's helper methods.
 *
 * A new object each call: avsc keeps its registry of named types in the options object it is
 * given, so sharing one between parses would make the second parse of `UserPlan` a duplicate.
 */
export function avroTypeOptions(): Partial<ForSchemaOptions> {
  return { wrapUnions: 'auto', omitRecordMethods: true };
}

/** An Avro schema as written in JSON (loosely typed: the parser, avsc, is the judge of validity). */
export type AvroSchema = string | readonly AvroSchema[] | AvroComplexSchema;

/** A JSON object schema: record, enum, array, map, fixed, or a primitive with a logical type. */
export interface AvroComplexSchema {
  readonly type: AvroSchema;
  readonly name?: string;
  readonly namespace?: string;
  readonly doc?: string;
  readonly logicalType?: string;
  readonly fields?: readonly AvroField[];
  readonly symbols?: readonly string[];
  readonly default?: unknown;
  readonly items?: AvroSchema;
  readonly values?: AvroSchema;
  readonly size?: number;
}

/** One field of a record schema. */
export interface AvroField {
  readonly name: string;
  readonly type: AvroSchema;
  readonly doc?: string;
  readonly default?: unknown;
}

/** A top-level record schema, as every `.avsc` file of an event holds. */
export interface AvroRecordSchema extends AvroComplexSchema {
  readonly type: 'record';
  readonly name: string;
  readonly namespace: string;
  readonly fields: readonly AvroField[];
}

/** One `.avsc` file, read and checked to hold a named record with a namespace. */
export interface AvscFile {
  /** Absolute path of the file. */
  readonly path: string;
  /** The record schema as written. */
  readonly schema: AvroRecordSchema;
}

/**
 * Returns the directory that holds the `.avsc` files: the first directory, walking up from
 * `fromUrl`'s, that contains `probe` itself or as `schemas/<probe>`. Works both from the sources
 * (`schemas/*.ts`) and from the build (`dist/schemas/*.js`).
 */
export function findSchemaDir(fromUrl: string, probe: string): string {
  const start = path.dirname(fileURLToPath(fromUrl));
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (path.basename(dir) === 'schemas' && existsSync(path.join(dir, probe))) return dir;
    if (existsSync(path.join(dir, 'schemas', probe))) return path.join(dir, 'schemas');
    if (path.dirname(dir) === dir) break;
  }
  throw new TributaryError(
    ErrorCodes.SCHEMA_INVALID,
    `cannot find the event schemas: no schemas/${probe} in ${start} or any parent directory`,
  );
}

/**
 * Reads and checks one `.avsc` file.
 *
 * @throws {@link TributaryError} `TRIBUTARY_SCHEMA_INVALID` naming the file when it is not JSON or
 *   not a named record with a namespace (any: the app chooses it).
 */
export function readAvscFile(file: string): AvscFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TributaryError(ErrorCodes.SCHEMA_INVALID, `cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const s = parsed as Partial<AvroRecordSchema> | null;
  if (s === null || typeof s !== 'object' || s.type !== 'record' || typeof s.name !== 'string') {
    throw new TributaryError(ErrorCodes.SCHEMA_INVALID, `${file}: expected a record schema with a name`);
  }
  if (!Array.isArray(s.fields)) {
    throw new TributaryError(ErrorCodes.SCHEMA_INVALID, `${file}: record ${s.name} needs a fields array`);
  }
  if (!AVRO_NAME.test(s.name)) {
    throw new TributaryError(
      ErrorCodes.SCHEMA_INVALID,
      `${file}: ${JSON.stringify(s.name)} is not an Avro name`,
    );
  }
  if (typeof s.namespace !== 'string' || !AVRO_NAMESPACE.test(s.namespace)) {
    throw new TributaryError(
      ErrorCodes.SCHEMA_INVALID,
      `${file}: record ${s.name} needs a namespace (e.g. "com.acme.billing"), got ${JSON.stringify(s.namespace)}`,
    );
  }
  return { path: file, schema: s as AvroRecordSchema };
}

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const AVRO_NAMESPACE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Reads every `.avsc` file in `dir`, sorted by file name so that the result is deterministic. */
export function readAvscDir(dir: string): AvscFile[] {
  if (!existsSync(dir)) {
    throw new TributaryError(ErrorCodes.SCHEMA_INVALID, `the schema folder ${dir} does not exist`);
  }
  return readdirSync(dir)
    .filter((name) => name.endsWith('.avsc'))
    .sort()
    .map((name) => readAvscFile(path.join(dir, name)));
}

/** Parses a record schema with {@link avroTypeOptions}, plus `extra` (e.g. a `typeHook`). */
export function parseSchema(schema: AvroRecordSchema, extra: Partial<ForSchemaOptions> = {}): Type {
  return avro.Type.forSchema(schema as Parameters<typeof avro.Type.forSchema>[0], {
    ...avroTypeOptions(),
    ...extra,
  });
}
