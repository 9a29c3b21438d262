/** The Kafka client factory: every part of Tributary gets its client from here. */
import { Kafka, logLevel, type Admin, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { TributaryConfig } from './config.js';
import type { Logger } from './logger.js';
import { registerKafkajsCodecs } from './engines/kafkajs-codecs.js';

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * Conditions KafkaJS logs as errors although it retries them by itself: a broker that is still
 * starting (coordinator loading or not yet elected), a leader moving, a consumer restarting after
 * one of those. They are logged at info; a condition that persists surfaces as a failed call.
 */
const TRANSIENT =
  /coordinator is (loading|not available)|not the correct coordinator|leader(ship)? (not available|election)|There is no leader|Restarting the consumer|This server does not host this topic-partition|not the leader for that topic-partition/i;

/** Log entries a client expects as part of its normal work; they are logged at debug. */
export type ExpectedLog = (message: string, error: unknown) => boolean;

/**
 * The pino method for a KafkaJS log entry: debug for what `expected` matches, info for transient
 * conditions logged as errors, otherwise KafkaJS's own level.
 */
export function kafkajsLogMethod(
  level: number,
  message: string,
  error?: unknown,
  expected?: ExpectedLog,
): 'error' | 'warn' | 'info' | 'debug' {
  if (expected?.(message, error)) return 'debug';
  const method = levelNames[level] ?? 'info';
  if (method === 'error' && (TRANSIENT.test(message) || TRANSIENT.test(String(error ?? '')))) return 'info';
  return method;
}

/** Bridges KafkaJS's logger into pino so all logs share one format. */
function pinoLogCreator(logger: Logger, expected?: ExpectedLog) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      logger[kafkajsLogMethod(level, message, extra.error, expected)]({ namespace, ...extra }, message);
    };
}

export interface KafkaClientOptions {
  /** Overrides the configured client id (e.g. per consumer group). */
  clientId?: string;
  /** Extra KafkaJS options (retry, timeouts). */
  overrides?: Partial<KafkaConfig>;
  /** Log entries this client expects in its normal work, logged at debug. */
  expectedLogs?: ExpectedLog;
}

/** Creates a KafkaJS client for the configured brokers, logging through `logger`. */
export function createKafka(
  config: TributaryConfig,
  logger: Logger,
  options: KafkaClientOptions = {},
): Kafka {
  // Every kafkajs client, consumers included, must read the lz4 batches our producers write.
  registerKafkajsCodecs();
  return new Kafka({
    clientId: options.clientId ?? config.kafka.clientId,
    brokers: config.kafka.brokers.value,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger.child({ component: 'kafkajs' }), options.expectedLogs),
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
    ...options.overrides,
  });
}

/** An admin client for request paths: fails fast and reconnects on the next call after a failure. */
export interface FailFastAdmin {
  /** Runs `fn` on a connected admin; on failure drops the connection (the next call reconnects). */
  call<T>(fn: (admin: Admin) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * An admin client that answers or fails within seconds (two retries, 2 s connection and 5 s
 * request timeouts, no KafkaJS logs): for the query service, whose callers get a 503 rather than
 * wait out the default retries.
 */
export function createFailFastAdmin(
  config: TributaryConfig,
  logger: Logger,
  clientIdSuffix: string,
): FailFastAdmin {
  const admin = createKafka(config, logger, {
    clientId: `${config.kafka.clientId}-${clientIdSuffix}`,
    overrides: {
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
      connectionTimeout: 2_000,
      requestTimeout: 5_000,
      logLevel: logLevel.NOTHING,
    },
  }).admin();
  let connected: Promise<void> | undefined;
  const drop = async (): Promise<void> => {
    connected = undefined;
    await admin.disconnect().catch(() => undefined);
  };
  return {
    async call(fn) {
      try {
        await (connected ??= admin.connect());
        return await fn(admin);
      } catch (err) {
        await drop();
        throw err;
      }
    },
    close: drop,
  };
}
