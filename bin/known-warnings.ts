/**
 * Process warnings the CLI knows to be harmless and keeps off its stderr, so that an error is
 * still one line there. Every other warning is printed by Node as usual.
 */

/**
 * kafkajs 2.2.4, its last release, schedules its request queue's idle check with
 * `setTimeout(fn, -1 - Date.now())` (tulios/kafkajs#1751). Node has always run such a timer after
 * 1 ms; since Node 23 it also warns, once per process. Matched by the frame that schedules it.
 */
export function isKafkajsIdleCheckWarning(warning: Error): boolean {
  return (
    warning.name === 'TimeoutNegativeWarning' &&
    /[\\/]kafkajs[\\/]src[\\/]network[\\/]requestQueue[\\/]/.test(warning.stack ?? '')
  );
}

/**
 * Puts a filter in front of Node's own printing of process warnings (its `warning` listener):
 * those `drop` matches are not printed. Listeners added later see every warning.
 */
export function dropWarnings(drop: (warning: Error) => boolean): void {
  for (const print of process.listeners('warning')) {
    process.removeListener('warning', print);
    process.on('warning', (warning) => {
      if (!drop(warning)) print(warning);
    });
  }
}
