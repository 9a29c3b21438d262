import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { hasCode, ErrorCodes } from '../../lib/errors.js';
import { createProducer, engineNames, resolveProducerOptions } from '../../lib/engines/index.js';
import { initLogger } from '../../lib/logger.js';

const logger = initLogger({ level: 'silent' });

describe('createProducer', () => {
  it.each(engineNames)(
    'creates the %s engine when TRIBUTARY_CLIENT_ENGINE says so, without connecting',
    async (engine) => {
      const config = loadConfig({ TRIBUTARY_CLIENT_ENGINE: engine, TRIBUTARY_KAFKA_BROKERS: '127.0.0.1:1' });
      const producer = createProducer(config, logger);
      expect(producer.engine).toBe(engine);
      const err: unknown = await producer
        .send('t', [{ key: 'k', value: Buffer.from('v') }])
        .catch((e: unknown) => e);
      expect(hasCode(err, ErrorCodes.PRODUCER_CLOSED)).toBe(true);
      await producer.disconnect();
    },
  );

  it('refuses options the configured engine cannot honour', () => {
    const config = loadConfig({ TRIBUTARY_CLIENT_ENGINE: 'kafkajs' });
    expect(() => createProducer(config, logger, { compression: 'zstd' })).toThrow(/compression=zstd/);
  });
});

describe('resolveProducerOptions', () => {
  it('applies defaults: lz4, 5 ms linger, 1 MiB batches, 5 in flight', () => {
    const o = resolveProducerOptions('kafkajs');
    expect(o).toMatchObject({ compression: 'lz4', lingerMs: 5, batchBytes: 1024 * 1024, maxInFlight: 5 });
  });

  it('refuses what an engine cannot honour, naming the option', () => {
    expect(() => resolveProducerOptions('kafkajs', { compression: 'zstd' })).toThrow(/compression=zstd/);
    expect(resolveProducerOptions('confluent', { compression: 'zstd' }).compression).toBe('zstd');
    expect(() => resolveProducerOptions('confluent', { maxInFlight: 6 })).toThrow(/maxInFlight=6/);
    expect(() => resolveProducerOptions('kafkajs', { lingerMs: -1 })).toThrow(/lingerMs/);
  });

  it('keeps only its own keys from a wider options object', () => {
    const wider = { lingerMs: 7, maxInFlightEvents: 10, codec: {} };
    expect(Object.keys(resolveProducerOptions('kafkajs', wider)).sort()).toEqual([
      'batchBytes',
      'bufferBytes',
      'clientId',
      'compression',
      'deliveryTimeoutMs',
      'lingerMs',
      'maxInFlight',
    ]);
  });
});
