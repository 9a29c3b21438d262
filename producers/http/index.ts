/**
 * The HTTP ingestion service: events in over HTTP (`POST /events`, `/events/batch`, `/users`),
 * validated by their Avro schemas, published through the {@link Publisher}, answered once Kafka
 * acknowledged them. `startIngestService` runs it; `buildIngestServer` builds the app for tests.
 */
export { buildIngestServer } from './server.js';
export type { IngestServer, IngestServerOptions } from './server.js';
export { startIngestService } from './service.js';
export type { IngestService, IngestServiceOptions } from './service.js';
export type { IngestPublisher } from './routes.js';
export { HttpError, HttpErrorCodes, isHttpError } from './http-error.js';
export type { ErrorBody, FieldError, HttpErrorCode } from './http-error.js';
export type { ReadinessProbe, ReadinessReport } from './readiness.js';
export { registerIngestCommand } from './ingest-command.js';
