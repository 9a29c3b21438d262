/**
 * From request bodies to events, at the edge: the envelope (`{ type, data }`), the fields the
 * server fills in (`eventId`, `occurredAt`), then the event type's own Avro schema through
 * {@link findIssues}, so the HTTP rules are exactly the schema's, and the event-time bound every
 * producer path shares ({@link eventTimeIssue}). Every problem becomes a
 * {@link FieldError} with the path of the bad value. Pure: no I/O, unit-tested without a server.
 */
import { randomUUID } from 'node:crypto';
import type { AppEvent, EventCatalog } from '../../schemas/catalog.js';
import { eventTimeIssue, findIssues } from '../../schemas/validate.js';
import type { EventClock } from '../../schemas/validate.js';
import type { FieldError } from './http-error.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** RFC 3339 date-time with a required offset: `2026-03-01T12:00:00Z`, `2026-03-01T13:00:00.250+01:00`. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Either the value or the problems found. */
export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: FieldError[] };

/** An unknown `type` is reported with this message prefix, so callers can tell it apart. */
export const UNKNOWN_TYPE_MESSAGE = 'unknown event type';

/** A JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Joins a path prefix and a suffix: `('[3]', 'data')` → `[3].data`, `('', 'email')` → `email`. */
export function joinPath(prefix: string, suffix: string): string {
  if (prefix === '') return suffix;
  if (suffix === '' || suffix.startsWith('[')) return `${prefix}${suffix}`;
  return `${prefix}.${suffix}`;
}

/**
 * Epoch milliseconds from `occurredAt` as given: an integer, or an RFC 3339 / ISO-8601 date-time with
 * a time zone. Returns undefined for anything else (a number that is not an integer is left to the
 * schema check, which names it).
 */
export function parseOccurredAt(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Date.parse rolls 2026-02-30 over to March: check the calendar date and clock ourselves.
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day); // Date.UTC would read years 0-99 as 1900-1999
  if (
    calendar.getUTCFullYear() !== year ||
    calendar.getUTCMonth() !== month - 1 ||
    calendar.getUTCDate() !== day
  ) {
    return undefined;
  }
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Turns the issues of {@link findIssues} (`data.items[0].sku: expected string, got …`) into field
 * errors whose paths start with `prefix` instead of `data` (`''` for resource routes, whose body is
 * the payload itself).
 */
