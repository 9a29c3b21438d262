/**
 * Validation of events against their Avro schema, at the edge (producers, HTTP ingestion), with
 * the path of every bad value in the message. Values themselves are left out of messages, except
 * numbers, booleans and would-be enum symbols: payloads carry personal data (emails, names) and
 * error messages end up in logs and dead-letter headers.
 */
import type { Type } from 'avsc';
import { ErrorCodes, UnrecoverableError } from '../lib/errors.js';
import type { AppEvent, EventCatalog } from './catalog.js';

interface NamedType {
  readonly typeName: string;
  readonly name?: string | undefined;
  readonly symbols?: readonly string[];
  readonly types?: readonly NamedType[];
  readonly fields?: readonly { readonly name: string }[];
}

/** `['items', '0', 'sku']` → `data.items[0].sku`. */
function formatPath(path: readonly string[]): string {
  return path.reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : `${acc}.${part}`), 'data');
}

function shortName(name: string | undefined): string {
  return name === undefined ? 'record' : name.slice(name.lastIndexOf('.') + 1);
}

function describeType(type: NamedType): string {
  if (type.typeName === 'enum') return `one of ${(type.symbols ?? []).join(', ')}`;
  if (type.typeName === 'record') return `a ${shortName(type.name)} object`;
  if (type.typeName === 'array') return 'an array';
  if (type.typeName === 'map') return 'an object (map)';
  if (type.typeName.startsWith('union')) return (type.types ?? []).map(describeType).join(' or ');
  if (type.typeName === 'int') return 'an int (32-bit integer)';
  if (type.typeName === 'long') return 'a long (integer)';
  return type.typeName;
}

function describeValue(value: unknown, expected: NamedType): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (typeof value === 'string') {
    return expected.typeName === 'enum' ? `string ${JSON.stringify(value.slice(0, 40))}` : 'a string';
  }
  if (Array.isArray(value)) return 'an array';
  return `a${typeof value === 'object' ? 'n' : ''} ${typeof value}`;
}

/**
 * Checks `data` against `type` and returns one line per problem, each naming the path of the bad
 * value (`data.items[0].quantity: expected an int (32-bit integer), got number 1.5`), including
 * fields the schema does not declare. An empty list means valid.
 */
export function findIssues(type: Type, data: unknown): string[] {
  // Fast path: valid, with no undeclared fields.
  if (type.isValid(data, { noUndeclaredFields: true })) return [];
  const issues: string[] = [];
  // Pass 1: wrong or missing values, each at its own path.
  type.isValid(data, {
    errorHook: (path, value, t) => {
      issues.push(`${formatPath(path)}: expected ${describeType(t)}, got ${describeValue(value, t)}`);
    },
  });
  // Pass 2: undeclared fields. avsc reports them at the record that holds them.
  type.isValid(data, {
    noUndeclaredFields: true,
    errorHook: (path, value, t) => {
      const record = t as unknown as NamedType;
      if (record.typeName !== 'record' || value === null || typeof value !== 'object') return;
      const declared = new Set((record.fields ?? []).map((f) => f.name));
      for (const key of Object.keys(value)) {
        if (!declared.has(key))
          issues.push(`${formatPath([...path, key])}: not a field of ${shortName(record.name)}`);
      }
    },
  });
  return issues;
}

/** What an event's time is checked against: this process's clock and the skew it tolerates. */
export interface EventClock {
  /** Now, epoch ms. */
  readonly now: number;
  /** `config.events.maxClockSkewMs`: how far ahead of `now` an `occurredAt` may be. */
  readonly maxClockSkewMs: number;
}

/**
 * True when event time `occurredAt` lies further ahead of `clock.now` than the skew allows: the one
 * rule producers refuse by and the analytics group counts as late by.
 */
export function isTooFarAhead(occurredAt: number, clock: EventClock): boolean {
  return occurredAt - clock.now > clock.maxClockSkewMs;
}

/**
 * The issue (`data.occurredAt: expected …`) when an event's time lies further ahead of the clock
 * than the skew it allows, else undefined. Such an event is refused where it enters, because once
 * in a topic it would push its partition's watermark ahead and make every later event late. A value
 * that is not a number is left to the schema check.
 */
export function eventTimeIssue(occurredAt: unknown, clock: EventClock): string | undefined {
  if (typeof occurredAt !== 'number' || !isTooFarAhead(occurredAt, clock)) return undefined;
  const ahead = occurredAt - clock.now;
  return (
    `data.occurredAt: expected an event time at most ${clock.maxClockSkewMs} ms ahead of the ` +
    `clock (TRIBUTARY_MAX_CLOCK_SKEW_MS), got one ${ahead} ms ahead`
  );
}

/**
 * Checks that an event's time is not too far ahead of the clock ({@link eventTimeIssue}).
 *
 * @throws {@link UnrecoverableError} `TRIBUTARY_EVENT_INVALID` naming `data.occurredAt`.
 */
export function validateEventTime(event: AppEvent<string, object>, clock: EventClock): void {
  const issue = eventTimeIssue((event.data as { occurredAt?: unknown }).occurredAt, clock);
  if (issue !== undefined) {
    throw new UnrecoverableError(ErrorCodes.EVENT_INVALID, `invalid ${event.type} event: ${issue}`);
  }
}

/**
 * Checks an event: a type `catalog` knows and a `data` payload valid for its schema (the catalog's,
 * unless `type` is given).
 *
 * @throws {@link UnrecoverableError} `TRIBUTARY_EVENT_TYPE_UNKNOWN` for an unknown type,
 *   `TRIBUTARY_EVENT_INVALID` listing every bad field path otherwise.
 */
export function validateEvent(catalog: EventCatalog, event: AppEvent<string, object>, type?: Type): void {
  const name: unknown = (event as { type?: unknown } | null)?.type;
  if (!catalog.isEventType(name)) {
    throw new UnrecoverableError(ErrorCodes.EVENT_TYPE_UNKNOWN, `unknown event type ${JSON.stringify(name)}`);
  }
  const issues = findIssues(type ?? catalog.get(name).avroType, event.data);
  if (issues.length > 0) {
    throw new UnrecoverableError(ErrorCodes.EVENT_INVALID, `invalid ${name} event: ${issues.join('; ')}`);
  }
}
