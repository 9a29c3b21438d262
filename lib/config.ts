/**
 * Tributary's one typed configuration, read from `TRIBUTARY_*` environment variables and
 * validated once at start. Defaults point at the local stack that `tributary stack up` starts.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { ErrorCodes, TributaryError } from './errors.js';

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const commaList = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** What an HTTP credential may do: `ingest` events, `query` read models (DESIGN.md §6). */
export const AUTH_SCOPES = ['ingest', 'query'] as const;
export type AuthScope = (typeof AUTH_SCOPES)[number];

/** One API key from `TRIBUTARY_AUTH_API_KEYS`. */
export interface ApiKeySpec {
  /** Shown in logs and metrics instead of the key; `key-<sha256 prefix>` when not given. */
  readonly name: string;
  readonly key: string;
  readonly scopes: readonly AuthScope[];
}

const API_KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const API_KEY_SECRET = /^[A-Za-z0-9_~+/.-]{16,512}$/;

/**
 * Parses `TRIBUTARY_AUTH_API_KEYS`: entries separated by `;` or newlines, each
 * `[name:]key=scope[,scope...]`, e.g. `ops:9f2c…e1=ingest,query; dashboard:77ab…03=query`. Keys are at
 * least 16 characters of `A-Z a-z 0-9 _ ~ + / . -` (hex or base64url, e.g. `openssl rand -hex 24`).
 * Returns the entries, or the reasons the value is wrong.
 */
