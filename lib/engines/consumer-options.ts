/** Consumer option defaults and checks shared by both engines. */
import type { EngineConsumerOptions } from '../engine.js';
import { ErrorCodes, TributaryError } from '../errors.js';

/** {@link EngineConsumerOptions} with every default applied. */
export type ResolvedConsumerOptions = Required<Omit<EngineConsumerOptions, 'clientId'>> & {
  readonly clientId: string | undefined;
};

/**
 * The defaults of {@link EngineConsumerOptions}. `maxBytesPerPartition` is small on purpose: the
 * records of a fetch are decoded into JavaScript objects that live until the whole fetch is
 * applied, so they outlive young-generation GCs and grow the old generation; at 1 MiB a 6-partition
 * projection peaked at ~490 MB RSS (kafkajs, 1,000,000 events), at 256 KiB ~310 MB for the same
 * events/s.
 */
export const consumerDefaults = {
  sessionTimeoutMs: 30_000,
  maxBytesPerPartition: 256 * 1024,
  maxBatchRecords: 1_000,
  commitIntervalMs: 5_000,
  joinTimeoutMs: 60_000,
} as const satisfies Omit<ResolvedConsumerOptions, 'clientId' | 'groupId'>;

/**
 * Bytes of fetched records a consumer holds at most, all partitions together: the whole fetch
 * response for kafkajs (`maxBytes`, 10 MiB by default there), librdkafka's prefetch queue for the
 * confluent engine (`queued.max.messages.kbytes`, 64 MiB by default there). Compressed bytes: the
 * decoded records take several times as much.
 */
export const fetchBudgetBytes = 8 * 1024 * 1024;

function fail(message: string): never {
  throw new TributaryError(ErrorCodes.CONFIG_INVALID, `invalid consumer options: ${message}`);
}

/** Applies defaults and rejects values no engine can honour, naming the option. */
export function resolveConsumerOptions(options: EngineConsumerOptions): ResolvedConsumerOptions {
  const o: ResolvedConsumerOptions = {
    groupId: options.groupId,
    clientId: options.clientId,
    sessionTimeoutMs: options.sessionTimeoutMs ?? consumerDefaults.sessionTimeoutMs,
    maxBytesPerPartition: options.maxBytesPerPartition ?? consumerDefaults.maxBytesPerPartition,
    maxBatchRecords: options.maxBatchRecords ?? consumerDefaults.maxBatchRecords,
    commitIntervalMs: options.commitIntervalMs ?? consumerDefaults.commitIntervalMs,
    joinTimeoutMs: options.joinTimeoutMs ?? consumerDefaults.joinTimeoutMs,
  };
  if (typeof o.groupId !== 'string' || o.groupId === '') fail('groupId must be a non-empty string');
  const positive = [
    'sessionTimeoutMs',
    'maxBytesPerPartition',
    'maxBatchRecords',
    'commitIntervalMs',
    'joinTimeoutMs',
  ] as const;
  for (const key of positive) {
    if (!Number.isInteger(o[key]) || o[key] <= 0) fail(`${key}=${o[key]} must be a positive integer`);
  }
  return o;
}
