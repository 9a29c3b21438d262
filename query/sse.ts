/**
 * `GET /stream`: live window updates and finals as Server-Sent Events. The analytics consumer group
 * PUBLISHes each update as JSON on one Redis Pub/Sub channel; this process holds ONE subscriber
 * connection (opened with the first client) and fans every message out to all connected clients.
 *
 * - Each message becomes one event: `id: <epoch>-<seq>`, `event: <the message's type, else
 *   "update">`, `data: <the JSON, on one line>`. `?events=a,b` keeps only those event names.
 * - A comment line (`: heartbeat`) every `heartbeatMs` keeps idle connections open through proxies.
 * - `Last-Event-ID` (sent by EventSource on reconnect): the last `replay` messages are kept, and a
 *   client that comes back within them receives what it missed. When it cannot (another process or
 *   a restart, too long ago, or the subscription itself was interrupted, since Pub/Sub does not
 *   keep messages), it receives `event: reset` instead: refetch the state over the REST routes.
 * - A client that does not read (more than `maxBufferedBytes` waiting) is disconnected; a
 *   disconnected client is forgotten at once. On shutdown every stream is ended.
 * - Caps: at most `maxClients` streams in all (503 beyond: the server is full) and `maxClientsPerKey`
 *   per caller, i.e. per credential, or per client IP when unauthenticated (429 beyond: that
 *   caller holds too many). A slot is reserved synchronously, before the first `await`, so a burst
 *   of connects cannot overshoot, and released on every way out: refusal, failed subscription,
 *   client gone before the stream began, disconnect, shutdown.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { rateLimitKey } from '../lib/http-auth.js';
import type { Logger } from '../lib/logger.js';
import { QueryErrorCodes, QueryHttpError } from './http-error.js';
import { SECURED, queryErrorResponses } from './openapi.js';
import type { QueryMetrics } from './query-metrics.js';

export interface StreamHubOptions {
  /** A connection whose settings the subscriber copies (`duplicate()`); it is not used itself. */
  readonly redis: Redis;
  readonly channel: string;
  readonly heartbeatMs: number;
  /** Messages kept for `Last-Event-ID`. */
  readonly replay: number;
  readonly maxClients: number;
  /** Most streams one caller may hold (capped at `maxClients`). */
  readonly maxClientsPerKey: number;
  readonly metrics: QueryMetrics;
  readonly logger: Logger;
  /** Bytes waiting in a client's socket at which it is dropped as too slow. Default 1 MiB. */
  readonly maxBufferedBytes?: number;
}

/** One formatted event. */
interface StreamEvent {
  readonly seq: number;
  readonly name: string;
  readonly frame: string;
}

interface Client {
  readonly res: ServerResponse;
  readonly events: ReadonlySet<string> | undefined;
  readonly slot: StreamSlot;
}

/** A stream slot held by one caller; {@link StreamHub.reserve} hands them out. */
export interface StreamSlot {
  /** Gives the slot back; idempotent. */
  release(): void;
}

/** Why {@link StreamHub.reserve} refused: every slot is taken, or this caller holds its share. */
export type StreamRefusal = 'full' | 'key-full' | 'closed';

/** Event names: a message's `type` when it is a short identifier, else `update`. */
const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const LAST_EVENT_ID = /^([0-9a-z]{1,16})-(\d{1,15})$/;

/** The SSE event name of a parsed message. */
export function eventNameOf(message: unknown): string {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === 'string' && EVENT_NAME.test(type) ? type : 'update';
}

