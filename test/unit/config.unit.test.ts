import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { ErrorCodes, hasCode } from '../../lib/errors.js';

function configError(env: Record<string, string>): Error {
  try {
    loadConfig(env, '/srv');
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('defaults to the local stack on loopback', () => {
    const c = loadConfig({}, '/srv');
    expect(c.stateDir).toBe('/srv/.tributary');
    expect(c.distDir).toBe('/srv/.tributary/dist');
    expect(c.kafka.brokers).toEqual({ value: ['127.0.0.1:9092'], external: false });
    expect(c.registry.url).toEqual({ value: 'http://127.0.0.1:8081/apis/ccompat/v7', external: false });
    expect(c.redis.url).toEqual({ value: 'redis://127.0.0.1:6379', external: false });
    expect(c.topics.partitions).toBe(6);
    expect(c.kafka.engine).toBe('kafkajs');
  });

  it('follows the configured ports', () => {
    const c = loadConfig({ TRIBUTARY_KAFKA_PORT: '19092', TRIBUTARY_REDIS_PORT: '16379' }, '/srv');
    expect(c.kafka.brokers.value).toEqual(['127.0.0.1:19092']);
    expect(c.redis.url.value).toBe('redis://127.0.0.1:16379');
  });

  it('marks a part external when its endpoint is set', () => {
    const c = loadConfig(
      {
        TRIBUTARY_KAFKA_BROKERS: 'k1:9092, k2:9092',
        TRIBUTARY_SCHEMA_REGISTRY_URL: 'https://registry.example:8081/',
        TRIBUTARY_REDIS_URL: 'rediss://cache:6380',
      },
      '/srv',
    );
    expect(c.kafka.brokers).toEqual({ value: ['k1:9092', 'k2:9092'], external: true });
    expect(c.registry.url).toEqual({ value: 'https://registry.example:8081', external: true });
    expect(c.redis.url.external).toBe(true);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ TRIBUTARY_KAFKA_BROKERS: '' }, '/srv').kafka.brokers.external).toBe(false);
  });

  it('names the bad key and value', () => {
    const err = configError({ TRIBUTARY_KAFKA_PORT: 'ninety' });
    expect(hasCode(err, ErrorCodes.CONFIG_INVALID)).toBe(true);
    expect(err.message).toContain('TRIBUTARY_KAFKA_PORT="ninety"');
  });

  it('reports every bad key at once', () => {
    const err = configError({
      TRIBUTARY_REDIS_PORT: '70000',
      TRIBUTARY_CLIENT_ENGINE: 'rust',
      TRIBUTARY_REDIS_URL: 'http://x',
    });
    expect(err.message).toContain('TRIBUTARY_REDIS_PORT');
    expect(err.message).toContain('TRIBUTARY_CLIENT_ENGINE');
    expect(err.message).toContain('TRIBUTARY_REDIS_URL');
  });

  it('rejects a broker list that is not host:port', () => {
    const err = configError({ TRIBUTARY_KAFKA_BROKERS: 'localhost:9092,broker-without-port' });
    expect(err.message).toContain('TRIBUTARY_KAFKA_BROKERS');
    expect(err.message).toContain('broker-without-port');
  });
});
