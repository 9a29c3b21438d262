/**
 * Events as people and scripts write them in JSON (NDJSON files, the CLI): the same envelope and
 * rules as the HTTP service, `{ "type": "UserCreated", "data": { … } }` with `eventId` and
 * `occurredAt` optional, checked against the Avro schema and the clock with the path of every bad
 * field.
 */
import type { AppEvent, EventCatalog } from '../schemas/catalog.js';
import type { EventClock } from '../schemas/validate.js';
import type { FieldError } from './http/http-error.js';
import { parseEnvelope } from './http/request-body.js';

export type EventInputResult =
  | { readonly ok: true; readonly event: AppEvent }
  | { readonly ok: false; readonly message: string; readonly fields: readonly FieldError[] };

/** Turns parsed JSON into a valid event, or says precisely what is wrong (every field at once). */
export function parseEventInput(catalog: EventCatalog, input: unknown, clock: EventClock): EventInputResult {
  const parsed = parseEnvelope(catalog, input, '', clock);
  if (parsed.ok) return { ok: true, event: parsed.value };
  const message = parsed.errors.map((e) => `${e.path || '(root)'}: ${e.message}`).join('; ');
  return { ok: false, message, fields: parsed.errors };
}