export function issuesToFieldErrors(issues: readonly string[], prefix: string): FieldError[] {
  return issues.map((issue) => {
    const m = /^data((?:\.|\[).*?)?: ((?:expected|not a field of) .*)$/s.exec(issue);
    if (!m) return { path: prefix, message: issue };
    const rest = (m[1] ?? '').replace(/^\./, '');
    return { path: joinPath(prefix, rest), message: m[2]! };
  });
}

/**
 * Completes and checks one event's payload: fills `eventId` (random UUID) and `occurredAt`
 * (`clock.now`) when absent, converts an ISO-8601 `occurredAt` to epoch ms, then checks the payload
 * against the type's schema, its time against the clock (at most `clock.maxClockSkewMs` ahead) and
 * its partition key. `prefix` is the path of the payload in the body.
 */
export function completeEvent(
  catalog: EventCatalog,
  type: string,
  payload: Readonly<Record<string, unknown>>,
  prefix: string,
  clock: EventClock,
): Parsed<AppEvent> {
  const errors: FieldError[] = [];
  // Envelope keys first: new keys added after a spread give each object its own V8 hidden class,
  // and avsc validates and encodes such objects several times slower (see createEvent).
  const data: Record<string, unknown> = { eventId: undefined, occurredAt: undefined, ...payload };
  if (data.eventId === undefined) data.eventId = randomUUID();
  else if (typeof data.eventId !== 'string' || !UUID.test(data.eventId)) {
    errors.push({ path: joinPath(prefix, 'eventId'), message: 'expected a UUID string (or leave it out)' });
  }
  if (data.occurredAt === undefined) data.occurredAt = clock.now;
  else {
    const ms = parseOccurredAt(data.occurredAt);
    if (ms === undefined) {
      errors.push({
        path: joinPath(prefix, 'occurredAt'),
        message:
          'expected epoch milliseconds or an ISO-8601 date-time with a time zone (e.g. 2026-03-01T12:00:00Z)',
      });
    } else data.occurredAt = ms;
  }
  const definition = catalog.get(type);
  const issues = findIssues(definition.avroType, data);
  const timeIssue = eventTimeIssue(data.occurredAt, clock);
  if (timeIssue !== undefined) issues.push(timeIssue);
  if (errors.length > 0) {
    // Keep the schema's other findings, but not its second opinion on the two fields above.
    const known = new Set(errors.map((e) => e.path));
    const rest = issuesToFieldErrors(issues, prefix);
    return { ok: false, errors: [...errors, ...rest.filter((e) => !known.has(e.path))] };
  }
  if (issues.length > 0) return { ok: false, errors: issuesToFieldErrors(issues, prefix) };
  const { keyFields } = definition;
  if (!keyFields.some((f) => typeof data[f] === 'string' && data[f] !== '')) {
    const field = keyFields[keyFields.length - 1]!;
    return {
      ok: false,
      errors: [
        {
          path: joinPath(prefix, field),
          message: `must not be empty: the partition key is the first non-empty of ${keyFields.join(', ')}`,
        },
      ],
    };
  }
  return { ok: true, value: { type, data } as unknown as AppEvent };
}

/**
 * Parses one `{ "type": "UserCreated", "data": { … } }` envelope found at `prefix` in the body
 * (`''` for `POST /events`, `[3]` for the fourth event of a batch), with {@link completeEvent}.
 */
export function parseEnvelope(
  catalog: EventCatalog,
  body: unknown,
  prefix: string,
  clock: EventClock,
): Parsed<AppEvent> {
  if (!isPlainObject(body)) {
    return {
      ok: false,
      errors: [{ path: prefix, message: 'expected an object {"type": "<EventType>", "data": {…}}' }],
    };
  }
  const errors: FieldError[] = [];
  for (const key of Object.keys(body)) {
    if (key !== 'type' && key !== 'data') {
      errors.push({ path: joinPath(prefix, key), message: 'not a field of the event envelope (type, data)' });
    }
  }
  const { type, data } = body;
  if (!catalog.isEventType(type)) {
    const known = catalog.types.join(', ');
    errors.push({
      path: joinPath(prefix, 'type'),
      message:
        typeof type === 'string'
          ? `${UNKNOWN_TYPE_MESSAGE} ${JSON.stringify(type.slice(0, 64))}; expected one of ${known}`
          : `expected one of ${known}`,
    });
  }
  if (!isPlainObject(data)) {
    errors.push({ path: joinPath(prefix, 'data'), message: 'expected an object: the event payload' });
  }
  if (errors.length > 0 || !catalog.isEventType(type) || !isPlainObject(data)) return { ok: false, errors };
  return completeEvent(catalog, type, data, joinPath(prefix, 'data'), clock);
}

/** True when every error is about an unknown event type (the response's code says so). */
export function onlyUnknownType(errors: readonly FieldError[]): boolean {
  return errors.length > 0 && errors.every((e) => e.message.startsWith(UNKNOWN_TYPE_MESSAGE));
}

/**
 * Splits an NDJSON body into values, one per non-blank line, stopping once more than `max` are
 * found (the caller refuses the batch then). A line that is not JSON is an error naming its number.
 */
export function parseNdjson(text: string, max: number): Parsed<unknown[]> {
  const values: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    if (values.length === max + 1) break;
    try {
      values.push(JSON.parse(line));
    } catch {
      return {
        ok: false,
        errors: [{ path: `[${values.length}]`, message: `line ${i + 1} is not valid JSON` }],
      };
    }
  }
  return { ok: true, value: values };
}
