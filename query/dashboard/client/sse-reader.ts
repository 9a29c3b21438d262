/**
 * A Server-Sent Events reader on `fetch`, for the dashboard's `GET /stream`. The browser's
 * EventSource cannot send headers, and the query service takes credentials only in headers
 * (`X-API-Key`), never in URLs where logs and histories keep them; so the stream is read here with
 * fetch and a ReadableStream and parsed by event-stream.ts. The last event id is sent back as
 * `Last-Event-ID` on reconnect, so the service can replay what was missed. It reconnects with
 * backoff on network errors and 5xx, and stops for good on 401/403 (a new key is needed).
 */
import { EventStreamParser, type SseMessage } from './event-stream.js';

export type { SseMessage };

/** Where the connection stands, for the page's status pill. */
export type SseState =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'open' }
  | { readonly kind: 'retrying'; readonly inMs: number; readonly reason: string }
  | { readonly kind: 'refused'; readonly status: number; readonly reason: string }
  | { readonly kind: 'closed' };

export interface SseReaderOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly onMessage: (message: SseMessage) => void;
  readonly onState: (state: SseState) => void;
  /** First reconnect delay; the server's `retry:` replaces it. Default 3,000 ms, doubled up to 30 s. */
  readonly retryMs?: number;
}

/** Reads the stream until {@link SseReader.close}; reconnects by itself. */
export class SseReader {
  private controller: AbortController | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private failures = 0;
  private lastEventId: string | undefined;
  private retryMs: number;

  constructor(private readonly options: SseReaderOptions) {
    this.retryMs = options.retryMs ?? 3_000;
  }

  start(): void {
    void this.connect();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.controller?.abort();
    this.options.onState({ kind: 'closed' });
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.options.onState({ kind: 'connecting' });
    const controller = new AbortController();
    this.controller = controller;
    const parser = new EventStreamParser((m) => this.options.onMessage(m));
    parser.lastEventId = this.lastEventId;
    try {
      const response = await fetch(this.options.url, {
        headers: {
          accept: 'text/event-stream',
          ...this.options.headers,
          ...(this.lastEventId === undefined ? {} : { 'last-event-id': this.lastEventId }),
        },
        cache: 'no-store',
        signal: controller.signal,
      });
      if (response.status === 401 || response.status === 403) {
        this.options.onState({
          kind: 'refused',
          status: response.status,
          reason: await errorMessage(response),
        });
        return;
      }
      if (!response.ok || !response.body) {
        throw new Error(`HTTP ${response.status}: ${await errorMessage(response)}`);
      }
      this.failures = 0;
      this.options.onState({ kind: 'open' });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.push(value);
        this.lastEventId = parser.lastEventId;
        if (parser.retryMs !== undefined) this.retryMs = parser.retryMs;
      }
      this.retry('the server ended the stream');
    } catch (err) {
      if (this.closed) return;
      this.lastEventId = parser.lastEventId ?? this.lastEventId;
      this.retry(err instanceof Error ? err.message : String(err));
    }
  }

  private retry(reason: string): void {
    if (this.closed) return;
    this.failures++;
    const inMs = Math.min(30_000, this.retryMs * 2 ** Math.max(0, this.failures - 1));
    this.options.onState({ kind: 'retrying', inMs, reason });
    this.timer = setTimeout(() => void this.connect(), inMs);
  }
}

/** The `message` of an error body (`{ error, message }`), else the status text. */
export async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: unknown };
    if (typeof body.message === 'string') return body.message;
  } catch {
    // Not JSON: fall through.
  }
  return response.statusText || `HTTP ${response.status}`;
}
