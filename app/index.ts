/**
 * Tributary's public API, the package's `.` export: what an app is written with and what a
 * program that publishes events or loads an app needs. Everything else is the engine's own.
 */
export { defineApp, defineProjection, defineTopic } from './define.js';
export type { AppDefinition } from './define.js';
export { resolveApp } from './app.js';
export type { App } from './app.js';
export { CONFIG_FILES, findAppFile, loadApp } from './load-app.js';
export type { LoadAppOptions } from './load-app.js';
export { EVENT_TYPE_HEADER, EventCatalog, createEvent, topicName } from '../schemas/catalog.js';
export type {
  AppEvent,
  EventDefinition,
  EventEnvelope,
  EventInput,
  TopicDeclaration,
  TopicDefinition,
} from '../schemas/catalog.js';
export type { WriteBatch } from '../consumers/offset-fence.js';
export type { PartitionKeys } from '../lib/redis-keys.js';
export type { AppliedRecord, Projection, ProjectionSetup } from '../consumers/runtime/types.js';
export {
  ErrorCodes,
  TributaryError,
  UnrecoverableError,
  isTributaryError,
  isUnrecoverable,
} from '../lib/errors.js';
export type { ErrorCode } from '../lib/errors.js';
export { Publisher } from '../producers/publisher.js';
export type { EventGenerator, GeneratorOptions } from '../producers/event-generator.js';
export type { IngestRouteKit, IngestRoutes } from '../producers/http/route-kit.js';
export type { FieldError } from '../producers/http/http-error.js';
export { defineBridge } from '../producers/bridge.js';
export type { BridgeDefinition, BridgeSource, UpcastResult } from '../producers/bridge.js';
export { createLegacyProducer } from '../producers/legacy-producer.js';
export type { LegacyMessage, LegacyProducer } from '../producers/legacy-producer.js';
export type { PublishResult, PublisherOptions } from '../producers/publisher.js';
export { loadConfig } from '../lib/config.js';
export { initLogger } from '../lib/logger.js';
export type { Logger } from '../lib/logger.js';
export type { TributaryConfig } from '../lib/config.js';
export { defineReader, pageParams } from '../lib/read-models/reader.js';
export type { ReadableModel, Reader, ReaderContext } from '../lib/read-models/reader.js';
export { ReadModelError, ReadModelErrorCodes, isReadModelError } from '../lib/read-models/errors.js';
export type { ReadModelErrorCode } from '../lib/read-models/errors.js';
export {
  MAX_CURSOR_LENGTH,
  cursorInt,
  cursorString,
  decodeCursor,
  encodeCursor,
  invalidCursor,
} from '../lib/read-models/cursor.js';
export type { CursorPart } from '../lib/read-models/cursor.js';
export type { JsonSchema } from '../lib/http/openapi.js';
export { prng, zipfSampler } from '../producers/random.js';
/**
 * The shop example's hand-written analytics group (windows of its users, orders and page views).
 * It goes once analytics are declared in the app definition.
 */
export { analyticsProjection } from '../consumers/analytics/analytics-projection.js';
