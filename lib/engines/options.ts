/** Producer option defaults and checks shared by both engines. */
import type { CompressionName, EngineName, EngineProducerOptions } from '../engine.js';
import { ErrorCodes, TributaryError } from '../errors.js';

/** {@link EngineProducerOptions} with every default applied. */
export type ResolvedProducerOptions = Required<Omit<EngineProducerOptions, 'clientId'>> & {
  readonly clientId: string | undefined;
};

/** The defaults of {@link EngineProducerOptions}. */
export const producerDefaults = {
  lingerMs: 5,
  batchBytes: 1024 * 1024,
  bufferBytes: 64 * 1024 * 1024,
  compression: 'lz4',
  maxInFlight: 5,
  deliveryTimeoutMs: 120_000,
} as const satisfies Omit<ResolvedProducerOptions, 'clientId'>;

const compressionByEngine: Record<EngineName, readonly CompressionName[]> = {
  kafkajs: ['none', 'gzip', 'lz4'],
  confluent: ['none', 'gzip', 'lz4', 'zstd'],
};

function fail(message: string): never {
  throw new TributaryError(ErrorCodes.CONFIG_INVALID, `invalid producer options: ${message}`);
}

/** Applies defaults and rejects values an engine cannot honour, naming the option. */
export function resolveProducerOptions(
  engine: EngineName,
  options: EngineProducerOptions = {},
): ResolvedProducerOptions {
  // Only the known keys: callers often pass a wider options object (a publisher's, say).
  const o: ResolvedProducerOptions = {
    lingerMs: options.lingerMs ?? producerDefaults.lingerMs,
    batchBytes: options.batchBytes ?? producerDefaults.batchBytes,
    bufferBytes: options.bufferBytes ?? producerDefaults.bufferBytes,
    compression: options.compression ?? producerDefaults.compression,
    maxInFlight: options.maxInFlight ?? producerDefaults.maxInFlight,
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? producerDefaults.deliveryTimeoutMs,
    clientId: options.clientId,
  };
  const positive = ['batchBytes', 'bufferBytes', 'deliveryTimeoutMs', 'maxInFlight'] as const;
  for (const key of positive) {
    if (!Number.isInteger(o[key]) || o[key] <= 0) fail(`${key}=${o[key]} must be a positive integer`);
  }
  if (!Number.isInteger(o.lingerMs) || o.lingerMs < 0) fail(`lingerMs=${o.lingerMs} must be an integer ≥ 0`);
  // More than 5 in flight lets a retried batch land behind a later one (Kafka's idempotence limit).
  if (o.maxInFlight > 5) fail(`maxInFlight=${o.maxInFlight} must be ≤ 5 for an idempotent producer`);
  if (!compressionByEngine[engine].includes(o.compression)) {
    fail(
      `compression=${o.compression} is not available with the ${engine} engine ` +
        `(choose one of ${compressionByEngine[engine].join(', ')})`,
    );
  }
  return o;
}
