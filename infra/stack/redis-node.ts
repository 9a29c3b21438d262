/** Debian's `redis-server` on loopback with AOF on, data under the state directory. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { TributaryConfig } from '../../lib/config.js';
import type { ProcessSpec } from './process.js';

export function redisPaths(stateDir: string) {
  const dir = path.join(stateDir, 'redis');
  return {
    dir,
    logFile: path.join(dir, 'redis.log'),
    pidFile: path.join(stateDir, 'run', 'redis.pid'),
  };
}

export function prepareRedis(config: TributaryConfig): ProcessSpec {
  const p = redisPaths(config.stateDir);
  mkdirSync(p.dir, { recursive: true });
  return {
    name: 'redis',
    command: 'redis-server',
    args: [
      '--bind',
      '127.0.0.1',
      '--port',
      String(config.redis.port),
      '--dir',
      p.dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
    ],
    logFile: p.logFile,
    pidFile: p.pidFile,
    marker: `redis-server 127.0.0.1:${config.redis.port}`,
  };
}

/** True when Redis answers PING. */
export async function redisReady(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } finally {
    redis.disconnect();
  }
}