export function parseApiKeys(value: string): { keys: ApiKeySpec[]; problems: string[] } {
  const keys: ApiKeySpec[] = [];
  const problems: string[] = [];
  const entries = value
    .split(/[;\n]/)
    .map((e) => e.trim())
    .filter(Boolean);
  entries.forEach((entry, i) => {
    const where = `entry ${i + 1}`;
    const eq = entry.lastIndexOf('=');
    if (eq < 0) {
      problems.push(`${where} has no "=scopes" (expected [name:]key=ingest,query)`);
      return;
    }
    const head = entry.slice(0, eq).trim();
    const colon = head.indexOf(':');
    const name = colon < 0 ? undefined : head.slice(0, colon).trim();
    const key = colon < 0 ? head : head.slice(colon + 1).trim();
    const scopes = entry
      .slice(eq + 1)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (name !== undefined && !API_KEY_NAME.test(name)) {
      problems.push(`${where}: name must be 1-64 characters of A-Z a-z 0-9 _ . -`);
    }
    if (!API_KEY_SECRET.test(key)) {
      // The key itself is never echoed: config errors end up in logs.
      problems.push(`${where}: key must be 16-512 characters of A-Z a-z 0-9 _ ~ + / . -`);
    }
    const unknown = scopes.filter((s) => !(AUTH_SCOPES as readonly string[]).includes(s));
    if (scopes.length === 0 || unknown.length > 0) {
      problems.push(
        `${where}: scopes must be a comma-separated subset of ${AUTH_SCOPES.join(', ')}` +
          (unknown.length > 0 ? ` (unknown: ${unknown.join(', ')})` : ''),
      );
    }
    if (keys.some((k) => k.key === key)) problems.push(`${where}: the same key is listed twice`);
    const finalName = name ?? `key-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
    if (keys.some((k) => k.name === finalName)) problems.push(`${where}: name ${finalName} is used twice`);
    keys.push({ name: finalName, key, scopes: [...new Set(scopes)] as AuthScope[] });
  });
  return { keys, problems };
}

/**
 * Whose `X-Forwarded-For` an HTTP service believes, as Fastify's `trustProxy` takes it: `false` (off:
 * the client IP is the peer address), or the addresses and CIDRs of the proxies in front of it, plus
 * the names `loopback`, `linklocal`, `uniquelocal`. Only a peer in the list may name the client, so a
 * client that connects directly cannot choose its address, and with it its rate-limit bucket. That
 * is why `true` (every peer) and a hop count (which cannot tell a proxy from a client; Fastify 5
 * honours none and trusts nothing then) are refused.
 */
export type TrustProxy = false | readonly string[];

const PROXY_NAMES: ReadonlySet<string> = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** True for an IP address, a CIDR (`10.0.0.0/8`, `fd00::/8`) or one of {@link PROXY_NAMES}. */
function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.has(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const PROXY_EXAMPLE =
  'give the addresses or CIDRs of the proxies in front of the service (e.g. 127.0.0.1 or ' +
  '10.0.0.0/8,fd00::/8)';

const trustProxy = z.string().transform((value, ctx): TrustProxy => {
  const v = value.trim().toLowerCase();
  if (v === 'false' || v === 'no' || v === '0') return false;
  const refuse = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  if (v === 'true' || v === 'yes') {
    return refuse(
      '"true" would believe X-Forwarded-For from every client, letting each choose its rate-limit ' +
        `key: ${PROXY_EXAMPLE}; false or unset turns it off`,
    );
  }
  if (/^\d+$/.test(v)) {
    return refuse(
      'a hop count cannot tell a proxy from a client that connects directly (Fastify trusts no ' +
        `one given one): ${PROXY_EXAMPLE}`,
    );
  }
  const entries = v
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const bad = entries.filter((e) => !isProxyAddress(e));
  if (entries.length === 0 || bad.length > 0) {
    const which = bad.length > 0 ? `; not an address or CIDR: ${bad.join(', ')}` : '';
    return refuse(
      `expected false, or comma-separated proxy addresses/CIDRs (or loopback, linklocal, uniquelocal)${which}`,
    );
  }
  return entries;
});

const apiKeys = z.string().transform((value, ctx) => {
  const { keys, problems } = parseApiKeys(value);
  for (const message of problems) ctx.addIssue({ code: 'custom', message });
  return problems.length > 0 ? z.NEVER : keys;
});

/** Every environment variable Tributary reads, with its default. */
const envSchema = z.object({
  TRIBUTARY_STATE_DIR: z.string().min(1).default('.tributary'),
  /** Where Maven puts the Kafka and registry distributions (shared by every state dir). */
  TRIBUTARY_DIST_DIR: z.string().min(1).default('.tributary/dist'),
  TRIBUTARY_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),

  // Endpoints. When one is set, that part of the stack is external and `stack up` leaves it alone.
  TRIBUTARY_KAFKA_BROKERS: z.string().min(1).optional(),
  TRIBUTARY_SCHEMA_REGISTRY_URL: z.url().optional(),
  TRIBUTARY_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),

  // Ports of the local stack (loopback only).
  TRIBUTARY_KAFKA_PORT: port.default(9092),
  TRIBUTARY_KAFKA_CONTROLLER_PORT: port.default(9093),
  TRIBUTARY_REGISTRY_PORT: port.default(8081),
  TRIBUTARY_REGISTRY_MANAGEMENT_PORT: port.default(9000),
  TRIBUTARY_REDIS_PORT: port.default(6379),
  /** Put in front of every Redis key Tributary writes. */
  TRIBUTARY_REDIS_KEY_PREFIX: z.string().default('trib:'),
  TRIBUTARY_KAFKA_HEAP: z.string().default('1g'),
  TRIBUTARY_REGISTRY_HEAP: z.string().default('512m'),
  /** A JDK (21+) for the schema registry; found under /usr/lib/jvm when unset. */
  TRIBUTARY_REGISTRY_JAVA_HOME: z.string().optional(),
  TRIBUTARY_STACK_TIMEOUT_MS: positiveInt.default(120_000),

  // Kafka client.
  TRIBUTARY_KAFKA_CLIENT_ID: z.string().min(1).default('tributary'),
  TRIBUTARY_CLIENT_ENGINE: z.enum(['kafkajs', 'confluent']).default('kafkajs'),

  // Topics.
  TRIBUTARY_TOPIC_PREFIX: z.string().default(''),
  TRIBUTARY_TOPIC_PARTITIONS: positiveInt.default(6),
  TRIBUTARY_TOPIC_REPLICATION_FACTOR: positiveInt.default(1),
  TRIBUTARY_TOPIC_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(-1)
    .default(7 * 24 * 3600 * 1000),
  TRIBUTARY_DLQ_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(-1)
    .default(30 * 24 * 3600 * 1000),
  TRIBUTARY_TOPIC_AUTO_PROVISION: bool.default(true),

  // Events.
  /**
   * How far ahead of this process's clock an event's `occurredAt` may be: refused beyond it at
   * ingestion and by the publisher, and late for the analytics group (it never moves a watermark).
   */
  TRIBUTARY_MAX_CLOCK_SKEW_MS: z.coerce.number().int().min(0).default(300_000),

  // HTTP ingestion service (`tributary ingest`).
  TRIBUTARY_INGEST_HOST: z.string().min(1).default('127.0.0.1'),
  TRIBUTARY_INGEST_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Where `tributary consume` serves /metrics, /healthz, /readyz (port 0: not served). */
  TRIBUTARY_CONSUMER_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  TRIBUTARY_CONSUMER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /**
   * How long the group waits for a silent member (a crashed process) before its partitions move
   * to the others. Lower means faster failover after a kill -9, but a long GC pause or a stalled
   * event loop may then cost a needless rebalance. Within the broker's default bounds (6 s–30 min).
   */
  TRIBUTARY_CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(1_800_000).default(30_000),
  /**
   * How long every projection and the analytics group remember the event ids they applied, per
   * partition, to drop a retried event (same `eventId`) inside the fence; 0 turns it off. Sized
   * for client retries; costs Redis memory in proportion to events/s times the horizon.
   */
  TRIBUTARY_DEDUP_HORIZON_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600 * 1000)
    .default(15 * 60 * 1000),
  /**
   * How often a consumer checks that Redis still holds the offsets it applied (also after every
   * reconnection): a partition with nothing new to fence would not show a loss otherwise.
   */
  TRIBUTARY_CONSUMER_VERIFY_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(5_000),
  /**
   * How long `tributary consume` waits on SIGTERM/SIGINT for its batches in hand to be fenced and
   * its groups left before it ends itself anyway (SIGKILL): a broker that does not answer never
   * keeps it from stopping. Nothing is lost either way: Redis holds what was applied.
   */
  TRIBUTARY_CONSUMER_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),

  // Analytics windows, in event time (DESIGN.md §5; consumers/analytics/).
  /** Size of the tumbling windows. */
  TRIBUTARY_ANALYTICS_TUMBLING_MS: positiveInt.default(60_000),
  /** Size of the hopping windows, and how far each starts after the previous one (at most the size). */
  TRIBUTARY_ANALYTICS_HOPPING_SIZE_MS: positiveInt.default(300_000),
  TRIBUTARY_ANALYTICS_HOPPING_ADVANCE_MS: positiveInt.default(60_000),
  /** A partition's watermark trails the largest event time it has seen by this much. */
  TRIBUTARY_ANALYTICS_ALLOWED_LATENESS_MS: z.coerce.number().int().min(0).default(5_000),
  /** A window closes once the watermark passes its end plus this. */
  TRIBUTARY_ANALYTICS_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** Window keys in Redis expire this long after their last update. */
  TRIBUTARY_ANALYTICS_RETENTION_MS: positiveInt.default(24 * 3600 * 1000),
  /** Pages listed in a window's result (the query side may ask for fewer or more). */
  TRIBUTARY_ANALYTICS_TOP_N: positiveInt.default(10),
  /** A fully consumed partition without records for this long stops holding back finality. */
  TRIBUTARY_ANALYTICS_IDLE_TIMEOUT_MS: positiveInt.default(30_000),
  /** How often final windows are looked for and emitted. */
  TRIBUTARY_ANALYTICS_FINALIZE_INTERVAL_MS: positiveInt.default(1_000),
  /** Largest request body, in bytes (413 beyond). */
  TRIBUTARY_INGEST_BODY_LIMIT_BYTES: positiveInt.default(1024 * 1024),
  /** Most events in one `POST /events/batch` (413 beyond). */
  TRIBUTARY_INGEST_BATCH_MAX_EVENTS: positiveInt.default(1000),
  /** Requests per minute per API key, token subject or (unauthenticated) client IP; 0 turns it off. */
  TRIBUTARY_INGEST_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(1200),
  /** Proxies whose `X-Forwarded-For` is believed (addresses/CIDRs), so the rate limit sees client IPs. */
  TRIBUTARY_INGEST_TRUST_PROXY: trustProxy.default(false),
  /** How long SIGTERM waits for in-flight requests and unacknowledged events. */
  TRIBUTARY_INGEST_SHUTDOWN_TIMEOUT_MS: positiveInt.default(15_000),

  // HTTP query service (`tributary query serve`).
  TRIBUTARY_QUERY_HOST: z.string().min(1).default('127.0.0.1'),
  TRIBUTARY_QUERY_PORT: z.coerce.number().int().min(0).max(65535).default(8090),
  /** Requests per minute per API key, token subject or (unauthenticated) client IP; 0 turns it off. */
  TRIBUTARY_QUERY_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(1200),
  /** Proxies whose `X-Forwarded-For` is believed (addresses/CIDRs), so the rate limit sees client IPs. */
  TRIBUTARY_QUERY_TRUST_PROXY: trustProxy.default(false),
  /** How long SIGTERM waits for in-flight requests (live streams are ended at once). */
  TRIBUTARY_QUERY_SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  /** Largest page (`limit`) of a list route. */
  TRIBUTARY_QUERY_MAX_PAGE_SIZE: positiveInt.default(500),
  /** How long a topic's partition count (from Kafka metadata) is reused before it is fetched again. */
  TRIBUTARY_QUERY_PARTITIONS_TTL_MS: positiveInt.default(60_000),
  /** Most concurrent `GET /stream` clients (503 beyond). */
  TRIBUTARY_QUERY_STREAM_MAX_CLIENTS: positiveInt.default(1000),
  /** Most concurrent `GET /stream` clients of one credential (or, unauthenticated, one IP; 429 beyond). */
  TRIBUTARY_QUERY_STREAM_MAX_CLIENTS_PER_KEY: positiveInt.default(100),
  /** Interval of the comment lines that keep idle `GET /stream` connections open. */
  TRIBUTARY_QUERY_STREAM_HEARTBEAT_MS: positiveInt.default(15_000),
  /** Live updates kept for clients that reconnect with `Last-Event-ID`. */
  TRIBUTARY_QUERY_STREAM_REPLAY: z.coerce.number().int().min(0).default(1000),

  // Authentication of the HTTP services (ingestion, query).
  TRIBUTARY_AUTH_API_KEYS: apiKeys.optional(),
  TRIBUTARY_AUTH_JWT_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters (HS256 needs a 256-bit secret)')
    .optional(),
  TRIBUTARY_AUTH_JWKS_URL: z.url().optional(),
  TRIBUTARY_AUTH_JWT_ISSUER: z.string().min(1).optional(),
  TRIBUTARY_AUTH_JWT_AUDIENCE: commaList.optional(),
  /** Oldest JWT accepted, in seconds: since its `iat`, or, without one, until its `exp`. */
  TRIBUTARY_AUTH_JWT_MAX_AGE_S: positiveInt.default(24 * 3600),
  /** Turns authentication off entirely (every request may ingest and query). For local experiments. */
  TRIBUTARY_AUTH_DISABLED: bool.default(false),
});

export type Env = z.infer<typeof envSchema>;

/** Variables whose values are credentials: never shown in error messages. */
const SECRET_KEYS: ReadonlySet<string> = new Set(['TRIBUTARY_AUTH_API_KEYS', 'TRIBUTARY_AUTH_JWT_SECRET']);

/** Where each part of the stack is, and whether this process is expected to run it. */
export interface Endpoint<T> {
  readonly value: T;
  /** True when the user pointed this part elsewhere; `stack up` does not start it then. */
  readonly external: boolean;
}

export interface TopicSettings {
  readonly prefix: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly retentionMs: number;
  readonly dlqRetentionMs: number;
  readonly autoProvision: boolean;
}

/** The HTTP ingestion service. */
export interface IngestSettings {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly bodyLimitBytes: number;
  readonly batchMaxEvents: number;
  /** 0 means no rate limit. */
  readonly rateLimitPerMinute: number;
  readonly trustProxy: TrustProxy;
  readonly shutdownTimeoutMs: number;
}

/** The HTTP query service. */
export interface QuerySettings {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** 0 means no rate limit. */
  readonly rateLimitPerMinute: number;
  readonly trustProxy: TrustProxy;
  readonly shutdownTimeoutMs: number;
  readonly maxPageSize: number;
  readonly partitionsTtlMs: number;
  readonly streamMaxClients: number;
  /** Most of those held by one credential (or IP); never more than `streamMaxClients` in effect. */
  readonly streamMaxClientsPerKey: number;
  readonly streamHeartbeatMs: number;
  readonly streamReplay: number;
}

/** The analytics consumer group's windows (`TRIBUTARY_ANALYTICS_*`); times in milliseconds. */
export interface AnalyticsSettings {
  readonly tumblingMs: number;
  readonly hoppingSizeMs: number;
  readonly hoppingAdvanceMs: number;
  readonly allowedLatenessMs: number;
  readonly graceMs: number;
  readonly retentionMs: number;
  readonly topN: number;
  readonly idleTimeoutMs: number;
  readonly finalizeIntervalMs: number;
}

/** Who may call the HTTP services: API keys, JWTs (HS256 secret and/or JWKS), or nobody checks. */
export interface AuthSettings {
  readonly disabled: boolean;
  readonly apiKeys: readonly ApiKeySpec[];
  readonly jwt: {
    readonly secret: string | undefined;
    readonly jwksUrl: string | undefined;
    readonly issuer: string | undefined;
    readonly audience: readonly string[];
    /** `TRIBUTARY_AUTH_JWT_MAX_AGE_S`: the longest a token is accepted (see lib/http-auth.ts). */
    readonly maxAgeSeconds: number;
  };
}

/** Event checks shared by every producer path (the Publisher, HTTP ingestion, the CLI). */
export interface EventSettings {
  /** `TRIBUTARY_MAX_CLOCK_SKEW_MS`: an `occurredAt` further ahead of now is refused. */
  readonly maxClockSkewMs: number;
}

export interface TributaryConfig {
  readonly stateDir: string;
  readonly distDir: string;
  readonly logLevel: Env['TRIBUTARY_LOG_LEVEL'];
  readonly kafka: {
    readonly brokers: Endpoint<string[]>;
    readonly clientId: string;
    readonly engine: Env['TRIBUTARY_CLIENT_ENGINE'];
    readonly port: number;
    readonly controllerPort: number;
    readonly heap: string;
  };
  readonly registry: {
    readonly url: Endpoint<string>;
    readonly port: number;
    readonly managementPort: number;
    readonly heap: string;
    readonly javaHome: string | undefined;
  };
  readonly redis: {
    readonly url: Endpoint<string>;
    readonly port: number;
    readonly keyPrefix: string;
  };
  readonly stackTimeoutMs: number;
  readonly topics: TopicSettings;
  readonly events: EventSettings;
  readonly ingest: IngestSettings;
  readonly consumer: {
    readonly httpHost: string;
    readonly httpPort: number;
    /** `TRIBUTARY_CONSUMER_SESSION_TIMEOUT_MS`: when a silent member's partitions move on. */
    readonly sessionTimeoutMs: number;
    /** `TRIBUTARY_DEDUP_HORIZON_MS`: how long applied event ids are remembered (0: off). */
    readonly dedupHorizonMs: number;
    /** `TRIBUTARY_CONSUMER_VERIFY_INTERVAL_MS`: how often Redis's stored offsets are checked. */
    readonly verifyIntervalMs: number;
    /** `TRIBUTARY_CONSUMER_SHUTDOWN_TIMEOUT_MS`: the most a graceful stop may take. */
    readonly shutdownTimeoutMs: number;
  };
  readonly analytics: AnalyticsSettings;
  readonly query: QuerySettings;
  readonly auth: AuthSettings;
}

/**
 * Reads and validates the configuration. Throws a {@link TributaryError} with code
 * `TRIBUTARY_CONFIG_INVALID` whose message names every bad variable and why.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): TributaryConfig {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const parsed = envSchema.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = i.path.join('.');
      // Secrets are never echoed: this message is printed and logged.
      const shown = SECRET_KEYS.has(key) ? '(hidden)' : JSON.stringify(picked[key] ?? '');
      return `${key}=${shown}: ${i.message}`;
    });
    throw new TributaryError(ErrorCodes.CONFIG_INVALID, `invalid configuration: ${problems.join('; ')}`, {
      cause: parsed.error,
    });
  }
  const e = parsed.data;
  const brokers = e.TRIBUTARY_KAFKA_BROKERS?.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers !== undefined) {
    const bad = brokers.find((b) => !/^[^\s:]+:\d{1,5}$/.test(b));
    if (bad !== undefined || brokers.length === 0) {
      throw new TributaryError(
        ErrorCodes.CONFIG_INVALID,
        `invalid configuration: TRIBUTARY_KAFKA_BROKERS=${JSON.stringify(e.TRIBUTARY_KAFKA_BROKERS)}: ` +
          `expected a comma-separated list of host:port${bad ? ` (bad entry ${JSON.stringify(bad)})` : ''}`,
      );
    }
  }
  return {
    stateDir: path.resolve(cwd, e.TRIBUTARY_STATE_DIR),
    distDir: path.resolve(cwd, e.TRIBUTARY_DIST_DIR),
    logLevel: e.TRIBUTARY_LOG_LEVEL,
    kafka: {
      brokers: brokers
        ? { value: brokers, external: true }
        : { value: [`127.0.0.1:${e.TRIBUTARY_KAFKA_PORT}`], external: false },
      clientId: e.TRIBUTARY_KAFKA_CLIENT_ID,
      engine: e.TRIBUTARY_CLIENT_ENGINE,
      port: e.TRIBUTARY_KAFKA_PORT,
      controllerPort: e.TRIBUTARY_KAFKA_CONTROLLER_PORT,
      heap: e.TRIBUTARY_KAFKA_HEAP,
    },
    registry: {
      url: e.TRIBUTARY_SCHEMA_REGISTRY_URL
        ? { value: e.TRIBUTARY_SCHEMA_REGISTRY_URL.replace(/\/+$/, ''), external: true }
        : { value: `http://127.0.0.1:${e.TRIBUTARY_REGISTRY_PORT}/apis/ccompat/v7`, external: false },
      port: e.TRIBUTARY_REGISTRY_PORT,
      managementPort: e.TRIBUTARY_REGISTRY_MANAGEMENT_PORT,
      heap: e.TRIBUTARY_REGISTRY_HEAP,
      javaHome: e.TRIBUTARY_REGISTRY_JAVA_HOME,
    },
    redis: {
      url: e.TRIBUTARY_REDIS_URL
        ? { value: e.TRIBUTARY_REDIS_URL, external: true }
        : { value: `redis://127.0.0.1:${e.TRIBUTARY_REDIS_PORT}`, external: false },
      port: e.TRIBUTARY_REDIS_PORT,
      keyPrefix: e.TRIBUTARY_REDIS_KEY_PREFIX,
    },
    stackTimeoutMs: e.TRIBUTARY_STACK_TIMEOUT_MS,
    topics: {
      prefix: e.TRIBUTARY_TOPIC_PREFIX,
      partitions: e.TRIBUTARY_TOPIC_PARTITIONS,
      replicationFactor: e.TRIBUTARY_TOPIC_REPLICATION_FACTOR,
      retentionMs: e.TRIBUTARY_TOPIC_RETENTION_MS,
      dlqRetentionMs: e.TRIBUTARY_DLQ_RETENTION_MS,
      autoProvision: e.TRIBUTARY_TOPIC_AUTO_PROVISION,
    },
    events: { maxClockSkewMs: e.TRIBUTARY_MAX_CLOCK_SKEW_MS },
    ingest: {
      host: e.TRIBUTARY_INGEST_HOST,
      port: e.TRIBUTARY_INGEST_PORT,
      bodyLimitBytes: e.TRIBUTARY_INGEST_BODY_LIMIT_BYTES,
      batchMaxEvents: e.TRIBUTARY_INGEST_BATCH_MAX_EVENTS,
      rateLimitPerMinute: e.TRIBUTARY_INGEST_RATE_LIMIT_PER_MINUTE,
      trustProxy: e.TRIBUTARY_INGEST_TRUST_PROXY,
      shutdownTimeoutMs: e.TRIBUTARY_INGEST_SHUTDOWN_TIMEOUT_MS,
    },
    consumer: {
      httpHost: e.TRIBUTARY_CONSUMER_HTTP_HOST,
      httpPort: e.TRIBUTARY_CONSUMER_HTTP_PORT,
      sessionTimeoutMs: e.TRIBUTARY_CONSUMER_SESSION_TIMEOUT_MS,
      dedupHorizonMs: e.TRIBUTARY_DEDUP_HORIZON_MS,
      verifyIntervalMs: e.TRIBUTARY_CONSUMER_VERIFY_INTERVAL_MS,
      shutdownTimeoutMs: e.TRIBUTARY_CONSUMER_SHUTDOWN_TIMEOUT_MS,
    },
    analytics: analyticsSettings(e),
    query: {
      host: e.TRIBUTARY_QUERY_HOST,
      port: e.TRIBUTARY_QUERY_PORT,
      rateLimitPerMinute: e.TRIBUTARY_QUERY_RATE_LIMIT_PER_MINUTE,
      trustProxy: e.TRIBUTARY_QUERY_TRUST_PROXY,
      shutdownTimeoutMs: e.TRIBUTARY_QUERY_SHUTDOWN_TIMEOUT_MS,
      maxPageSize: e.TRIBUTARY_QUERY_MAX_PAGE_SIZE,
      partitionsTtlMs: e.TRIBUTARY_QUERY_PARTITIONS_TTL_MS,
      streamMaxClients: e.TRIBUTARY_QUERY_STREAM_MAX_CLIENTS,
      streamMaxClientsPerKey: e.TRIBUTARY_QUERY_STREAM_MAX_CLIENTS_PER_KEY,
      streamHeartbeatMs: e.TRIBUTARY_QUERY_STREAM_HEARTBEAT_MS,
      streamReplay: e.TRIBUTARY_QUERY_STREAM_REPLAY,
    },
    auth: authSettings(e),
  };
}

