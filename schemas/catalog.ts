/**
 * The event catalog of an app: for each event type, its topic, its partition key and its Avro
 * schema, built from the app's `.avsc` files and topic declarations (DESIGN.md §10). Topics are
 * per aggregate (§3): several event types share a topic, and subjects follow
 * TopicRecordNameStrategy. The catalog checks the declarations against the schemas when it is
 * built, so a wrong name shows at load, not on the first event.
 */
import { randomUUID } from 'node:crypto';
import type { Type } from 'avsc';
import { ErrorCodes, TributaryError, UnrecoverableError } from '../lib/errors.js';
import { parseSchema, readAvscDir } from './avro-schema.js';
import type { AvroField, AvroRecordSchema, AvroSchema, AvscFile } from './avro-schema.js';

/** The Kafka header that names a record's event type (e.g. `UserCreated`). */
export const EVENT_TYPE_HEADER = 'event-type';

/** The fields every event's payload carries besides its own (checked when the catalog is built). */
export interface EventEnvelope {
  /** Unique id (UUID), for de-duplication. */
  readonly eventId: string;
  /** Event time, epoch ms. */
  readonly occurredAt: number;
}

/**
 * An event: its type (the Avro record's name without namespace) and its payload. Apps narrow it
 * with the union their generated types give (`AnyEvent`, from `tributary codegen`).
 */
export interface AppEvent<T extends string = string, D extends object = EventEnvelope> {
  readonly type: T;
  readonly data: D;
}

/** A topic as an app declares it (see `defineApp`). */
export interface TopicDeclaration {
  /** Base name; `config.topics.prefix` goes in front. */
  readonly name: string;
  /** The event types it carries (Avro record names). None: a topic of other records (JSON, outputs). */
  readonly events?: readonly string[];
  /** The partition key is the first of these fields that is not null or empty. Required with `events`. */
  readonly key?: readonly string[];
  /** Partitions; default `TRIBUTARY_TOPIC_PARTITIONS`. */
  readonly partitions?: number;
  /** Retention in ms; default `TRIBUTARY_TOPIC_RETENTION_MS`. */
  readonly retentionMs?: number;
  /** `delete` (default), or `compact,delete` for a topic keyed by result id. */
  readonly cleanup?: 'delete' | 'compact,delete';
  /** Whether it has a dead-letter topic `<name>.dlq`; default true for event topics. */
  readonly deadLetters?: boolean;
}

/** A topic as the catalog resolved it. */
export interface TopicDefinition {
  readonly name: string;
  readonly events: readonly string[];
  readonly keyFields: readonly string[];
  readonly partitions: number | undefined;
  readonly retentionMs: number | undefined;
  readonly cleanup: 'delete' | 'compact,delete';
  readonly deadLetters: boolean;
}

/** What the catalog knows about one event type. */
export interface EventDefinition {
  /** The event type, e.g. `UserCreated`: the Avro record's name. */
  readonly type: string;
  /** The Avro record's full name, e.g. `com.acme.billing.InvoiceIssued`. */
  readonly recordName: string;
  /** The topic's base name. */
  readonly topic: string;
  /** The partition key is the first of these fields that is not null or empty. */
  readonly keyFields: readonly [string, ...string[]];
  /** The schema as written in the `.avsc` file: what gets registered. */
  readonly schema: AvroRecordSchema;
  /** The parsed schema. */
  readonly avroType: Type;
  /** Absolute path of the `.avsc` file. */
  readonly file: string;
}

/** A payload without the envelope fields, which {@link EventCatalog.createEvent} fills in. */
export type EventInput<D extends object> = Omit<D, 'eventId' | 'occurredAt'> &
  Partial<Pick<EventEnvelope, 'eventId' | 'occurredAt'>>;

/** Kafka's own rule for topic names (without the length limit, checked with the prefix). */
const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

function invalid(message: string): never {
  throw new TributaryError(ErrorCodes.SCHEMA_INVALID, message);
}

/** True for an Avro field type a key can be read from: `string`, or a union of null and string. */
function isKeyType(type: AvroSchema): boolean {
  if (type === 'string') return true;
  if (Array.isArray(type)) {
    const branches = type as readonly AvroSchema[];
    return branches.every((b) => b === 'null' || isKeyType(b)) && branches.some((b) => b !== 'null');
  }
  if (typeof type === 'object' && type !== null && !Array.isArray(type)) {
    const t = (type as { type: AvroSchema }).type;
    return t === 'string';
  }
  return false;
}

function field(schema: AvroRecordSchema, name: string): AvroField | undefined {
  return schema.fields.find((f) => f.name === name);
}

