/**
 * `WindowResult`, the analytics group's output record: the final result of one window, produced
 * to `<prefix>analytics.windows` keyed by window id. It is not an event, so it stays out of the
 * event catalog: its schema lives in its own namespace (`dev.tributary.analytics`) and directory
 * (`schemas/analytics/analytics-window.avsc`), and has this small codec of its own. Like events,
 * it is registered under TopicRecordNameStrategy (`<topic>-dev.tributary.analytics.WindowResult`)
 * with BACKWARD compatibility and framed in the Confluent wire format, so any registry-aware
 * consumer can read the topic.
 *
 * `revenue` is a `map<long>` on the wire (unchanged since the first version) and a map of decimal
 * integer strings in JavaScript (schemas/decimal-long.ts): a window's revenue is a sum over
 * partitions and may pass 2^53, where a JS number would round. The other longs (times, counts)
 * stay numbers, which avsc refuses to encode or decode past 2^53 rather than round.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import type { Resolver, Type } from 'avsc';
import { ErrorCodes, TributaryError, UnrecoverableError } from '../lib/errors.js';
import { findSchemaDir, parseSchema, type AvroRecordSchema } from './avro-schema.js';
import { decimalLongType } from './decimal-long.js';
import type { Compatibility, SchemaRegistryClient } from './registry.js';
import { HEADER_LENGTH, frame, parseHeader } from './wire-format.js';

/** The Avro namespace of the analytics output records. */
export const ANALYTICS_NAMESPACE = 'dev.tributary.analytics';

/** The full name of the window result record. */
export const WINDOW_RESULT_RECORD = `${ANALYTICS_NAMESPACE}.WindowResult`;

const FILE = path.join('analytics', 'analytics-window.avsc');

/** Views of one page. */
export interface PageCount {
  readonly path: string;
  readonly views: number;
}

/** A window's final result, as the `.avsc` file describes it (times in epoch ms). */
export interface WindowResult {
  readonly windowId: string;
  readonly kind: 'TUMBLING' | 'HOPPING';
  readonly sizeMs: number;
  readonly advanceMs: number;
  readonly start: number;
  readonly end: number;
  readonly events: Readonly<Record<string, number>>;
  readonly totalEvents: number;
  readonly uniqueUsers: number;
  /** Minor units per currency, as decimal integer strings (exact past 2^53; Avro `long`). */
  readonly revenue: Readonly<Record<string, string>>;
  readonly ordersPlaced: number;
  readonly ordersPaid: number;
  readonly topPages: readonly PageCount[];
  readonly frontier: number;
  readonly emittedAt: number;
}

let loaded: { readonly schema: AvroRecordSchema; readonly type: Type } | undefined;

/** The schema as written in its file, and its parsed Type; read once. */
export function windowResultSchema(): { readonly schema: AvroRecordSchema; readonly type: Type } {
  if (!loaded) {
    const file = path.join(findSchemaDir(import.meta.url, FILE), FILE);
    const schema = JSON.parse(readFileSync(file, 'utf8')) as AvroRecordSchema;
    if (`${schema.namespace}.${schema.name}` !== WINDOW_RESULT_RECORD) {
      throw new TributaryError(ErrorCodes.SCHEMA_INVALID, `${file}: expected record ${WINDOW_RESULT_RECORD}`);
    }
    // The revenue map's longs, and only those, are read and written as decimal strings.
    const revenue = schema.fields.find((f) => f.name === 'revenue')?.type;
    if (revenue === undefined) {
      throw new TributaryError(ErrorCodes.SCHEMA_INVALID, `${file}: no revenue field`);
    }
    const type = parseSchema(schema, {
      typeHook: (s, opts) =>
        s === revenue
          ? avro.Type.forSchema(s, { ...opts, typeHook: undefined, registry: { long: decimalLongType } })
          : undefined,
    });
    loaded = { schema, type };
  }
  return loaded;
}

/** The registry subject of window results on `topic` (its full name). */
export function windowResultSubject(topic: string): string {
  return `${topic}-${WINDOW_RESULT_RECORD}`;
}

/** What the codec needs of a registry client. */
export type WindowResultRegistry = Pick<SchemaRegistryClient, 'register' | 'writerType'>;

/** Encodes window results for one topic and decodes them back (any registered version). */
export class WindowResultCodec {
  private id: number | undefined;
  private readonly resolvers = new Map<number, Resolver | undefined>();

  constructor(
    private readonly registry: WindowResultRegistry,
    /** The full name of the output topic. */
    readonly topic: string,
    private readonly compatibility: Compatibility = 'BACKWARD',
  ) {}

  get subject(): string {
    return windowResultSubject(this.topic);
  }

  /** Registers the schema (or finds it registered); after this, {@link encode} needs no I/O. */
  async prepare(): Promise<number> {
    this.id ??= await this.registry.register(this.subject, windowResultSchema().schema, {
      compatibility: this.compatibility,
    });
    return this.id;
  }

  /**
   * Validates and encodes a result.
   *
   * @throws {@link TributaryError} `TRIBUTARY_SCHEMA_NOT_CACHED` before {@link prepare};
   *   {@link UnrecoverableError} `TRIBUTARY_EVENT_INVALID` naming the fields that do not fit.
   */
  encode(result: WindowResult): Buffer {
    if (this.id === undefined) {
      throw new TributaryError(
        ErrorCodes.SCHEMA_NOT_CACHED,
        `await prepare() before encoding ${this.subject}`,
      );
    }
    const { type } = windowResultSchema();
    const bad: string[] = [];
    if (!type.isValid(result, { errorHook: (p) => bad.push(p.join('.')) })) {
      throw new UnrecoverableError(ErrorCodes.EVENT_INVALID, `WindowResult: invalid ${bad.join(', ')}`);
    }
    return frame(this.id, type.toBuffer(result));
  }

  /** Decodes a framed result written with any registered version of the schema. */
  async decode(value: Buffer): Promise<WindowResult> {
    const { schemaId } = parseHeader(value);
    const { type } = windowResultSchema();
    if (!this.resolvers.has(schemaId)) {
      const writer = await this.registry.writerType(schemaId);
      this.resolvers.set(schemaId, type.equals(writer) ? undefined : type.createResolver(writer));
    }
    return type.fromBuffer(value.subarray(HEADER_LENGTH), this.resolvers.get(schemaId)) as WindowResult;
  }
}
