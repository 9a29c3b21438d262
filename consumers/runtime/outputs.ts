/**
 * What a consumer produces besides its Redis writes: dead letters (`<topic>.dlq`) and a
 * projection's side outputs (analytics' late events). Produced before the slice is fenced, so at
 * least once; retried until the broker takes them, never dropped (the partition waits meanwhile).
 * A topic that keeps refusing counts as blocked: `/readyz` names it and an error is logged once a
 * minute. A dead letter too large for its topic keeps its headers and a truncated value.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { truncateDeadLetter } from '../../lib/dead-letter.js';
import type { EngineProducer, OutgoingRecord } from '../../lib/engine.js';
import type { Logger } from '../../lib/logger.js';
import type { ConsumerMetrics } from './consumer-metrics.js';
import { isDlqTopic } from '../../lib/names.js';

/** Failed attempts to produce to a topic before it counts as blocked. */
const ALERT_ATTEMPTS = 5;
/** How often a blocked output is logged as an error. */
const ALERT_INTERVAL_MS = 60_000;
/** Value sizes a dead letter too large for its topic is cut to, on the first and later refusals. */
const TRUNCATED_VALUE_BYTES = [256 * 1024, 16 * 1024] as const;

/** The broker (or librdkafka) refused a record as larger than the topic allows. */
function isTooLarge(err: unknown): boolean {
  const e = err as { type?: unknown; code?: unknown; message?: unknown };
  return /MESSAGE_TOO_LARGE|MSG_SIZE_TOO_LARGE|too large/i.test(`${String(e.type)} ${String(e.message)}`);
}

export interface OutputProducerOptions {
  readonly producer: EngineProducer;
  readonly log: Logger;
  readonly groupId: string;
  readonly metrics?: ConsumerMetrics | undefined;
  /** The wait before the next attempt (ms). */
  readonly backoff: (attempt: number) => number;
  /** True once the runtime stops: a failing send then gives up after a few attempts. */
  readonly stopping: () => boolean;
}

export class OutputProducer {
  private readonly blockedTopics = new Map<string, { reason: string; since: number; loggedAt: number }>();

  constructor(private readonly options: OutputProducerOptions) {}

  /** Topics that could not be produced to for a while, with the last reason (for `/readyz`). */
  blocked(): { topic: string; reason: string; since: string }[] {
    return [...this.blockedTopics].map(([topic, b]) => ({
      topic,
      reason: b.reason,
      since: new Date(b.since).toISOString(),
    }));
  }

  /** Produces `records` to `topic`, retrying until the broker takes them (see the module comment). */
  async send(
    topic: string,
    records: readonly OutgoingRecord[],
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const { producer, log, metrics, groupId } = this.options;
    let batch = records;
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send(topic, batch);
        if (this.blockedTopics.delete(topic)) log.info({ topic }, 'output produced again');
        return;
      } catch (err) {
        if (this.options.stopping() && attempt > 3) throw err;
        const reason = (err as Error).message;
        if (isDlqTopic(topic) && isTooLarge(err)) {
          batch = batch.map((r) => truncateDeadLetter(r, TRUNCATED_VALUE_BYTES[Math.min(attempt, 2) - 1]!));
          log.warn({ topic, reason }, 'dead letters too large for their topic: values truncated');
        }
        metrics?.retried.inc({ group: groupId, kind: 'infrastructure' });
        const now = Date.now();
        const known = this.blockedTopics.get(topic);
        if (attempt < ALERT_ATTEMPTS) {
          log.warn({ topic, attempt, err: reason }, 'could not produce; retrying');
        } else if (!known || now - known.loggedAt >= ALERT_INTERVAL_MS) {
          this.blockedTopics.set(topic, { reason, since: known?.since ?? now, loggedAt: now });
          log.error(
            { topic, attempts: attempt, err: reason },
            'cannot produce to this topic: the partition waits (nothing is dropped) until it can',
          );
        } else {
          known.reason = reason;
        }
        await sleep(this.options.backoff(attempt));
        await heartbeat().catch(() => undefined);
      }
    }
  }
}
