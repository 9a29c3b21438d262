/**
 * The helpers an app is written with (DESIGN.md §10). Each is an identity function that types and
 * freezes what it is given: defining an app touches no Kafka and no Redis, and importing a
 * `tributary.config.ts` does nothing but describe. The CLI loads the description
 * (`loadApp`), checks it against the `.avsc` files, and runs it.
 *
 * ```ts
 * import { defineApp, defineProjection } from 'tributary';
 * import type { AnyEvent } from './generated/events.js';
 *
 * const invoices = defineProjection<AnyEvent>({
 *   name: 'invoices',
 *   topics: ['invoices'],
 *   apply({ event }, w, keys) {
 *     if (event.type === 'InvoiceIssued') w.command('HINCRBY', keys.key('per-customer'), event.data.customerId, 1);
 *   },
 * });
 *
 * export default defineApp({
 *   name: 'billing',
 *   schemas: './schemas',
 *   topics: [{ name: 'invoices', events: ['InvoiceIssued'], key: ['customerId'] }],
 *   projections: [invoices],
 * });
 * ```
 */
import type { Projection } from '../consumers/runtime/types.js';
import type { BridgeDefinition } from '../producers/bridge.js';
import type { EventGenerator } from '../producers/event-generator.js';
import type { IngestRoutes } from '../producers/http/route-kit.js';
import type { AppEvent, TopicDeclaration } from '../schemas/catalog.js';

/** What a `tributary.config.ts` exports by default. */
export interface AppDefinition {
  /** The app's name (letters, digits, `-`, `_`, `.`): titles its AsyncAPI document and logs. */
  readonly name: string;
  /** The folder of the app's `.avsc` files (one event record each), relative to the config file. */
  readonly schemas: string;
  /** Its topics: which events each carries and what keys them; DLQ names are derived. */
  readonly topics: readonly TopicDeclaration[];
  /** Its projections, each its own consumer group, fenced by its own offsets in Redis. */
  // Method bivariance lets a projection of the app's own event union stand here.
  readonly projections?: readonly Projection<never>[];
  /** Upcasters of untyped records on topics of the app's into its events (`tributary bridge`). */
  readonly bridges?: readonly BridgeDefinition[];
  /** Routes of the app's own on the HTTP ingestion service, beside `/events` (see IngestRouteKit). */
  readonly ingestRoutes?: IngestRoutes;
  /** A deterministic stream of the app's events, for `tributary generate`, the demo and the bench. */
  readonly generator?: EventGenerator;
  /** Where `tributary codegen` writes the event types, relative to the config file. */
  readonly codegen?: { readonly out?: string };
}

function freezeDeep<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) freezeDeep(v);
  }
  return value;
}

/** Declares an app. Identity: the CLI checks the declaration when it loads it. */
export function defineApp<const A extends AppDefinition>(app: A): A {
  return freezeDeep(app);
}

/**
 * Declares a projection: a read model built by its own consumer group. `E` is the union of the
 * events it reads (the app's generated `AnyEvent`), which types `record.event` in `apply`.
 */
export function defineProjection<E extends AppEvent = AppEvent>(projection: Projection<E>): Projection<E> {
  return Object.freeze(projection);
}

/** Declares a topic (typed helper for a topic declared apart from `defineApp`). */
export function defineTopic<const T extends TopicDeclaration>(topic: T): T {
  return freezeDeep(topic);
}
