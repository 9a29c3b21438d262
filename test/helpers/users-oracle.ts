/**
 * An oracle of the users read model computed from the events themselves, independently of the
 * projection's Redis writes, and a reader of what the projection wrote, for comparison.
 */
import type { Redis } from 'ioredis';
import { ProjectionKeys } from '../../consumers/keys.js';
import { userKeys } from '../../consumers/projections/users.js';
import type { TributaryEvent } from '../../schemas/catalog.js';

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
  let records = 0;
  for (let p = 0; p < partitions; p++) {
    const k = keys.partition(version, topic, p);
    records += Number((await redis.hget(k.key('progress'), 'records')) ?? 0);
    for (const id of await redis.smembers(userKeys.ids(k))) {
      const h = await redis.hgetall(userKeys.user(k, id));
      users.set(id, {
        email: h.email!,
        name: h.name!,
        plan: h.plan!,
        country: h.country!,
        createdAt: h.createdAt!,
      });
    }
  }
  return { users, records };
}