/** The names of every variable {@link loadConfig} reads (for `--help` output and docs). */
export const configKeys: readonly string[] = Object.keys(envSchema.shape);

/**
 * Why JWT settings are unsafe, or an empty list: with a JWKS (usually a shared identity provider,
 * whose keys also sign tokens for other services), a token is only meant for Tributary if its `iss`
 * and `aud` say so, so both must be configured.
 */
export function jwtSettingsProblems(jwt: AuthSettings['jwt']): string[] {
  if (jwt.jwksUrl === undefined) return [];
  const missing = [
    ...(jwt.issuer === undefined ? ['TRIBUTARY_AUTH_JWT_ISSUER'] : []),
    ...(jwt.audience.length === 0 ? ['TRIBUTARY_AUTH_JWT_AUDIENCE'] : []),
  ];
  if (missing.length === 0) return [];
  return [
    `TRIBUTARY_AUTH_JWKS_URL is set, so TRIBUTARY_AUTH_JWT_ISSUER and TRIBUTARY_AUTH_JWT_AUDIENCE ` +
      `must be too (missing: ${missing.join(', ')}): tokens from the key set are accepted only when ` +
      'their iss and aud name this service',
  ];
}

/** The auth settings, with the checks that involve more than one variable. */
function authSettings(e: Env): AuthSettings {
  const settings: AuthSettings = {
    disabled: e.TRIBUTARY_AUTH_DISABLED,
    apiKeys: e.TRIBUTARY_AUTH_API_KEYS ?? [],
    jwt: {
      secret: e.TRIBUTARY_AUTH_JWT_SECRET,
      jwksUrl: e.TRIBUTARY_AUTH_JWKS_URL,
      issuer: e.TRIBUTARY_AUTH_JWT_ISSUER,
      audience: e.TRIBUTARY_AUTH_JWT_AUDIENCE ?? [],
      maxAgeSeconds: e.TRIBUTARY_AUTH_JWT_MAX_AGE_S,
    },
  };
  const problems = jwtSettingsProblems(settings.jwt);
  if (problems.length > 0) {
    throw new TributaryError(ErrorCodes.CONFIG_INVALID, `invalid configuration: ${problems.join('; ')}`);
  }
  return settings;
}

