/**
 * Readers of the users read model (projections/users.ts) and of the user count (user-count.ts),
 * served by the query service at `/models/users/…` and printed by `tributary query users …`. The
 * reader context resolves the projection's current key version per read, so a rebuild's swap is
 * followed at once.
 *
 * Listing. User ids live in one set per partition of `users`, so a listing walks the partitions in
 * order with SSCAN. SSCAN's COUNT is a hint (a small set comes back whole), so to give pages of
 * exactly `limit` ids the walk may stop inside one SSCAN batch: the cursor then holds the batch's
 * SSCAN cursor and COUNT, the cursor SSCAN gave next, and the last id handed out; the next page
 * repeats that SSCAN call and hands out the batch's ids after that one (a batch is served in id
 * order). If the repeated call ends elsewhere (the set was resized meanwhile), the whole batch is
 * served again rather than risk skipping ids. So, as with SSCAN itself: a user present for the
 * whole listing is listed at least once; one created or deleted meanwhile may or may not be; and
 * rarely one is listed twice. A page may hold fewer than `limit` users (deleted meanwhile, or
 * many empty partitions); only `nextCursor: null` means the end.
 */
import {
  ReadModelError,
  ReadModelErrorCodes,
  cursorInt,
  cursorString,
  decodeCursor,
  encodeCursor,
  type ReaderContext,
} from 'tributary';
import { userCountKeys, userKeys } from '../keys.js';

/** The projections and topic read here. */
export const USER_COUNT_PROJECTION = 'user-count';
export const USERS_TOPIC = 'users';

/** A user as the users projection holds them; times are epoch milliseconds (event time). */
export interface UserView {
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly plan: string;
  readonly country: string;
  /** When the user first signed up (a repeated `UserCreated` keeps it). */
  readonly createdAt: number;
  /** Event time of the last change. */
  readonly updatedAt: number;
}

/** One page of users. */
export interface UsersPage {
  readonly users: UserView[];
  /** Live users in the user-count projection; null when that projection has not run. */
  readonly total: number | null;
  /** Pass back as `cursor` for the next page; null after the last page. */
  readonly nextCursor: string | null;
}

/** Most SSCAN calls one page makes before it returns what it has (with a cursor to go on). */
const MAX_SCANS_PER_PAGE = 64;
const SCAN_CURSOR = /^\d{1,20}$/;
const VERSION = /^v\d{1,9}$/;

function toView(h: Record<string, string>): UserView {
  return {
    userId: h.userId!,
    email: h.email ?? '',
    name: h.name ?? '',
    plan: h.plan ?? '',
    country: h.country ?? '',
    createdAt: Number(h.createdAt),
    updatedAt: Number(h.updatedAt ?? h.createdAt),
  };
}

/** A user by id, or null when there is none (never created, deleted, or no users model yet). */
export async function readUser(ctx: ReaderContext, userId: string): Promise<UserView | null> {
  const k = await ctx.partition(USERS_TOPIC, userId);
  if (k === null) return null;
  const h = await ctx.redis.hgetall(userKeys.user(k, userId));
  return h.userId === undefined ? null : toView(h);
}

/**
 * The number of live users: the sum over partitions of the user-count projection's id sets, or
 * null when that projection never ran. `ctx` is the user-count projection's context.
 */
export async function countUsers(ctx: ReaderContext): Promise<number | null> {
  if ((await ctx.version()) === null) return null;
  const partitions = await ctx.partitions(USERS_TOPIC);
  if (partitions.length === 0) return 0;
  const pipeline = ctx.redis.pipeline();
  for (const k of partitions) pipeline.scard(userCountKeys.ids(k));
  let total = 0;
  for (const [err, n] of (await pipeline.exec()) ?? []) {
    if (err) throw err;
    total += Number(n);
  }
  return total;
}

/** Where a listing stands: see the module comment. */
interface Position {
  readonly partition: number;
  /** SSCAN cursor of the batch being served. */
  readonly scan: string;
  /** COUNT of that SSCAN call (repeated as is when the batch is resumed). */
  readonly count: number;
  /** When part of the batch was served: the cursor that SSCAN call returned, and the last id served. */
  readonly next: string | null;
  readonly after: string | null;
}

