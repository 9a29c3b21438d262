/**
 * How a projection says it is read (DESIGN.md §10): reader functions with JSON schemas for their
 * parameters and answers. The query service serves each at `GET /models/<projection>/<reader>`
 * (parameters in the query string, checked against the schema; OpenAPI from both schemas), and
 * `tributary query <projection> <reader>` prints it. A reader gets a {@link ReaderContext}: Redis,
 * the projection's current key version, and the keys of a topic's partitions, so it reads exactly
 * where the projection wrote.
 */
import type { Redis } from 'ioredis';
import type { JsonSchema } from '../http/openapi.js';
import { partitionOf } from '../partitioner.js';
import { MAX_CURSOR_LENGTH } from './cursor.js';
import { ProjectionKeys, type PartitionKeys } from '../redis-keys.js';
import { currentVersion, topicOf, type ReadModelSource } from './source.js';

/** What a reader reads with. */
export interface ReaderContext {
  /** The Redis the models live in. Read only: a reader never writes. */
  readonly redis: Redis;
  /**
   * The projection's key version readers use now (`v1`, `v2` after a rebuild); null: it never ran.
   * Read from Redis on first use and kept for the rest of this read.
   */
  version(): Promise<string | null>;
  /**
   * Keys of the partition of `topic` (base name) that holds `key`, found as producers partition
   * (murmur2 of the key); null when the projection never ran or the topic has no partitions.
   */
  partition(topic: string, key: string): Promise<PartitionKeys | null>;
  /** Keys of every partition of `topic`, in partition order (empty when the projection never ran). */
  partitions(topic: string): Promise<PartitionKeys[]>;
  /** The context of another projection of the app (e.g. a count kept by a group of its own). */
  of(projection: string): ReaderContext;
}

/**
 * One way to read a projection. `P` is its parameters (the query string, after the schema's
 * defaults and coercion), `A` its answer; `read` answers null for "not found" (HTTP 404).
 */
export interface Reader<P = Record<string, unknown>, A = unknown> {
  /** One line for `--help` and OpenAPI. */
  readonly description: string;
  /** JSON Schema of the parameters: an object of scalar properties (query-string values). */
  readonly params?: JsonSchema;
  /** JSON Schema of the answer. */
  readonly answer: JsonSchema;
  /** What a null answer means, for the 404's description. Default: "Not found." */
  readonly notFound?: string;
  read(params: P, ctx: ReaderContext): Promise<A | null>;
}

/** A projection as the query side sees it: its name and its readers. */
export interface ReadableModel {
  readonly name: string;
  // Method bivariance lets a reader of specific parameters stand here.
  readonly readers?: Readonly<Record<string, Reader<never>>>;
}

/**
 * The {@link ReaderContext} of `projection` over `source`, for one read. Nothing is read until the
 * reader asks (a parameter it refuses costs no Redis call); the key version is resolved once per
 * read, so a rebuild's swap is followed at once and one read sees one version.
 */
export function readerContext(source: ReadModelSource, projection: string): ReaderContext {
  const keys = new ProjectionKeys(source.keyPrefix, projection);
  let resolved: Promise<string | null> | undefined;
  const version = () => (resolved ??= currentVersion(source, projection).then((c) => c.version));
  return {
    redis: source.redis,
    version,
    async partition(topic, key) {
      const v = await version();
      if (v === null) return null;
      const full = topicOf(source, topic);
      const count = await source.partitions.count(full);
      return count === 0 ? null : keys.partition(v, full, partitionOf(key, count));
    },
    async partitions(topic) {
      const v = await version();
      if (v === null) return [];
      const full = topicOf(source, topic);
      const count = await source.partitions.count(full);
      return Array.from({ length: count }, (_, p) => keys.partition(v, full, p));
    },
    of: (other) => readerContext(source, other),
  };
}

/**
 * The `limit` and `cursor` parameters of a reader that pages, to spread into its `params`
 * properties. The query service caps `limit` at `TRIBUTARY_QUERY_MAX_PAGE_SIZE`.
 */
export function pageParams(defaultLimit = 50): Record<string, JsonSchema> {
  return {
    limit: { type: 'integer', minimum: 1, default: defaultLimit, description: 'Page size' },
    cursor: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_CURSOR_LENGTH,
      description: '`nextCursor` of the previous page (opaque)',
    },
  };
}

/** Identity helper that types a reader's `read` by its parameter and answer types. */
export function defineReader<P = Record<string, unknown>, A = unknown>(reader: Reader<P, A>): Reader<P, A> {
  return Object.freeze(reader);
}
