import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `probe` until it resolves truthy or `timeoutMs` passes. `abort` is checked between
 * tries and may throw to fail fast (for instance when the process being waited on has died).
 * Returns the last error seen on timeout, for the caller's message.
 */
export async function waitUntil(
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; abort?: () => void },
): Promise<{ ok: true } | { ok: false; lastError: unknown }> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    opts.abort?.();
    try {
      if (await probe()) return { ok: true };
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) return { ok: false, lastError };
    await sleep(opts.intervalMs ?? 250);
  }
}