/** The file's schema parsed by avsc, or an error naming the file and what avsc refused. */
function parsed(file: AvscFile): Type {
  try {
    return parseSchema(file.schema);
  } catch (err) {
    return invalid(`${file.path}: not a valid Avro schema: ${(err as Error).message}`);
  }
}

/** Checks that a record carries the envelope fields every event needs. */
function checkEnvelope(file: AvscFile): void {
  const { schema } = file;
  const id = field(schema, 'eventId');
  const at = field(schema, 'occurredAt');
  const isLong = (t: AvroSchema | undefined) =>
    t === 'long' ||
    (typeof t === 'object' && t !== null && !Array.isArray(t) && (t as { type: AvroSchema }).type === 'long');
  if (!id || !isKeyType(id.type) || Array.isArray(id.type)) {
    invalid(
      `${file.path}: ${schema.name} needs a field eventId of type string (uuid), every event carries one`,
    );
  }
  if (!at || !isLong(at.type)) {
    invalid(
      `${file.path}: ${schema.name} needs a field occurredAt of type long (timestamp-millis), its event time`,
    );
  }
}

/**
 * The events and topics of one app. Build it with {@link EventCatalog.load} (reads a folder of
 * `.avsc` files) or the constructor (schemas already read).
 */
export class EventCatalog {
  /** Every event type, in the order of the topic declarations. */
  readonly types: readonly string[];
  /** Every topic, as declared. */
  readonly topics: readonly TopicDefinition[];
  private readonly byType: ReadonlyMap<string, EventDefinition>;
  private readonly byRecordName: ReadonlyMap<string, string>;

  /**
   * @throws {@link TributaryError} `TRIBUTARY_SCHEMA_INVALID` naming the file, topic or field when
   *   the declarations and the schemas disagree: an event no schema defines or no topic carries, two
   *   records of one name, a key field an event lacks or that is not a string, a bad topic name.
   */
  constructor(files: readonly AvscFile[], topics: readonly TopicDeclaration[]) {
    const schemas = new Map<string, AvscFile>();
    for (const file of files) {
      const earlier = schemas.get(file.schema.name);
      if (earlier) {
        invalid(
          `${file.path}: record ${file.schema.name} is also defined in ${earlier.path}; event type names must be unique`,
        );
      }
      checkEnvelope(file);
      schemas.set(file.schema.name, file);
    }
    const byType = new Map<string, EventDefinition>();
    const resolved: TopicDefinition[] = [];
    const topicNames = new Set<string>();
    for (const t of topics) {
      if (!TOPIC_NAME.test(t.name)) {
        invalid(`topic ${JSON.stringify(t.name)}: a topic name holds only letters, digits, '.', '_' and '-'`);
      }
      if (topicNames.has(t.name)) invalid(`topic ${t.name} is declared twice`);
      topicNames.add(t.name);
      const events = t.events ?? [];
      const keyFields = t.key ?? [];
      if (events.length > 0 && keyFields.length === 0) {
        invalid(`topic ${t.name}: carries events, so it needs a key (the field(s) its records are keyed by)`);
      }
      if (t.partitions !== undefined && (!Number.isInteger(t.partitions) || t.partitions < 1)) {
        invalid(`topic ${t.name}: partitions must be a positive integer, got ${String(t.partitions)}`);
      }
      if (t.retentionMs !== undefined && (!Number.isInteger(t.retentionMs) || t.retentionMs < -1)) {
        invalid(`topic ${t.name}: retentionMs must be an integer number of ms (or -1: forever)`);
      }
      for (const type of events) {
        const file = schemas.get(type);
        if (!file) {
          const known = [...schemas.keys()].join(', ') || 'none';
          invalid(`topic ${t.name}: event ${type} has no .avsc file (records found: ${known})`);
        }
        const other = byType.get(type);
        if (other) invalid(`event ${type} is declared on two topics: ${other.topic} and ${t.name}`);
        for (const f of keyFields) {
          const decl = field(file.schema, f);
          if (!decl) invalid(`topic ${t.name}: key field ${f} is not a field of ${type} (${file.path})`);
          if (!isKeyType(decl.type)) {
            invalid(`topic ${t.name}: key field ${f} of ${type} must be a string (or null and string)`);
          }
        }
        byType.set(type, {
          type,
          recordName: `${file.schema.namespace}.${type}`,
          topic: t.name,
          keyFields: keyFields as [string, ...string[]],
          schema: file.schema,
          avroType: parsed(file),
          file: file.path,
        });
      }
      resolved.push({
        name: t.name,
        events: [...events],
        keyFields: [...keyFields],
        partitions: t.partitions,
        retentionMs: t.retentionMs,
        cleanup: t.cleanup ?? 'delete',
        deadLetters: t.deadLetters ?? events.length > 0,
      });
    }
    for (const [name, file] of schemas) {
      if (!byType.has(name))
        invalid(`${file.path}: event ${name} is on no topic; add it to a topic's events`);
    }
    this.types = [...byType.keys()];
    this.topics = resolved;
    this.byType = byType;
    this.byRecordName = new Map([...byType.values()].map((d) => [d.recordName, d.type]));
  }

