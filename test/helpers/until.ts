/** Polling for an outcome with a deadline, for tests that watch a system converge. */

/**
 * Calls `check` every `intervalMs` until it returns true; throws naming `what` (and the last
 * value `describe` gives, if any) after `timeoutMs`.
 */
export async function until(
  check: () => Promise<boolean>,
  what: string,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${options.describe ? ` (${options.describe()})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}
