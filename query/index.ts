/**
 * The query side (DESIGN.md §6): the analysts' HTTP API over the read models and analytics in
 * Redis, and its live stream (SSE). `startQueryService` runs it; `buildQueryServer` builds the app
 * for tests; `registerQueryCommand` adds `tributary query …`. The readers themselves are in
 * lib/read-models, shared with the CLI.
 */
export { buildQueryServer } from './server.js';
export type { QueryServer, QueryServerOptions } from './server.js';
export { startQueryService } from './service.js';
export type { QueryService, QueryServiceOptions } from './service.js';
export { StreamHub } from './sse.js';
export { QueryErrorCodes, QueryHttpError, isQueryHttpError } from './http-error.js';
export type { ErrorBody, FieldError, QueryErrorCode } from './http-error.js';
export { registerQueryCommand } from './query-command.js';
