/** Seeds and scale of the fault tests, so a failing run can be repeated exactly. */
import { randomInt } from 'node:crypto';

/** True when `TRIBUTARY_FAULT_SCALE=full`: the long variants (more events, more faults). */
export const fullScale = process.env.TRIBUTARY_FAULT_SCALE === 'full';

/**
 * The seed of a fault test's random choices: `TRIBUTARY_FAULT_SEED` if set, a fresh one otherwise.
 * Printed, so that a failure can be replayed with the same stream and the same fault plan.
 */
export function faultSeed(test: string): number {
  const given = process.env.TRIBUTARY_FAULT_SEED;
  const seed = given ? Number(given) : randomInt(1, 2 ** 31 - 1);
  if (!Number.isSafeInteger(seed)) throw new Error(`TRIBUTARY_FAULT_SEED=${given}: not an integer`);
  console.log(`[${test}] seed ${seed} (repeat with TRIBUTARY_FAULT_SEED=${seed})`);
  return seed;
}
