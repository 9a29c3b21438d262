/**
 * Turns events into record values and back. `encode` validates an event against its schema and
 * frames the Avro body with the schema's registry id (Confluent wire format). `decode` reads the
 * writer schema's id from the value, fetches that schema once, and resolves it into this
 * process's reader schema (avsc resolvers), so a consumer reads every registered version of an
 * event as the version it was built with (DESIGN.md §3).
 *
 * Hot path: once ids, writer Types and resolvers are cached, `encodeSync` and `decodeSync` do no
 * I/O and no `await`. A consumer calls `await codec.loadWriters(values)` once per batch, then
 * `decodeSync` per record.
 */
import type { Resolver, Type } from 'avsc';
import { ErrorCodes, TributaryError, UnrecoverableError, isUnrecoverable } from '../lib/errors.js';
import { parseSchema } from './avro-schema.js';
import type { AvroRecordSchema } from './avro-schema.js';
import type { AppEvent, EventCatalog } from './catalog.js';
import type { Compatibility, SchemaRegistryClient } from './registry.js';
import { validateEvent } from './validate.js';
import { FrameWriter, HEADER_LENGTH, parseHeader } from './wire-format.js';

/** What the codec needs of a registry client (an in-memory fake will do in tests). */
export type CodecRegistry = Pick<
  SchemaRegistryClient,
  'register' | 'lookup' | 'writerType' | 'cachedWriterType'
>;

/** How a codec is set up. */
export interface EventCodecOptions {
  /** The app's events. */
  readonly catalog: EventCatalog;
  readonly registry: CodecRegistry;
  /** Prefix of topic names, hence of subjects. Pass `config.topics.prefix`. Default ''. */
  readonly topicPrefix?: string;
  /**
   * `register` (default): register this process's schemas, setting each subject's compatibility.
   * `lookup`: only look up ids of schemas registered beforehand, for producers that may not register.
   */
  readonly schemaIds?: 'register' | 'lookup';
  /** Compatibility level set on subjects when registering. Default `BACKWARD`. */
  readonly compatibility?: Compatibility;
  /**
   * Schemas to write and read with instead of the catalog's, by event type: another version of an
   * event's record (same name), e.g. while rolling out a change, or in tests of schema evolution.
   */
  readonly schemas?: Readonly<Record<string, AvroRecordSchema>>;
}

interface LocalSchema {
  readonly schema: AvroRecordSchema;
  readonly type: Type;
  readonly subject: string;
}

interface ReadPlan {
  readonly eventType: string;
  readonly reader: Type;
  /** Undefined when writer and reader are the same schema. */
  readonly resolver: Resolver | undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Encodes and decodes an app's events. Create one per process (it caches) and share it. */
export class EventCodec {
  readonly catalog: EventCatalog;
  private readonly registry: CodecRegistry;
  private readonly mode: 'register' | 'lookup';
  private readonly compatibility: Compatibility;
  private readonly local: ReadonlyMap<string, LocalSchema>;
  private readonly writerIds = new Map<string, number>();
  private readonly readPlans = new Map<number, ReadPlan>();
  private readonly frames = new FrameWriter();

  constructor(options: EventCodecOptions) {
    this.registry = options.registry;
    this.mode = options.schemaIds ?? 'register';
    this.compatibility = options.compatibility ?? 'BACKWARD';
    const prefix = options.topicPrefix ?? '';
    const catalog = (this.catalog = options.catalog);
    const local = new Map<string, LocalSchema>();
    for (const type of catalog.types) {
      const def = catalog.get(type);
      const override = options.schemas?.[type];
      if (override && `${override.namespace}.${override.name}` !== def.recordName) {
        throw new TributaryError(
          ErrorCodes.SCHEMA_INVALID,
          `schema given for ${type} is record ${override.namespace}.${override.name}, expected ${def.recordName}`,
        );
      }
      local.set(type, {
        schema: override ?? def.schema,
        type: override ? parseSchema(override) : def.avroType,
        subject: catalog.subjectOf(type, prefix),
      });
    }
    this.local = local;
  }

  private localOf(type: string): LocalSchema {
    const local = this.local.get(type);
    if (!local) {
      throw new UnrecoverableError(
        ErrorCodes.EVENT_TYPE_UNKNOWN,
        `unknown event type ${JSON.stringify(type)}`,
      );
    }
    return local;
  }

  /** The registry subject this codec writes `type` under. */
  subject(type: string): string {
    return this.localOf(type).subject;
  }

  /** The avsc Type this codec writes `type` with and reads it into. */
  avroType(type: string): Type {
    return this.localOf(type).type;
  }

  /**
   * Registers (or looks up) the schema ids of `types`, all by default. After this, `encodeSync`
   * works for them. Call it at start so that a registry problem shows before the first event.
   */
  async prepare(types: readonly string[] = this.catalog.types): Promise<void> {
    await Promise.all(
      types.map(async (type) => {
        if (this.writerIds.has(type)) return;
        const { subject, schema } = this.localOf(type);
        const id =
          this.mode === 'register'
            ? await this.registry.register(subject, schema, { compatibility: this.compatibility })
            : await this.registry.lookup(subject, schema);
        this.writerIds.set(type, id);
      }),
    );
  }

  /** The schema id `type` is written with, once {@link prepare}d. */
  schemaId(type: string): number | undefined {
    return this.writerIds.get(type);
  }

