/**
 * The query API as the page calls it: same origin, `X-API-Key` on every request, JSON bodies.
 * The response types mirror the route schemas of query/analytics-read.ts (`responseSchema`) and
 * query/dashboard/status-types.ts; the browser build cannot import the server modules themselves.
 */
import type { DashboardStatusBody } from '../status-types.js';

export type { DashboardStatusBody };

/** A window kind of the analytics group. */
export type WindowKind = 'tumbling' | 'hopping';

/** Fields every window and total of an analytics answer has. */
export interface Span {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  readonly final: boolean;
}

export interface CountsFields {
  readonly events: Readonly<Record<string, number>>;
  readonly totalEvents: number;
  readonly orders: { readonly placed: number; readonly paid: number };
}
export interface UniqueUsersFields {
  readonly uniqueUsers: number;
}
export interface RevenueFields {
  /** Minor units per ISO 4217 currency, as decimal integer strings (exact past 2^53). */
  readonly revenue: Readonly<Record<string, string>>;
  readonly ordersPaid: number;
}
export interface TopPagesFields {
  readonly topPages: readonly { readonly path: string; readonly views: number }[];
}

/** `GET /analytics/<metric>`: windows of one kind starting in [from, to), and the range's total. */
export interface MetricAnswer<F> {
  readonly from: number;
  readonly to: number;
  readonly window: { readonly kind: WindowKind; readonly sizeMs: number; readonly advanceMs: number } | null;
  readonly windows: readonly (Span & F)[];
  readonly total: ({ readonly from: number; readonly to: number; readonly final: boolean } & F) | null;
}

/** A refused or failed call, with the service's error code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The key is missing, wrong, or lacks the `query` scope. */
  get refused(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export class QueryApi {
  constructor(
    /** The service's root, e.g. `http://127.0.0.1:8090/` (ends with `/`). */
    readonly base: URL,
    private readonly key: () => string | null,
  ) {}

  /** Headers with the credential. */
  headers(): Record<string, string> {
    const key = this.key();
    return key ? { 'x-api-key': key } : {};
  }

  url(path: string, params: Readonly<Record<string, string | number>> = {}): string {
    const url = new URL(path, this.base);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));
    return url.href;
  }

  /** GETs `path` as JSON. @throws {@link ApiError} for any status but 200, or a network failure (status 0). */
  async get<T>(path: string, params?: Readonly<Record<string, string | number>>): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url(path, params), {
        headers: { accept: 'application/json', ...this.headers() },
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'network', `the query service cannot be reached (${(err as Error).message})`);
    }
    if (!response.ok) {
      let code = 'http_error';
      let message = `${path}: HTTP ${response.status}`;
      try {
        const body = (await response.json()) as { error?: unknown; message?: unknown };
        if (typeof body.error === 'string') code = body.error;
        if (typeof body.message === 'string') message = body.message;
      } catch {
        // Not a JSON error body: keep the status line.
      }
      throw new ApiError(response.status, code, message);
    }
    return (await response.json()) as T;
  }

  /** One analytics metric over `[now - range, now)` for windows of `kind`. */
  metric<F>(
    metric: 'counts' | 'unique-users' | 'revenue' | 'top-pages',
    range: string,
    kind: WindowKind,
    extra: Readonly<Record<string, string | number>> = {},
  ): Promise<MetricAnswer<F>> {
    return this.get<MetricAnswer<F>>(`analytics/${metric}`, { from: `now-${range}`, window: kind, ...extra });
  }

  status(): Promise<DashboardStatusBody> {
    return this.get<DashboardStatusBody>('dashboard/status');
  }
}
