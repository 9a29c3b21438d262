/**
 * Tributary's events: their schemas and catalog, the schema-registry client, and the codec that
 * turns events into Confluent-framed Avro record values and back.
 *
 * ```ts
 * const codec = new EventCodec({ registry: createSchemaRegistryClient(config), topicPrefix: config.topics.prefix });
 * await codec.prepare();
 * const event = createEvent('UserCreated', { userId, email, name, plan: 'FREE', country: 'DE' });
 * const value = codec.encodeSync(event); // key: eventKey(event), topic: topicOf(event.type, prefix)
 * ```
 */
export {
  EVENT_TYPE_HEADER,
  EVENT_TYPES,
  TOPICS,
  createEvent,
  eventCatalog,
  eventKey,
  eventTypeOfRecord,
  isEventType,
  subjectOf,
  topicName,
  topicOf,
} from './catalog.js';
export type {
  EventData,
  EventDefinition,
  EventInput,
  EventOf,
  KeyField,
  TopicName,
  TributaryEvent,
} from './catalog.js';
export type * from './generated/events.js';
export { EVENT_NAMESPACE, avroTypeOptions, parseSchema } from './avro-schema.js';
export type { AvroRecordSchema, AvroSchema } from './avro-schema.js';
export { SchemaRegistryClient, createSchemaRegistryClient } from './registry.js';
export type { Compatibility, CompatibilityResult, SchemaRegistryOptions, SchemaSource } from './registry.js';
export { EventCodec } from './codec.js';
export {
  ANALYTICS_NAMESPACE,
  WINDOW_RESULT_RECORD,
  WindowResultCodec,
  windowResultSchema,
  windowResultSubject,
} from './analytics-window.js';
export type { PageCount, WindowResult, WindowResultRegistry } from './analytics-window.js';
export type { CodecRegistry, EventCodecOptions } from './codec.js';
export { eventTimeIssue, findIssues, validateEvent, validateEventTime } from './validate.js';
export type { EventClock } from './validate.js';
export { HEADER_LENGTH, MAGIC_BYTE, encodeHeader, frame, parseHeader } from './wire-format.js';
export type { WireHeader } from './wire-format.js';
