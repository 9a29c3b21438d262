/**
 * Tributary's one typed configuration, read from `TRIBUTARY_*` environment variables and
 * validated once at start. Defaults point at the local stack that `tributary stack up` starts.
 */
import path from 'node:path';
import { z } from 'zod';
import { ErrorCodes, TributaryError } from './errors.js';

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

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
});

export type Env = z.infer<typeof envSchema>;

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
  };
  readonly stackTimeoutMs: number;
  readonly topics: TopicSettings;
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
      return `${key}=${JSON.stringify(picked[key] ?? '')}: ${i.message}`;
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
  };
}

/** The names of every variable {@link loadConfig} reads (for `--help` output and docs). */
export const configKeys: readonly string[] = Object.keys(envSchema.shape);
