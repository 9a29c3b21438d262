/**
 * The shop example as tests use it: its app resolved from examples/shop/tributary.config.ts, its
 * catalog, and typed helpers over that catalog (`createEvent('UserCreated', …)` typed by the
 * generated payloads).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveApp } from '../../app/app.js';
import shopDefinition from '../../examples/shop/tributary.config.js';
import type { AnyEvent, EventDataMap, EventType } from '../../examples/shop/generated/events.js';
import {
  EVENT_TYPE_HEADER,
  topicName,
  type EventDefinition,
  type EventInput,
} from '../../schemas/catalog.js';

export type { AnyEvent, EventDataMap, EventOf, EventType } from '../../examples/shop/generated/events.js';
/** A shop event of `type`, typed by its payload (the generated helper). */
export { createEvent } from '../../examples/shop/generated/events.js';
/** A shop event (the generated union). */
export type TributaryEvent = AnyEvent;
/** The payload of a shop event type. */
export type EventData<K extends EventType = EventType> = EventDataMap[K];
/** A shop payload without the envelope fields, which {@link createEvent} fills in. */
export type ShopEventInput<K extends EventType> = EventInput<EventDataMap[K]>;
export { EVENT_TYPE_HEADER, topicName };

/** examples/shop of this checkout. */
export const SHOP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/shop');

/** The shop app, resolved as the CLI resolves it. */
export const shopApp = resolveApp(shopDefinition, path.join(SHOP_DIR, 'tributary.config.ts'));
export const shopCatalog = shopApp.catalog;

/** The shop's projections, by name. */
export const projections = Object.fromEntries(shopApp.projections);
/** The shop's projections as the query service serves them. */
export const shopModels = [...shopApp.projections.values()];

/** The shop's event types, in catalog order. */
export const EVENT_TYPES = shopCatalog.types as readonly EventType[];

/** The shop's event topics. */
export const TOPICS = shopCatalog.eventTopics.map((t) => t.name) as readonly (
  'users' | 'orders' | 'page-views'
)[];

/** The catalog's definitions by event type. */
export const eventCatalog = Object.fromEntries(EVENT_TYPES.map((t) => [t, shopCatalog.get(t)])) as {
  readonly [K in EventType]: EventDefinition;
};

export const eventKey = (event: AnyEvent): string => shopCatalog.eventKey(event);
export const topicOf = (type: EventType, prefix = ''): string => shopCatalog.topicOf(type, prefix);
export const subjectOf = (type: EventType, prefix = ''): string => shopCatalog.subjectOf(type, prefix);
export const isEventType = (name: unknown): name is EventType => shopCatalog.isEventType(name);
export const eventTypeOfRecord = (name: string | undefined): EventType | undefined =>
  shopCatalog.typeOfRecord(name) as EventType | undefined;
