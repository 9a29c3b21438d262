/**
 * The event catalog: for each event type, its topic, its partition key and its Avro schema, read
 * once from `schemas/*.avsc` when this module is first imported. Topics are per aggregate
 * (DESIGN.md §3): several event types share a topic, and subjects follow TopicRecordNameStrategy.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Type } from 'avsc';
import { ErrorCodes, TributaryError, UnrecoverableError } from '../lib/errors.js';
import { EVENT_NAMESPACE, findSchemaDir, parseSchema, readAvscFile } from './avro-schema.js';
import type { AvroRecordSchema } from './avro-schema.js';
import type { EventDataMap, EventType } from './generated/events.js';

export type { EventDataMap, EventType } from './generated/events.js';

/** The Kafka header that names a record's event type (e.g. `UserCreated`). */
export const EVENT_TYPE_HEADER = 'event-type';

/** The base names of Tributary's topics; the configured prefix (`config.topics.prefix`) goes in front. */
export const TOPICS = ['users', 'orders', 'page-views'] as const;

/** A topic's base name. */
export type TopicName = (typeof TOPICS)[number];

/** The payload of events of type `K`, e.g. `EventData<'UserCreated'>`. */
export type EventData<K extends EventType = EventType> = EventDataMap[K];

/** An event of one type: its name and its payload. */
export interface EventOf<K extends EventType> {
  readonly type: K;
  readonly data: EventDataMap[K];
}

/**
 * Any Tributary event, discriminated by `type`: `{ type: 'UserCreated', data: { ... } }`.
 * Narrow on `type` to get the payload's type.
 */
export type TributaryEvent = { [K in EventType]: EventOf<K> }[EventType];

/** Fields of `T` that hold a string (or null), i.e. that can key a record. */
export type KeyField<T> = { [F in keyof T]-?: T[F] extends string | null ? F : never }[keyof T] & string;

/** What the catalog knows about one event type. */
export interface EventDefinition<K extends EventType = EventType> {
  /** The event type, e.g. `UserCreated`; also the Avro record's name. */
  readonly type: K;
  /** The Avro record's full name, e.g. `dev.tributary.events.UserCreated`. */
  readonly recordName: string;
  /** The topic's base name. */
  readonly topic: TopicName;
  /** The partition key is the first of these fields that is not null (e.g. userId, else sessionId). */
  readonly keyFields: readonly [KeyField<EventDataMap[K]>, ...KeyField<EventDataMap[K]>[]];
  /** The schema as written in the `.avsc` file: what gets registered. */
  readonly schema: AvroRecordSchema;
  /** The parsed schema. */
  readonly avroType: Type;
  /** Absolute path of the `.avsc` file. */
  readonly file: string;
}

interface Spec<K extends EventType> {
  readonly file: string;
  readonly topic: TopicName;
  readonly keyFields: EventDefinition<K>['keyFields'];
}

// The one hand-written part of the catalog. Orders are keyed by user, not by order, so that all of
// a user's events on `orders` stay in one partition, in order.
const SPECS: { readonly [K in EventType]: Spec<K> } = {
  UserCreated: { file: 'user-created.avsc', topic: 'users', keyFields: ['userId'] },
  UserUpdated: { file: 'user-updated.avsc', topic: 'users', keyFields: ['userId'] },
  UserDeleted: { file: 'user-deleted.avsc', topic: 'users', keyFields: ['userId'] },
  OrderPlaced: { file: 'order-placed.avsc', topic: 'orders', keyFields: ['userId'] },
  OrderPaid: { file: 'order-paid.avsc', topic: 'orders', keyFields: ['userId'] },
  OrderCancelled: { file: 'order-cancelled.avsc', topic: 'orders', keyFields: ['userId'] },
  PageViewed: { file: 'page-viewed.avsc', topic: 'page-views', keyFields: ['userId', 'sessionId'] },
};

/** Every event type, in catalog order. */
export const EVENT_TYPES = Object.keys(SPECS) as readonly EventType[];