function encodePosition(version: string, p: Position): string {
  return encodeCursor('users', [version, p.partition, p.scan, p.count, p.next, p.after]);
}

function decodePosition(cursor: string): { version: string; position: Position } {
  const [version, partition, scan, count, next, after] = decodeCursor('users', cursor, 6);
  const partial = next !== null;
  if (partial !== (after !== null))
    throw new ReadModelError(ReadModelErrorCodes.INVALID_CURSOR, 'invalid cursor');
  return {
    version: cursorString(version, VERSION),
    position: {
      partition: cursorInt(partition, 0, 1_000_000),
      scan: cursorString(scan, SCAN_CURSOR),
      count: cursorInt(count, 1, 100_000),
      next: partial ? cursorString(next, SCAN_CURSOR) : null,
      after: partial ? cursorString(after) : null,
    },
  };
}

/**
 * A page of at most `limit` users (see the module comment for the guarantees) and the total.
 *
 * @throws {@link ReadModelError} `invalid_cursor`, or `cursor_expired` when the users model was
 *   rebuilt since the cursor was issued.
 */
export async function listUsers(
  ctx: ReaderContext,
  page: { readonly limit: number; readonly cursor?: string | undefined },
): Promise<UsersPage> {
  const limit = Math.max(1, Math.trunc(page.limit));
  const given = page.cursor === undefined ? undefined : decodePosition(page.cursor);
  const [version, total] = await Promise.all([ctx.version(), countUsers(ctx.of(USER_COUNT_PROJECTION))]);
  if (given && given.version !== version) {
    throw new ReadModelError(
      ReadModelErrorCodes.CURSOR_EXPIRED,
      'the users read model was rebuilt since this cursor was issued: list again from the start',
    );
  }
  if (version === null) return { users: [], total, nextCursor: null };
  const keysOf = await ctx.partitions(USERS_TOPIC);
  const partitions = keysOf.length;
  let position: Position = given?.position ?? {
    partition: 0,
    scan: '0',
    count: limit,
    next: null,
    after: null,
  };
  if (position.partition > partitions)
    throw new ReadModelError(ReadModelErrorCodes.INVALID_CURSOR, 'invalid cursor');

  const found: { id: string; partition: number }[] = [];
  const seen = new Set<string>();
  for (
    let scans = 0;
    position.partition < partitions && found.length < limit && scans < MAX_SCANS_PER_PAGE;
    scans++
  ) {
    const k = keysOf[position.partition]!;
    const [next, batch] = await ctx.redis.sscan(userKeys.ids(k), position.scan, 'COUNT', position.count);
    let members = [...new Set(batch)].sort();
    const { after } = position;
    if (after !== null && next === position.next) members = members.filter((id) => id > after);
    const room = limit - found.length;
    const served = members.length > room ? members.slice(0, room) : members;
    for (const id of served) {
      if (!seen.has(id)) found.push({ id, partition: position.partition });
      seen.add(id);
    }
    if (served.length < members.length) {
      position = { ...position, next, after: served.at(-1)! };
    } else {
      const done = next === '0';
      position = {
        partition: done ? position.partition + 1 : position.partition,
        scan: done ? '0' : next,
        count: limit,
        next: null,
        after: null,
      };
    }
  }

  const users: UserView[] = [];
  if (found.length > 0) {
    const reads = ctx.redis.pipeline();
    for (const { id, partition } of found) reads.hgetall(userKeys.user(keysOf[partition]!, id));
    for (const [err, h] of (await reads.exec()) ?? []) {
      if (err) throw err;
      const hash = h as Record<string, string>;
      // Deleted between the SSCAN and this read.
      if (hash.userId !== undefined) users.push(toView(hash));
    }
  }
  return {
    users,
    total,
    nextCursor: position.partition < partitions ? encodePosition(version, position) : null,
  };
}
