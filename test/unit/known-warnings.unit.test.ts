/**
 * The warnings the CLI keeps off stderr: kafkajs's negative idle-check timer, taken from a real
 * kafkajs request queue (so the test fails, and the filter can go, once kafkajs stops doing it),
 * and nothing else.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { dropWarnings, isKafkajsIdleCheckWarning } from '../../bin/known-warnings.js';

interface RequestQueue {
  scheduleCheckPendingRequests(): void;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
}
type RequestQueueClass = new (options: Record<string, unknown>) => RequestQueue;

const require = createRequire(import.meta.url);

const nextWarning = () => new Promise<Error>((resolve) => process.once('warning', resolve));

describe('isKafkajsIdleCheckWarning', () => {
  it("matches the warning an idle kafkajs request queue's check raises", async () => {
    // As the CLI does: Node does not print it, a listener of our own still sees it.
    dropWarnings(isKafkajsIdleCheckWarning);
    const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;
    const silent = { debug() {}, info() {}, warn() {}, error() {} };
    const queue = new RequestQueue({
      maxInFlightRequests: null,
      requestTimeout: 30_000,
      enforceRequestTimeout: true,
      clientId: 'test',
      broker: 'localhost:9092',
      logger: { ...silent, namespace: () => silent },
    });
    const warning = nextWarning();
    queue.scheduleCheckPendingRequests();
    if (queue.throttleCheckTimeoutId) clearTimeout(queue.throttleCheckTimeoutId);
    const w = await warning;
    expect(w.name).toBe('TimeoutNegativeWarning');
    expect(isKafkajsIdleCheckWarning(w)).toBe(true);
  });

  it('matches nothing else', () => {
    const other = new Error('-5 is a negative number.');
    other.name = 'TimeoutNegativeWarning';
    other.stack = `TimeoutNegativeWarning: -5 is a negative number.\n    at new Timeout (node:internal/timers:195:17)\n    at file:///app/lib/mine.js:1:1`;
    expect(isKafkajsIdleCheckWarning(other)).toBe(false);
    const deprecation = new Error('x');
    deprecation.name = 'DeprecationWarning';
    deprecation.stack =
      'DeprecationWarning: x\n    at /app/node_modules/kafkajs/src/network/requestQueue/index.js:317:7';
    expect(isKafkajsIdleCheckWarning(deprecation)).toBe(false);
  });
});