  /** Reads every `.avsc` file of `schemaDir` and checks it against `topics`. */
  static load(schemaDir: string, topics: readonly TopicDeclaration[]): EventCatalog {
    return new EventCatalog(readAvscDir(schemaDir), topics);
  }

  /** The topics that carry events. */
  get eventTopics(): readonly TopicDefinition[] {
    return this.topics.filter((t) => t.events.length > 0);
  }

  /** True when `name` is one of the catalog's event types. */
  isEventType(name: unknown): name is string {
    return typeof name === 'string' && this.byType.has(name);
  }

  /** The definition of `type`, or undefined for a type the catalog lacks. */
  find(type: string): EventDefinition | undefined {
    return this.byType.get(type);
  }

  /**
   * The definition of `type`.
   *
   * @throws {@link UnrecoverableError} `TRIBUTARY_EVENT_TYPE_UNKNOWN`.
   */
  get(type: string): EventDefinition {
    const def = this.byType.get(type);
    if (!def) {
      throw new UnrecoverableError(
        ErrorCodes.EVENT_TYPE_UNKNOWN,
        `unknown event type ${JSON.stringify(type)}`,
      );
    }
    return def;
  }

  /** The topic declared as `name`, or undefined. */
  topic(name: string): TopicDefinition | undefined {
    return this.topics.find((t) => t.name === name);
  }

  /** The event type whose Avro record has this full name, or undefined for a record the catalog lacks. */
  typeOfRecord(recordName: string | undefined): string | undefined {
    return recordName === undefined ? undefined : this.byRecordName.get(recordName);
  }

  /** The full name of the topic that carries events of `type`. */
  topicOf(type: string, prefix = ''): string {
    return topicName(this.get(type).topic, prefix);
  }

  /** The registry subject of `type` by TopicRecordNameStrategy: `<topic>-<namespace>.<Type>`. */
  subjectOf(type: string, prefix = ''): string {
    return `${this.topicOf(type, prefix)}-${this.get(type).recordName}`;
  }

  /**
   * The partition key of an event: the first non-empty key field of its topic.
   *
   * @throws {@link UnrecoverableError} `TRIBUTARY_EVENT_INVALID` when every key field is null or empty.
   */
  eventKey(event: AppEvent<string, object>): string {
    const { keyFields } = this.get(event.type);
    const data = event.data as Readonly<Record<string, unknown>>;
    for (const f of keyFields) {
      const value = data[f];
      if (typeof value === 'string' && value !== '') return value;
    }
    throw new UnrecoverableError(
      ErrorCodes.EVENT_INVALID,
      `${event.type} event has no partition key: ${keyFields.map((f) => `data.${f}`).join(' and ')} ${keyFields.length > 1 ? 'are' : 'is'} empty`,
    );
  }

  /**
   * Builds an event, filling `eventId` with a random UUID and `occurredAt` with the current time
   * unless given. Not validated here: the publisher validates what it sends.
   */
  createEvent<D extends object = Record<string, unknown>>(
    type: string,
    input: EventInput<D>,
    now: number = Date.now(),
  ): AppEvent<string, D> {
    return createEvent<string, D>(type, input, now);
  }
}

/**
 * Builds an event of `type`, filling `eventId` with a random UUID and `occurredAt` with the current
 * time unless given: `createEvent('UserCreated', { userId, email, … })`. Typed apps pass their
 * generated payload type: `createEvent<'InvoiceIssued', InvoiceIssued>(…)`.
 */
export function createEvent<T extends string, D extends object>(
  type: T,
  input: EventInput<D>,
  now: number = Date.now(),
): AppEvent<T, D> {
  const envelope = input as { eventId?: string; occurredAt?: number };
  const eventId = envelope.eventId ?? randomUUID();
  const occurredAt = envelope.occurredAt ?? now;
  // Envelope first: V8 gives every object built as `{ ...input, eventId }` (new keys after a
  // spread) a hidden class of its own, which makes avsc's validation and encoding megamorphic,
  // several times slower. Set again after the spread, which may have brought them as undefined.
  const data = { eventId, occurredAt, ...input };
  data.eventId = eventId;
  data.occurredAt = occurredAt;
  return { type, data: data as unknown as D };
}

/** The full topic name: `prefix` + base name. Pass `config.topics.prefix`. */
export function topicName(topic: string, prefix = ''): string {
  return `${prefix}${topic}`;
}
