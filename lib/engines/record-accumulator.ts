/**
 * Linger-and-size batching for clients that send what they are given at once (kafkajs has no
 * `linger.ms`). Records wait until the oldest has lingered `lingerMs` or `batchBytes` are
 * queued, then go out as one request; the promise of each `append` settles when every record
 * it handed in has been acknowledged.
 *
 * At most one request is in flight. kafkajs's idempotent producer rolls a partition's sequence
 * number back when a request fails and retries it after whatever was sent meanwhile, so two
 * concurrent requests could land out of order; one at a time keeps per-key order through
 * retries. While a request is in flight, new records pile up into a bigger next request, so a
 * slow broker gets fewer, larger requests rather than more of them.
 */
import { ByteBudget } from './byte-budget.js';

/** Sends one batch (topic → records, in order) and resolves once the broker acknowledged it. */
export type BatchSender<T> = (batch: ReadonlyMap<string, readonly T[]>) => Promise<void>;

/** When a {@link RecordAccumulator} sends, and how much it may hold. */
export interface AccumulatorOptions {
  /** How long the oldest queued record may wait for company (ms). */
  readonly lingerMs: number;
  /** A batch goes out once this many bytes are queued, and holds no more (unless one record does). */
  readonly batchBytes: number;
  /** Bytes queued plus in flight above which `append` waits (see {@link ByteBudget}). */
  readonly bufferBytes: number;
  /** Most records in one batch (unless one append's chunk is alone). Default: no limit. */
  readonly batchRecords?: number;
}

interface Ticket {
  pending: number;
  failed: boolean;
  error: unknown;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface Chunk<T> {
  readonly topic: string;
  readonly records: readonly T[];
  readonly bytes: number;
  readonly ticket: Ticket;
  /** When it was queued (ms), for the linger deadline. */
  readonly since: number;
}

/** Counters for logs and tests. */
export interface AccumulatorStats {
  readonly queuedBytes: number;
  readonly heldBytes: number;
  readonly inFlight: boolean;
  readonly batchesSent: number;
}

/** Batches records by linger time and size and sends them one request at a time. */
export class RecordAccumulator<T> {
  readonly #options: AccumulatorOptions;
  readonly #sizeOf: (record: T) => number;
  readonly #send: BatchSender<T>;
  readonly #now: () => number;
  readonly #budget: ByteBudget;
  /** Queued chunks from `#head` on; the consumed prefix is dropped now and then. */
  #queue: Chunk<T>[] = [];
  #head = 0;
  #queuedBytes = 0;
  #queuedRecords = 0;
  #inFlight = false;
  #timer: NodeJS.Timeout | undefined;
  #batchesSent = 0;
  /** Set while the budget admits waiting appends, so they all join one batch. */
  #admitting = false;
  #drained: (() => void)[] = [];

  constructor(
    options: AccumulatorOptions,
    sizeOf: (record: T) => number,
    send: BatchSender<T>,
    now: () => number = Date.now,
  ) {
    this.#options = options;
    this.#sizeOf = sizeOf;
    this.#send = send;
    this.#now = now;
    this.#budget = new ByteBudget(options.bufferBytes);
  }

  get stats(): AccumulatorStats {
    return {
      queuedBytes: this.#queuedBytes,
      heldBytes: this.#budget.used,
      inFlight: this.#inFlight,
      batchesSent: this.#batchesSent,
    };
  }

  /**
   * Queues records for `topic`, in order. Resolves when all are acknowledged; rejects with the
   * first error of any batch that carried some of them (the others may still have been written).
   */
  append(topic: string, records: readonly T[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const sizes = records.map((r) => this.#sizeOf(r));
    const total = sizes.reduce((a, b) => a + b, 0);
    return new Promise<void>((resolve, reject) => {
      const ticket: Ticket = { pending: 0, failed: false, error: undefined, resolve, reject };
      // Granted synchronously when there is room, so appends made in order are queued in order.
      this.#budget.take(total, () => this.#enqueue(topic, records, sizes, total, ticket));
    });
  }

  /** Sends everything queued without waiting for the linger time; resolves when nothing is left. */
  flush(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.#drained.push(resolve));
    this.#schedule();
    return done;
  }

  #idle(): boolean {
    return !this.#inFlight && this.#queue.length === this.#head && this.#budget.waiting === 0;
  }

  #enqueue(topic: string, records: readonly T[], sizes: number[], total: number, ticket: Ticket): void {
    const since = this.#now();
    const { batchBytes } = this.#options;
    const batchRecords = this.#options.batchRecords ?? Infinity;
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const size = sizes[i]!;
      if (i > start && (bytes + size > batchBytes || i - start >= batchRecords)) {
        this.#queue.push({ topic, records: records.slice(start, i), bytes, ticket, since });
        ticket.pending++;
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    this.#queue.push({
      topic,
      records: start === 0 ? records : records.slice(start),
      bytes,
      ticket,
      since,
    });
    ticket.pending++;
    this.#queuedBytes += total;
    this.#queuedRecords += records.length;
    if (!this.#admitting) this.#schedule();
  }

  #schedule(): void {
    if (this.#inFlight || this.#queue.length === this.#head) return;
    const oldest = this.#queue[this.#head]!.since;
    const urgent =
      this.#queuedBytes >= this.#options.batchBytes ||
      this.#queuedRecords >= (this.#options.batchRecords ?? Infinity) ||
      this.#drained.length > 0;
    const wait = urgent ? 0 : oldest + this.#options.lingerMs - this.#now();
    if (wait <= 0) {
      this.#sendNext();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#schedule();
      }, wait);
    }
  }

  #sendNext(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const taken: Chunk<T>[] = [];
    const batchRecords = this.#options.batchRecords ?? Infinity;
    let bytes = 0;
    let count = 0;
    while (this.#head < this.#queue.length) {
      const chunk = this.#queue[this.#head]!;
      if (
        taken.length > 0 &&
        (bytes + chunk.bytes > this.#options.batchBytes || count + chunk.records.length > batchRecords)
      )
        break;
      taken.push(chunk);
      bytes += chunk.bytes;
      count += chunk.records.length;
      this.#head++;
    }
    this.#compact();
    this.#queuedBytes -= bytes;
    this.#queuedRecords -= count;

    const batch = new Map<string, T[]>();
    for (const chunk of taken) {
      let list = batch.get(chunk.topic);
      if (list === undefined) batch.set(chunk.topic, (list = []));
      for (const record of chunk.records) list.push(record);
    }
    this.#inFlight = true;
    this.#batchesSent++;
    let sent: Promise<void>;
    try {
      sent = this.#send(batch);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      () => this.#settle(taken, bytes, false, undefined),
      (err: unknown) => this.#settle(taken, bytes, true, err),
    );
  }

  #settle(taken: readonly Chunk<T>[], bytes: number, failed: boolean, error: unknown): void {
    this.#inFlight = false;
    for (const { ticket } of taken) {
      if (failed && !ticket.failed) {
        ticket.failed = true;
        ticket.error = error;
      }
      if (--ticket.pending === 0) {
        if (ticket.failed) ticket.reject(ticket.error);
        else ticket.resolve();
      }
    }
    this.#admitting = true;
    this.#budget.release(bytes);
    this.#admitting = false;
    this.#schedule();
    if (this.#idle()) {
      const waiters = this.#drained;
      this.#drained = [];
      for (const resolve of waiters) resolve();
    }
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