/** The analytics settings, with the checks that involve more than one variable. */
function analyticsSettings(e: Env): AnalyticsSettings {
  const a: AnalyticsSettings = {
    tumblingMs: e.TRIBUTARY_ANALYTICS_TUMBLING_MS,
    hoppingSizeMs: e.TRIBUTARY_ANALYTICS_HOPPING_SIZE_MS,
    hoppingAdvanceMs: e.TRIBUTARY_ANALYTICS_HOPPING_ADVANCE_MS,
    allowedLatenessMs: e.TRIBUTARY_ANALYTICS_ALLOWED_LATENESS_MS,
    graceMs: e.TRIBUTARY_ANALYTICS_GRACE_MS,
    retentionMs: e.TRIBUTARY_ANALYTICS_RETENTION_MS,
    topN: e.TRIBUTARY_ANALYTICS_TOP_N,
    idleTimeoutMs: e.TRIBUTARY_ANALYTICS_IDLE_TIMEOUT_MS,
    finalizeIntervalMs: e.TRIBUTARY_ANALYTICS_FINALIZE_INTERVAL_MS,
  };
  const problems: string[] = [];
  if (a.hoppingAdvanceMs > a.hoppingSizeMs) {
    problems.push(
      `TRIBUTARY_ANALYTICS_HOPPING_ADVANCE_MS=${a.hoppingAdvanceMs}: must not exceed ` +
        `TRIBUTARY_ANALYTICS_HOPPING_SIZE_MS=${a.hoppingSizeMs} (events between windows would be lost)`,
    );
  }
  // A window must outlive the time it takes to become final, or its result is read from expired keys.
  const longest = Math.max(a.tumblingMs, a.hoppingSizeMs) + a.allowedLatenessMs + a.graceMs;
  if (a.retentionMs <= longest) {
    problems.push(
      `TRIBUTARY_ANALYTICS_RETENTION_MS=${a.retentionMs}: must exceed the largest window size plus ` +
        `allowed lateness plus grace (${longest})`,
    );
  }
  if (problems.length > 0) {
    throw new TributaryError(ErrorCodes.CONFIG_INVALID, `invalid configuration: ${problems.join('; ')}`);
  }
  return a;
}