/** One SSE event as text. `data` must not hold line breaks (JSON.stringify output does not). */
export function formatEvent(id: string | undefined, name: string, data: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${name}\ndata: ${data}\n\n`;
}

let epochs = 0;
function newEpoch(): string {
  return `${Date.now().toString(36)}${(epochs++ % 36).toString(36)}`;
}

/** The shared subscription and its clients. */
export class StreamHub {
  private readonly clients = new Set<Client>();
  /** Slots held (streaming, or between reserve and attach), in all and per caller. */
  private reserved = 0;
  private readonly reservedByKey = new Map<string, number>();
  private readonly recent: StreamEvent[] = [];
  private readonly maxBufferedBytes: number;
  private readonly log: Logger;
  private subscriber: Redis | undefined;
  private subscribing: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private epoch = newEpoch();
  private seq = 0;
  private closed = false;

  constructor(private readonly options: StreamHubOptions) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.log = options.logger.child({ component: 'query-stream', channel: options.channel });
  }

  /** Connected clients. */
  get size(): number {
    return this.clients.size;
  }

  /** Slots held: streams plus connects not yet attached. Never above `maxClients`. */
  get reservedSlots(): number {
    return this.reserved;
  }

  /**
   * Takes a slot for caller `key`, synchronously (no `await` between the check and the count), or
   * says why not. The caller must release it, or hand it to {@link attach}, which releases it when
   * the stream ends.
   */
  reserve(key: string): StreamSlot | StreamRefusal {
    if (this.closed) return 'closed';
    if (this.reserved >= this.options.maxClients) return 'full';
    const held = this.reservedByKey.get(key) ?? 0;
    if (held >= Math.min(this.options.maxClientsPerKey, this.options.maxClients)) return 'key-full';
    this.reserved++;
    this.reservedByKey.set(key, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.reserved--;
        const left = (this.reservedByKey.get(key) ?? 1) - 1;
        if (left > 0) this.reservedByKey.set(key, left);
        else this.reservedByKey.delete(key);
      },
    };
  }

  /** Subscribes on first use (and waits for it); rejects when Redis cannot be reached. */
  subscribe(): Promise<void> {
    this.subscribing ??= this.openSubscription().catch((err: unknown) => {
      this.subscribing = undefined;
      throw err;
    });
    return this.subscribing;
  }

  private async openSubscription(): Promise<void> {
    const subscriber = this.options.redis.duplicate({
      lazyConnect: true,
      maxRetriesPerRequest: null,
      // Named, so an operator (or a test) can tell it in CLIENT LIST (names may not hold spaces).
      connectionName: `tributary-stream:${this.options.channel.replace(/[^\x21-\x7e]/g, '_')}`,
    });
    subscriber.on('error', (err: Error) =>
      this.log.warn({ err: err.message }, 'subscriber connection error'),
    );
    let interrupted = false;
    subscriber.on('close', () => (interrupted = true));
    subscriber.on('ready', () => {
      if (!interrupted) return;
      interrupted = false;
      // Pub/Sub keeps nothing: whatever was published while disconnected is lost to us. Clients
      // hear it (reset), and ids from before the gap can no longer be replayed (new epoch).
      this.log.warn('subscription restored after an interruption; clients are told to refetch');
      this.recent.length = 0;
      this.epoch = newEpoch();
      this.broadcastReset('interrupted');
    });
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.options.channel) this.onMessage(text);
    });
    try {
      await subscriber.connect();
      await subscriber.subscribe(this.options.channel);
    } catch (err) {
      subscriber.disconnect();
      throw err;
    }
    this.subscriber = subscriber;
    this.heartbeat = setInterval(() => this.sendHeartbeat(), this.options.heartbeatMs);
    this.heartbeat.unref();
    this.log.info('subscribed');
  }

  private onMessage(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.log.warn({ bytes: text.length }, 'ignored a message that is not JSON');
      return;
    }
    this.options.metrics.streamMessages.inc();
    const seq = ++this.seq;
    const name = eventNameOf(message);
    const event: StreamEvent = {
      seq,
      name,
      frame: formatEvent(`${this.epoch}-${seq}`, name, JSON.stringify(message)),
    };
    if (this.options.replay > 0) {
      this.recent.push(event);
      if (this.recent.length > this.options.replay) this.recent.shift();
    }
    for (const client of this.clients) this.send(client, event);
  }

  private send(client: Client, event: StreamEvent): void {
    if (client.events && !client.events.has(event.name)) return;
    this.write(client, event.frame);
  }

  private write(client: Client, text: string): void {
    const { res } = client;
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength > this.maxBufferedBytes) {
      this.options.metrics.streamDropped.inc({ reason: 'slow' });
      this.log.warn({ buffered: res.writableLength }, 'dropped a stream client that does not keep up');
      res.destroy();
      return;
    }
    res.write(text);
  }

  private sendHeartbeat(): void {
    const line = `: heartbeat ${new Date().toISOString()}\n\n`;
    for (const client of this.clients) this.write(client, line);
  }

  private broadcastReset(reason: string): void {
    const frame = formatEvent(undefined, 'reset', JSON.stringify({ reason }));
    for (const client of this.clients) this.write(client, frame);
  }

  /**
   * Takes over a hijacked response as an event stream: headers, then what the client missed since
   * `lastEventId` (or a reset), then live events until either side closes, when `slot` is released.
   * A client that left, or a hub that closed, while the slot was being set up gets no stream.
   */
  attach(
    req: IncomingMessage,
    res: ServerResponse,
    slot: StreamSlot,
    options: {
      readonly lastEventId?: string | undefined;
      readonly events?: readonly string[] | undefined;
      readonly headers?: Readonly<Record<string, string | number | string[] | undefined>>;
    } = {},
  ): void {
    if (req.destroyed || res.destroyed || res.writableEnded || res.socket?.destroyed) {
      slot.release();
      return;
    }
    if (this.closed) {
      slot.release();
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' });
      res.end(
        JSON.stringify({
          error: QueryErrorCodes.UNAVAILABLE,
          message: 'the service is shutting down; retry',
        }),
      );
      return;
    }
    const client: Client = { res, events: options.events ? new Set(options.events) : undefined, slot };
    res.writeHead(200, {
      ...options.headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and friends: do not buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 3000\n: connected to ${this.options.channel}\n\n`);
    res.socket?.setNoDelay(true);
    this.clients.add(client);
    this.options.metrics.streamClients.set(this.clients.size);
    const forget = () => {
      slot.release();
      if (this.clients.delete(client)) this.options.metrics.streamClients.set(this.clients.size);
    };
    req.on('close', forget);
    res.on('close', forget);
    if (options.lastEventId !== undefined) this.resume(client, options.lastEventId);
  }

  /** Sends the events after `lastEventId`, or a reset when they are not all kept. */
  private resume(client: Client, lastEventId: string): void {
    const m = LAST_EVENT_ID.exec(lastEventId.trim());
    const seq = m ? Number(m[2]) : NaN;
    const oldest = this.recent[0]?.seq ?? this.seq + 1;
    if (!m || m[1] !== this.epoch || seq > this.seq) {
      this.write(client, formatEvent(undefined, 'reset', JSON.stringify({ reason: 'unknown-event-id' })));
    } else if (seq + 1 < oldest) {
      this.write(client, formatEvent(undefined, 'reset', JSON.stringify({ reason: 'too-old' })));
    } else {
      for (const event of this.recent) if (event.seq > seq) this.send(client, event);
    }
  }

  /** Ends every stream and the subscription. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const client of this.clients) {
      this.options.metrics.streamDropped.inc({ reason: 'shutdown' });
      client.res.end(formatEvent(undefined, 'shutdown', '{}'));
      client.slot.release();
    }
    this.clients.clear();
    this.options.metrics.streamClients.set(0);
    await this.subscribing?.catch(() => undefined);
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }
}

/** Registers `GET /stream` on `app`, served by `hub`. */
export function registerStreamRoute(app: FastifyInstance, hub: StreamHub): void {
  app.get<{ Querystring: { events?: string }; Headers: { 'last-event-id'?: string } }>(
    '/stream',
    {
      schema: {
        summary: 'Live window updates and finals (Server-Sent Events)',
        description:
          'One event per update published by the analytics consumer group: `event` is the update type, ' +
          '`data` its JSON (a `final` window as in `/analytics/*`: revenue in minor units as decimal ' +
          'strings). Comment lines every 15 s keep the connection open. Reconnect with ' +
          '`Last-Event-ID` to receive what was missed; `event: reset` means it cannot be, so refetch. ' +
          'A service holds a limited number of streams (503 when full) and fewer per credential, or ' +
          'per client IP without one (429 when that caller holds its share).',
        tags: ['analytics'],
        security: SECURED as Record<string, string[]>[],
        querystring: {
          type: 'object',
          properties: {
            events: {
              type: 'string',
              pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}(,[A-Za-z][A-Za-z0-9_.-]{0,63}){0,31}$',
              description: 'Only these event names (comma-separated); default all',
            },
          },
        },
        headers: {
          type: 'object',
          properties: { 'last-event-id': { type: 'string', maxLength: 64 } },
        },
        response: {
          200: {
            description: 'An endless `text/event-stream`',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...queryErrorResponses({
            429: 'Rate limit exceeded, or this credential holds as many streams as one caller may; see Retry-After.',
          }),
        },
      },
      config: { scope: 'query' },
    },
    async (request, reply) => {
      // Before any await: a burst of connects sees each other's slots.
      const slot = hub.reserve(rateLimitKey(request));
      if (slot === 'key-full') {
        throw new QueryHttpError(
          429,
          QueryErrorCodes.RATE_LIMITED,
          'this credential already holds as many live streams as one caller may; close one and retry',
          [],
          { 'retry-after': '5' },
        );
      }
      if (slot === 'full' || slot === 'closed') {
        throw new QueryHttpError(
          503,
          QueryErrorCodes.UNAVAILABLE,
          slot === 'full' ? 'too many stream clients; retry later' : 'the service is shutting down; retry',
          [],
          { 'retry-after': '5' },
        );
      }
      try {
        await hub.subscribe();
      } catch (err) {
        slot.release();
        throw new QueryHttpError(
          503,
          QueryErrorCodes.UNAVAILABLE,
          'the live-updates channel cannot be subscribed to (Redis unavailable); retry later',
          [],
          { 'retry-after': '5' },
          { cause: err },
        );
      }
      reply.hijack();
      hub.attach(request.raw, reply.raw, slot, {
        lastEventId: request.headers['last-event-id'],
        events: request.query.events?.split(','),
        headers: { ...reply.getHeaders(), 'x-request-id': request.id },
      });
    },
  );
}
