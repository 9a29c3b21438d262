/**
 * An oracle of the users read model computed from the events themselves, independently of the
 * projection's Redis writes, and a reader of what the projection wrote, for comparison.
 */
import type { Redis } from 'ioredis';
import { userKeys } from '../../examples/shop/keys.js';
import { ProjectionKeys } from '../../lib/redis-keys.js';
import type { TributaryEvent } from './shop.js';
import { projectionRecords } from './progress.js';

export interface OracleUser {
  email: string;
  name: string;
  plan: string;
  country: string;
  createdAt: string;
}

/** Applies user events in order (they are in order per user, which is all that matters). */
export function usersOracle(events: readonly TributaryEvent[]): Map<string, OracleUser> {
  const users = new Map<string, OracleUser>();
  for (const e of events) {
    if (e.type === 'UserCreated') {
      const d = e.data;
      const createdAt = users.get(d.userId)?.createdAt ?? String(d.occurredAt);
      users.set(d.userId, { email: d.email, name: d.name, plan: d.plan, country: d.country, createdAt });
    } else if (e.type === 'UserUpdated') {
      const u = users.get(e.data.userId);
      if (!u) continue;
      for (const f of ['email', 'name', 'plan', 'country'] as const) {
        const v = e.data[f];
        if (v !== null) u[f] = v;
      }
    } else if (e.type === 'UserDeleted') {
      users.delete(e.data.userId);
    }
  }
  return users;
}

/** Reads every user the projection holds, across all partitions of the `users` topic. */
export async function readUsers(
  redis: Redis,
  prefix: string,
  topic: string,
  partitions: number,
  version = 'v1',
): Promise<{ users: Map<string, OracleUser>; records: number }> {
  const keys = new ProjectionKeys(prefix, 'users');
  const users = new Map<string, OracleUser>();
  for (let p = 0; p < partitions; p++) {
    const k = keys.partition(version, topic, p);
    const ids = await redis.smembers(userKeys.ids(k));
    // Pipelined in slices: a fault test's read model holds tens of thousands of users.
    for (let i = 0; i < ids.length; i += 1_000) {
      const slice = ids.slice(i, i + 1_000);
      const pipeline = redis.pipeline();
      for (const id of slice) pipeline.hgetall(userKeys.user(k, id));
      const replies = (await pipeline.exec()) ?? [];
      slice.forEach((id, j) => {
        const [err, h] = replies[j] as [Error | null, Record<string, string>];
        if (err) throw err;
        users.set(id, {
          email: h.email!,
          name: h.name!,
          plan: h.plan!,
          country: h.country!,
          createdAt: h.createdAt!,
        });
      });
    }
  }
  return { users, records: await readProgress(redis, prefix, topic, partitions, version) };
}

/**
 * The number of records the projection handled, summed over partitions: the `progress` counter is
 * written in the same fenced script as the batch, so it counts each record exactly once (more
 * than the topic holds means a record was applied twice, fewer means one was lost).
 */
export async function readProgress(
  redis: Redis,
  prefix: string,
  topic: string,
  partitions: number,
  version = 'v1',
): Promise<number> {
  return projectionRecords(redis, prefix, 'users', [topic], partitions, version);
}

/**
 * The differences between a read model and its oracle, one line per user (at most `limit`), so a
 * failure with tens of thousands of users says what is wrong without printing both maps.
 */
export function diffUsers(
  actual: ReadonlyMap<string, OracleUser>,
  expected: ReadonlyMap<string, OracleUser>,
  limit = 20,
): string[] {
  const lines: string[] = [];
  for (const [id, want] of expected) {
    const got = actual.get(id);
    if (!got) lines.push(`${id}: missing, expected ${JSON.stringify(want)}`);
    else if (JSON.stringify(got) !== JSON.stringify(want)) {
      lines.push(`${id}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  }
  for (const [id, got] of actual) {
    if (!expected.has(id)) lines.push(`${id}: unexpected ${JSON.stringify(got)}`);
  }
  return lines.length > limit ? [...lines.slice(0, limit), `… ${lines.length - limit} more`] : lines;
}