function define<K extends EventType>(type: K, dir: string): EventDefinition<K> {
  const spec: Spec<K> = SPECS[type];
  const { path: file, schema } = readAvscFile(path.join(dir, spec.file));
  if (schema.name !== type) {
    throw new TributaryError(
      ErrorCodes.SCHEMA_INVALID,
      `${file}: record is named ${schema.name}, expected ${type}`,
    );
  }
  return {
    type,
    recordName: `${EVENT_NAMESPACE}.${type}`,
    topic: spec.topic,
    keyFields: spec.keyFields,
    schema,
    avroType: parseSchema(schema),
    file,
  };
}

function loadCatalog(): { readonly [K in EventType]: EventDefinition<K> } {
  const dir = findSchemaDir(import.meta.url, SPECS.UserCreated.file);
  const entries = EVENT_TYPES.map((type) => [type, define(type, dir)] as const);
  return Object.freeze(Object.fromEntries(entries)) as { readonly [K in EventType]: EventDefinition<K> };
}

/** The catalog, by event type. Loaded once, synchronously, when this module is imported. */
export const eventCatalog = loadCatalog();

const byRecordName = new Map<string, EventType>(EVENT_TYPES.map((t) => [eventCatalog[t].recordName, t]));

/** True when `name` is one of the catalog's event types. */
export function isEventType(name: unknown): name is EventType {
  return typeof name === 'string' && Object.hasOwn(SPECS, name);
}

/** The event type whose Avro record has this full name, or undefined for a record the catalog lacks. */
export function eventTypeOfRecord(recordName: string | undefined): EventType | undefined {
  return recordName === undefined ? undefined : byRecordName.get(recordName);
}

/** The full topic name: `prefix` + base name. Pass `config.topics.prefix`. */
export function topicName(topic: TopicName, prefix = ''): string {
  return `${prefix}${topic}`;
}

/** The full name of the topic that carries events of `type`. */
export function topicOf(type: EventType, prefix = ''): string {
  return topicName(eventCatalog[type].topic, prefix);
}

/** The registry subject of `type` by TopicRecordNameStrategy: `<topic>-dev.tributary.events.<Type>`. */
export function subjectOf(type: EventType, prefix = ''): string {
  return `${topicOf(type, prefix)}-${eventCatalog[type].recordName}`;
}

/**
 * The partition key of an event: the first non-empty key field (see {@link EventDefinition.keyFields}).
 *
 * @throws {@link UnrecoverableError} `TRIBUTARY_EVENT_INVALID` when every key field is null or empty.
 */
export function eventKey(event: TributaryEvent): string {
  const { keyFields } = eventCatalog[event.type];
  const data = event.data as unknown as Readonly<Record<string, unknown>>;
  for (const field of keyFields) {
    const value = data[field];
    if (typeof value === 'string' && value !== '') return value;
  }
  throw new UnrecoverableError(
    ErrorCodes.EVENT_INVALID,
    `${event.type} event has no partition key: ${keyFields.map((f) => `data.${f}`).join(' and ')} are empty`,
  );
}

/** A payload without the envelope fields, which {@link createEvent} fills in. */
export type EventInput<K extends EventType> = Omit<EventDataMap[K], 'eventId' | 'occurredAt'> &
  Partial<Pick<EventDataMap[K], 'eventId' | 'occurredAt'>>;

/**
 * Builds an event, filling `eventId` with a random UUID and `occurredAt` with the current time
 * unless given: `createEvent('UserCreated', { userId, email, name, plan: 'FREE', country: 'DE' })`.
 */
export function createEvent<K extends EventType>(
  type: K,
  input: EventInput<K>,
  now: number = Date.now(),
): EventOf<K> {
  const envelope = input as { eventId?: string; occurredAt?: number };
  const eventId = envelope.eventId ?? randomUUID();
  const occurredAt = envelope.occurredAt ?? now;
  // Envelope first: V8 gives every object built as `{ ...input, eventId }` (new keys after a
  // spread) a hidden class of its own, which makes avsc's validation and encoding megamorphic,
  // several times slower. Set again after the spread, which may have brought them as undefined.
  const data = { eventId, occurredAt, ...input };
  data.eventId = eventId;
  data.occurredAt = occurredAt;
  return { type, data: data as unknown as EventDataMap[K] };
}