  /**
   * Validates and encodes an event, without I/O. The value is a view of a shared slab (see
   * {@link FrameWriter}): copy it if it is to be kept long after it was sent.
   *
   * @throws {@link UnrecoverableError} `TRIBUTARY_EVENT_INVALID` naming each bad field,
   *   `TRIBUTARY_EVENT_TYPE_UNKNOWN`; {@link TributaryError} `TRIBUTARY_SCHEMA_NOT_CACHED` when the
   *   event type was not {@link prepare}d.
   */
  encodeSync(event: AppEvent<string, object>): Buffer {
    const local = this.validated(event);
    const id = this.writerIds.get(event.type);
    if (id === undefined) {
      throw new TributaryError(
        ErrorCodes.SCHEMA_NOT_CACHED,
        `no schema id for ${event.type} yet: await codec.prepare() first, or use encode()`,
      );
    }
    return this.frames.write(id, local.type, event.data);
  }

  /** Validates and encodes an event; registers its schema first if this is the first of its type. */
  async encode(event: AppEvent<string, object>): Promise<Buffer> {
    const local = this.validated(event);
    let id = this.writerIds.get(event.type);
    if (id === undefined) {
      await this.prepare([event.type]);
      id = this.writerIds.get(event.type) as number;
    }
    return this.frames.write(id, local.type, event.data);
  }

  /**
   * Fetches the writer schemas of these record values that are not cached yet, in parallel. Values
   * that cannot be decoded are skipped here: {@link decodeSync} reports them.
   *
   * @throws {@link TributaryError} `TRIBUTARY_SCHEMA_REGISTRY` when the registry cannot be reached.
   */
  async loadWriters(values: Iterable<Buffer | null | undefined>): Promise<void> {
    const missing = new Set<number>();
    for (const value of values) {
      if (value == null || value.length < HEADER_LENGTH || value[0] !== 0) continue;
      const { schemaId } = parseHeader(value);
      if (!this.readPlans.has(schemaId)) missing.add(schemaId);
    }
    await Promise.all(
      [...missing].map(async (id) => {
        try {
          await this.registry.writerType(id);
        } catch (err) {
          // The registry remembers ids it cannot serve; decodeSync throws that error for the record.
          if (!isUnrecoverable(err)) throw err;
        }
      }),
    );
  }

  /**
   * Decodes a record value into this process's version of its event, without I/O.
   *
   * @throws {@link UnrecoverableError} for a value that can never be decoded (bad framing, unknown
   *   schema id, an event type this process does not know, a writer schema it cannot read, a
   *   corrupt body): the record belongs in the dead-letter topic. {@link TributaryError}
   *   `TRIBUTARY_SCHEMA_NOT_CACHED` when the writer schema was not loaded ({@link loadWriters}).
   */
  decodeSync(value: Buffer | null | undefined): AppEvent {
    const { schemaId } = parseHeader(value);
    const buffer = value as Buffer;
    const plan = this.readPlans.get(schemaId) ?? this.planFor(schemaId);
    let data: unknown;
    try {
      data = plan.reader.fromBuffer(buffer.subarray(HEADER_LENGTH), plan.resolver);
    } catch (err) {
      throw new UnrecoverableError(
        ErrorCodes.DECODE_FAILED,
        `cannot decode ${plan.eventType} (schema id ${schemaId}): ${messageOf(err)}`,
        { cause: err },
      );
    }
    return { type: plan.eventType, data } as AppEvent;
  }

  /** Decodes a record value, fetching its writer schema first if it is not cached. */
  async decode(value: Buffer | null | undefined): Promise<AppEvent> {
    const { schemaId } = parseHeader(value);
    if (!this.readPlans.has(schemaId) && this.registry.cachedWriterType(schemaId) === undefined) {
      await this.registry.writerType(schemaId);
    }
    return this.decodeSync(value);
  }

  private validated(event: AppEvent<string, object>): LocalSchema {
    const name: unknown = (event as { type?: unknown } | null)?.type;
    const local = typeof name === 'string' ? this.local.get(name) : undefined;
    validateEvent(this.catalog, event, local?.type);
    return local as LocalSchema;
  }

  private planFor(schemaId: number): ReadPlan {
    const writer = this.registry.cachedWriterType(schemaId);
    if (writer === undefined) {
      throw new TributaryError(
        ErrorCodes.SCHEMA_NOT_CACHED,
        `writer schema id ${schemaId} is not loaded: await codec.loadWriters(values) first, or use decode()`,
      );
    }
    const eventType = this.catalog.typeOfRecord(writer.name);
    if (eventType === undefined) {
      throw new UnrecoverableError(
        ErrorCodes.EVENT_TYPE_UNKNOWN,
        `schema id ${schemaId} is record ${writer.name ?? writer.typeName}, not an event type this reader knows`,
      );
    }
    const reader = this.localOf(eventType).type;
    let resolver: Resolver | undefined;
    try {
      // Equal canonical forms mean identical binary encodings: no resolution needed.
      resolver = reader.equals(writer) ? undefined : reader.createResolver(writer);
    } catch (err) {
      throw new UnrecoverableError(
        ErrorCodes.DECODE_FAILED,
        `${eventType} written with schema id ${schemaId} cannot be read with this reader's schema: ${messageOf(err)}`,
        { cause: err },
      );
    }
    const plan: ReadPlan = { eventType, reader, resolver };
    this.readPlans.set(schemaId, plan);
    return plan;
  }
}
