/**
 * A client for a Confluent-compatible schema registry (Confluent, Apicurio's `/apis/ccompat/v7`,
 * Karapace): registration and writer-schema look-ups go through `@kafkajs/confluent-schema-registry`
 * (retries, in-flight de-duplication); subject config and compatibility checks, which that library
 * does not expose, through `fetch`. Everything that repeats is cached: ids by subject and schema
 * text, writer Types by id. Failures become {@link TributaryError}s with a stable code.
 */
import { createHash } from 'node:crypto';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import type { Type } from 'avsc';
import type { TributaryConfig } from '../lib/config.js';
import { ErrorCodes, TributaryError, UnrecoverableError } from '../lib/errors.js';
import { avroTypeOptions, parseSchema } from './avro-schema.js';
import type { AvroRecordSchema } from './avro-schema.js';

/** A subject's compatibility level. Tributary's subjects use `BACKWARD` (DESIGN.md §3). */
export type Compatibility =
  'NONE' | 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE';

/** How to reach the registry. */
export interface SchemaRegistryOptions {
  /** Base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:8081/apis/ccompat/v7`. */
  readonly url: string;
  /** Sent as the client id / user agent. */
  readonly clientId?: string;
  /** HTTP basic auth, for registries that require it. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** Timeout of each call made with `fetch`, in milliseconds. Default 10 000. */
  readonly timeoutMs?: number;
}

/** The answer of {@link SchemaRegistryClient.testCompatibility}. */
export interface CompatibilityResult {
  readonly compatible: boolean;
  /** The registry's reasons, when it gives them (Confluent with `verbose=true`; Apicurio gives none). */
  readonly messages: readonly string[];
}

/** A schema to register: the record schema as written, or its JSON text. */
export type SchemaSource = AvroRecordSchema | string;

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
/** Ids whose schema can never be served (unknown, not Avro) are remembered, up to this many. */
const MAX_FAILURES = 1024;

