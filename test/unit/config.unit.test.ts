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

  it('reads the consumer session timeout within the broker bounds', () => {
    expect(loadConfig({}, '/srv').consumer.sessionTimeoutMs).toBe(30_000);
    expect(
      loadConfig({ TRIBUTARY_CONSUMER_SESSION_TIMEOUT_MS: '6000' }, '/srv').consumer.sessionTimeoutMs,
    ).toBe(6_000);
    expect(configError({ TRIBUTARY_CONSUMER_SESSION_TIMEOUT_MS: '1000' }).message).toContain(
      'TRIBUTARY_CONSUMER_SESSION_TIMEOUT_MS',
    );
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

describe('loadConfig: HTTP ingestion and auth', () => {
  const key1 = '0123456789abcdef0123';
  const key2 = 'fedcba9876543210fedc';

  it('defaults to a loopback service with limits and no credentials', () => {
    const c = loadConfig({}, '/srv');
    expect(c.ingest).toEqual({
      host: '127.0.0.1',
      port: 8080,
      bodyLimitBytes: 1024 * 1024,
      batchMaxEvents: 1000,
      rateLimitPerMinute: 1200,
      trustProxy: false,
      shutdownTimeoutMs: 15_000,
    });
    expect(c.auth).toEqual({
      disabled: false,
      apiKeys: [],
      jwt: { secret: undefined, jwksUrl: undefined, issuer: undefined, audience: [], maxAgeSeconds: 86_400 },
    });
  });

  it('parses API keys with names and scopes', () => {
    const c = loadConfig(
      { TRIBUTARY_AUTH_API_KEYS: `ops:${key1}=ingest,query;\n ${key2} = query ;` },
      '/srv',
    );
    expect(c.auth.apiKeys).toEqual([
      { name: 'ops', key: key1, scopes: ['ingest', 'query'] },
      { name: expect.stringMatching(/^key-[0-9a-f]{8}$/), key: key2, scopes: ['query'] },
    ]);
  });

  it('names what is wrong with API keys without echoing them', () => {
    const err = configError({ TRIBUTARY_AUTH_API_KEYS: `ops:short=ingest;${key1}=admin;${key2}` });
    expect(err.message).toContain('TRIBUTARY_AUTH_API_KEYS=(hidden)');
    expect(err.message).toContain('entry 1: key must be 16-512 characters');
    expect(err.message).toContain('unknown: admin');
    expect(err.message).toContain('entry 3 has no "=scopes"');
    expect(err.message).not.toContain(key1);
    expect(err.message).not.toContain('short');
  });

  it('reads JWT settings and hides a short secret', () => {
    const c = loadConfig(
      {
        TRIBUTARY_AUTH_JWT_SECRET: 's'.repeat(32),
        TRIBUTARY_AUTH_JWKS_URL: 'https://idp.example/.well-known/jwks.json',
        TRIBUTARY_AUTH_JWT_ISSUER: 'https://idp.example',
        TRIBUTARY_AUTH_JWT_AUDIENCE: 'tributary, ingest',
        TRIBUTARY_AUTH_JWT_MAX_AGE_S: '3600',
      },
      '/srv',
    );
    expect(c.auth.jwt.audience).toEqual(['tributary', 'ingest']);
    expect(c.auth.jwt.issuer).toBe('https://idp.example');
    expect(c.auth.jwt.maxAgeSeconds).toBe(3600);
    expect(configError({ TRIBUTARY_AUTH_JWT_MAX_AGE_S: '0' }).message).toContain(
      'TRIBUTARY_AUTH_JWT_MAX_AGE_S',
    );
    const err = configError({ TRIBUTARY_AUTH_JWT_SECRET: 'hunter2' });
    expect(err.message).toContain('TRIBUTARY_AUTH_JWT_SECRET=(hidden): must be at least 32 characters');
    expect(err.message).not.toContain('hunter2');
  });
});

describe('loadConfig: HTTP hardening', () => {
  const jwks = 'https://idp.example/.well-known/jwks.json';

  it('refuses a JWKS without an issuer and an audience, naming the keys', () => {
    for (const [env, missing] of [
      [{}, 'TRIBUTARY_AUTH_JWT_ISSUER, TRIBUTARY_AUTH_JWT_AUDIENCE'],
      [{ TRIBUTARY_AUTH_JWT_ISSUER: 'https://idp.example' }, 'TRIBUTARY_AUTH_JWT_AUDIENCE'],
      [{ TRIBUTARY_AUTH_JWT_AUDIENCE: 'tributary' }, 'TRIBUTARY_AUTH_JWT_ISSUER'],
    ] as const) {
      const err = configError({ TRIBUTARY_AUTH_JWKS_URL: jwks, ...env });
      expect(hasCode(err, ErrorCodes.CONFIG_INVALID)).toBe(true);
      expect(err.message).toContain(
        'TRIBUTARY_AUTH_JWKS_URL is set, so TRIBUTARY_AUTH_JWT_ISSUER and TRIBUTARY_AUTH_JWT_AUDIENCE must be too',
      );
      expect(err.message).toContain(`(missing: ${missing})`);
    }
    // A shared secret alone needs neither (it is ours only).
    expect(loadConfig({ TRIBUTARY_AUTH_JWT_SECRET: 's'.repeat(32) }, '/srv').auth.jwt.issuer).toBeUndefined();
  });

  it('takes proxy addresses and CIDRs for trust proxy, never true or a hop count', () => {
    expect(loadConfig({}, '/srv').query.trustProxy).toBe(false);
    for (const off of ['false', '0', 'no']) {
      expect(loadConfig({ TRIBUTARY_INGEST_TRUST_PROXY: off }, '/srv').ingest.trustProxy).toBe(false);
    }
    const c = loadConfig(
      {
        TRIBUTARY_INGEST_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,fd00::/8',
        TRIBUTARY_QUERY_TRUST_PROXY: 'loopback,::1',
      },
      '/srv',
    );
    expect(c.ingest.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
    expect(c.query.trustProxy).toEqual(['loopback', '::1']);

    const yes = configError({ TRIBUTARY_QUERY_TRUST_PROXY: 'true' });
    expect(yes.message).toContain('TRIBUTARY_QUERY_TRUST_PROXY="true"');
    expect(yes.message).toContain('letting each choose its rate-limit key');
    expect(yes.message).toContain('false or unset turns it off');
    const hops = configError({ TRIBUTARY_INGEST_TRUST_PROXY: '2' });
    expect(hops.message).toContain('TRIBUTARY_INGEST_TRUST_PROXY="2": a hop count cannot tell a proxy');
    const bad = configError({ TRIBUTARY_INGEST_TRUST_PROXY: '10.0.0.0/33,proxy.internal,1.2.3.4' });
    expect(bad.message).toContain('not an address or CIDR: 10.0.0.0/33, proxy.internal');
  });

  it('reads the per-key stream cap', () => {
    expect(loadConfig({}, '/srv').query.streamMaxClients).toBe(1000);
    expect(loadConfig({}, '/srv').query.streamMaxClientsPerKey).toBe(100);
    const c = loadConfig({ TRIBUTARY_QUERY_STREAM_MAX_CLIENTS_PER_KEY: '3' }, '/srv');
    expect(c.query.streamMaxClientsPerKey).toBe(3);
    expect(configError({ TRIBUTARY_QUERY_STREAM_MAX_CLIENTS_PER_KEY: '0' }).message).toContain(
      'TRIBUTARY_QUERY_STREAM_MAX_CLIENTS_PER_KEY',
    );
  });

  it('reads the clock skew as config.events.maxClockSkewMs', () => {
    expect(loadConfig({}, '/srv').events).toEqual({ maxClockSkewMs: 300_000 });
    expect(loadConfig({ TRIBUTARY_MAX_CLOCK_SKEW_MS: '1000' }, '/srv').events.maxClockSkewMs).toBe(1000);
    expect(configError({ TRIBUTARY_MAX_CLOCK_SKEW_MS: '-1' }).message).toContain(
      'TRIBUTARY_MAX_CLOCK_SKEW_MS',
    );
  });
});
