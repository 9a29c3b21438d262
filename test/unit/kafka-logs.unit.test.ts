import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkajsLogMethod } from '../../lib/kafka.js';

describe('kafkajsLogMethod', () => {
  it('keeps KafkaJS levels', () => {
    expect(kafkajsLogMethod(logLevel.ERROR, 'Connection error: ECONNREFUSED')).toBe('error');
    expect(kafkajsLogMethod(logLevel.WARN, 'something')).toBe('warn');
    expect(kafkajsLogMethod(logLevel.DEBUG, 'something')).toBe('debug');
  });

  it('logs conditions KafkaJS retries by itself at info, by message or by the error field', () => {
    expect(kafkajsLogMethod(logLevel.ERROR, 'The group coordinator is loading')).toBe('info');
    expect(
      kafkajsLogMethod(
        logLevel.ERROR,
        'Response ListOffsets(key: 2, version: 3)',
        'This server is not the leader for that topic-partition',
      ),
    ).toBe('info');
    expect(
      kafkajsLogMethod(logLevel.ERROR, 'Response Fetch', 'This server does not host this topic-partition'),
    ).toBe('info');
  });

  it('does not soften a transient-looking warning or an unrelated error', () => {
    expect(
      kafkajsLogMethod(
        logLevel.ERROR,
        'Response Produce',
        'The request included a message larger than the max',
      ),
    ).toBe('error');
    expect(kafkajsLogMethod(logLevel.WARN, 'There is no leader for this topic-partition')).toBe('warn');
  });

  it("logs what a client expects at debug, whatever KafkaJS's level", () => {
    const rebalancing = (_m: string, error: unknown) => typeof error === 'string' && /rebalanc/i.test(error);
    expect(
      kafkajsLogMethod(
        logLevel.ERROR,
        'Response Heartbeat',
        'The group is rebalancing, so a rejoin is needed',
        rebalancing,
      ),
    ).toBe('debug');
    expect(kafkajsLogMethod(logLevel.ERROR, 'Response Fetch', 'Offset out of range', rebalancing)).toBe(
      'error',
    );
  });
});