function schemaText(schema: SchemaSource): string {
  return typeof schema === 'string' ? schema : JSON.stringify(schema);
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** ` (ECONNREFUSED)`, say, from the cause fetch gives its network errors. */
function causeCode(err: unknown): string {
  const code = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' ? ` (${code})` : '';
}

function messageOf(err: unknown, clientId?: string): string {
  const message = err instanceof Error ? err.message : String(err);
  // The library prefixes the registry's own message with the client id.
  const prefix = `${clientId} - `;
  return clientId !== undefined && message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

/** Parses a schema to be registered, or refuses it as {@link ErrorCodes.SCHEMA_INVALID}. */
function parseLocally(subject: string, text: string): Type {
  try {
    return parseSchema(JSON.parse(text) as AvroRecordSchema);
  } catch (err) {
    throw new UnrecoverableError(
      ErrorCodes.SCHEMA_INVALID,
      `schema for ${subject} is not valid Avro: ${messageOf(err)}`,
      { cause: err },
    );
  }
}

/** Maps a failed registry call to a typed error. `what` says what was attempted. */
function registryError(
  what: string,
  status: number | undefined,
  message: string,
  cause?: unknown,
): TributaryError {
  const detail = `${what}: ${status === undefined ? '' : `HTTP ${status}: `}${message}`;
  if (status === 409) return new UnrecoverableError(ErrorCodes.SCHEMA_INCOMPATIBLE, detail, { cause });
  if (status === 422) return new UnrecoverableError(ErrorCodes.SCHEMA_INVALID, detail, { cause });
  return new TributaryError(ErrorCodes.SCHEMA_REGISTRY, detail, { cause });
}

/** A Confluent-compatible schema registry, with caches. One instance per process is enough. */
export class SchemaRegistryClient {
  /** The base URL, without a trailing slash. */
  readonly url: string;
  private readonly clientId: string;
  private readonly client: SchemaRegistry;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly ids = new Map<string, Promise<number>>();
  private readonly writerTypes = new Map<number, Type>();
  private readonly failures = new Map<number, UnrecoverableError>();

  constructor(options: SchemaRegistryOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.clientId = options.clientId ?? 'tributary';
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.headers = { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE };
    if (options.auth) {
      const token = Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64');
      this.headers.authorization = `Basic ${token}`;
    }
    this.client = new SchemaRegistry(
      {
        host: this.url,
        clientId: this.clientId,
        ...(options.auth === undefined ? {} : { auth: options.auth }),
      },
      // Writer Types must be built like the catalog's reader Types, or resolution may differ.
      { [SchemaType.AVRO]: avroTypeOptions() },
    );
  }

  /**
   * Registers `schema` under `subject` (or finds it, when that exact schema is already there) and
   * returns its id. First sets the subject's compatibility level, so that the registry checks the
   * new version against the old ones. Cached: the registry is asked once per subject and schema.
   *
   * @throws {@link UnrecoverableError} `TRIBUTARY_SCHEMA_INCOMPATIBLE` with the registry's message
   *   when the schema breaks the subject's compatibility, `TRIBUTARY_SCHEMA_INVALID` when the
   *   registry cannot parse it; {@link TributaryError} `TRIBUTARY_SCHEMA_REGISTRY` for other failures.
   */
  register(
    subject: string,
    schema: SchemaSource,
    options: { readonly compatibility?: Compatibility } = {},
  ): Promise<number> {
    const compatibility = options.compatibility ?? 'BACKWARD';
    const text = schemaText(schema);
    return this.cachedId(`register\0${compatibility}\0${subject}`, text, async () => {
      // Parse here first: a schema avsc cannot read is refused before the subject is touched.
      const type = parseLocally(subject, text);
      await this.setCompatibility(subject, compatibility);
      let id: number;
      try {
        ({ id } = await this.client.register(
          { type: SchemaType.AVRO, schema: text },
          { subject, compatibility: compatibility as COMPATIBILITY },
        ));
      } catch (err) {
        const status = statusOf(err);
        const what =
          status === 409
            ? `the registry refused a new version of ${subject} as incompatible (${compatibility})`
            : `registering a schema under ${subject}`;
        throw registryError(what, status, messageOf(err, this.clientId), err);
      }
      // The registry gives one id only to schemas with the same binary encoding, so this process's
      // own schema serves as the writer Type of that id: no fetch to decode what it wrote.
      if (!this.writerTypes.has(id)) this.writerTypes.set(id, type);
      return id;
    });
  }

  /**
   * Returns the id of `schema`, which must already be registered under `subject` (for producers
   * that may not register). Cached.
   *
   * @throws {@link UnrecoverableError} `TRIBUTARY_SCHEMA_NOT_FOUND` when it is not registered there.
   */
  lookup(subject: string, schema: SchemaSource): Promise<number> {
    const text = schemaText(schema);
    return this.cachedId(`lookup\0${subject}`, text, async () => {
      const type = parseLocally(subject, text);
      try {
        const id = await this.client.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: text });
        if (!this.writerTypes.has(id)) this.writerTypes.set(id, type);
        return id;
      } catch (err) {
        // The library turns a 404 into an error without a status.
        if (statusOf(err) === undefined && (err as Error).name === 'ConfluentSchemaRegistryError') {
          throw new UnrecoverableError(
            ErrorCodes.SCHEMA_NOT_FOUND,
            `schema is not registered under ${subject}: ${messageOf(err, this.clientId)}`,
            { cause: err },
          );
        }
        throw registryError(
          `looking up a schema under ${subject}`,
          statusOf(err),
          messageOf(err, this.clientId),
          err,
        );
      }
    });
  }

  /** Sets the compatibility level of one subject (`PUT /config/{subject}`); works before its first version. */
  async setCompatibility(subject: string, compatibility: Compatibility): Promise<void> {
    const res = await this.http('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility });
    if (res.status >= 300)
      throw registryError(`setting ${compatibility} on ${subject}`, res.status, res.message);
  }

  /** The subject's own compatibility level, or undefined when it has none (then the global one applies). */
  async getCompatibility(subject: string): Promise<Compatibility | undefined> {
    const res = await this.http('GET', `/config/${encodeURIComponent(subject)}`);
    if (res.status === 404) return undefined;
    if (res.status >= 300) throw registryError(`reading the config of ${subject}`, res.status, res.message);
    const body = res.body as { compatibilityLevel?: Compatibility; compatibility?: Compatibility };
    return body.compatibilityLevel ?? body.compatibility;
  }

  /**
   * Asks whether `schema` could be registered under `subject` now, without registering it. A
   * subject with no versions yet accepts anything.
   */
  async testCompatibility(subject: string, schema: SchemaSource): Promise<CompatibilityResult> {
    const path = `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`;
    const res = await this.http('POST', path, { schema: schemaText(schema) });
    if (res.status === 404) return { compatible: true, messages: [] };
    if (res.status >= 300)
      throw registryError(`testing compatibility with ${subject}`, res.status, res.message);
    const body = res.body as { is_compatible?: boolean; messages?: unknown };
    const messages = Array.isArray(body.messages) ? body.messages.map(String) : [];
    return { compatible: body.is_compatible === true, messages };
  }

  /**
   * The writer Type registered under `id`, fetched once and cached.
   *
   * @throws {@link UnrecoverableError} `TRIBUTARY_SCHEMA_NOT_FOUND` when the registry has no such id,
   *   `TRIBUTARY_DECODE_FAILED` when the schema is not Avro; {@link TributaryError}
   *   `TRIBUTARY_SCHEMA_REGISTRY` when the registry cannot be reached (worth a retry).
   */
  async writerType(id: number): Promise<Type> {
    const cached = this.cachedWriterType(id);
    if (cached) return cached;
    let schema: unknown;
    try {
      schema = await this.client.getSchema(id);
    } catch (err) {
      if (statusOf(err) !== 404) {
        throw registryError(`fetching schema id ${id}`, statusOf(err), messageOf(err, this.clientId), err);
      }
      throw this.remember(
        id,
        new UnrecoverableError(ErrorCodes.SCHEMA_NOT_FOUND, `schema id ${id} is not in the registry`, {
          cause: err,
        }),
      );
    }
    if (!avro.Type.isType(schema)) {
      throw this.remember(
        id,
        new UnrecoverableError(ErrorCodes.DECODE_FAILED, `schema id ${id} is not an Avro schema`),
      );
    }
    const type = schema as Type;
    this.writerTypes.set(id, type);
    return type;
  }

  /**
   * The writer Type of `id` if it is cached, else undefined; no I/O.
   *
   * @throws the same {@link UnrecoverableError} as {@link writerType} for an id that can never be served.
   */
  cachedWriterType(id: number): Type | undefined {
    const type = this.writerTypes.get(id);
    if (type) return type;
    const failure = this.failures.get(id);
    if (failure) throw failure;
    return undefined;
  }

  /** Remembers an id that can never be served, so that sync callers get the same error. */
  private remember(id: number, failure: UnrecoverableError): UnrecoverableError {
    if (this.failures.size >= MAX_FAILURES) this.failures.clear();
    this.failures.set(id, failure);
    return failure;
  }

  private cachedId(scope: string, text: string, load: () => Promise<number>): Promise<number> {
    const key = `${scope}\0${createHash('sha256').update(text).digest('hex')}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = load();
      this.ids.set(key, id);
      // Failures are not cached: the next call asks again.
      id.catch(() => this.ids.delete(key));
    }
    return id;
  }

  private async http(
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; message: string }> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: this.headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new TributaryError(
        ErrorCodes.SCHEMA_REGISTRY,
        `${method} ${this.url}${path}: schema registry unreachable: ${messageOf(err)}${causeCode(err)}`,
        { cause: err },
      );
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): keep the text.
    }
    const message = (parsed as { message?: unknown } | undefined)?.message;
    return { status: res.status, body: parsed, message: typeof message === 'string' ? message : text };
  }
}

/** A client for the registry in `config` (`TRIBUTARY_SCHEMA_REGISTRY_URL`, or the local stack's). */
export function createSchemaRegistryClient(config: TributaryConfig): SchemaRegistryClient {
  return new SchemaRegistryClient({ url: config.registry.url.value, clientId: config.kafka.clientId });
}
