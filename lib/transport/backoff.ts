/**
 * Reconnect delays: capped exponential backoff with full jitter, correct from
 * the first attempt (attempt 0 waits up to `minDelay`, not zero and not the
 * cap). Pure: randomness is injected.
 *
 * @module
 */

/** Options of {@linkcode createBackoff}. */
export interface BackoffOptions {
  /** Upper bound of the first delay, ms. @default 100 */
  minDelay?: number;
  /** Cap of every delay, ms. @default 30000 */
  maxDelay?: number;
  /** Random source in [0, 1). @default Math.random */
  random?: () => number;
}

/** Defaults of {@linkcode BackoffOptions}. */
export const BACKOFF_DEFAULTS = { minDelay: 100, maxDelay: 30_000 };

/** A backoff sequence: `next()` gives the delay before the next attempt. */
export interface Backoff {
  /** Delay before the next attempt, ms; advances the attempt count. */
  next(): number;
  /** Back to the first attempt (after a successful connection). */
  reset(): void;
  /** Attempts made since the last reset. */
  readonly attempts: number;
}

/**
 * Upper bound of the delay for `attempt` (0-based): `min(maxDelay, minDelay × 2^attempt)`.
 */
export function backoffCeiling(attempt: number, minDelay: number, maxDelay: number): number {
  // 2^attempt overflows to Infinity long after it passes any sane cap.
  return Math.min(maxDelay, minDelay * 2 ** Math.min(attempt, 52));
}

/** Creates a full-jitter backoff: each delay is uniform in [0, ceiling]. */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const minDelay = options.minDelay ?? BACKOFF_DEFAULTS.minDelay;
  const maxDelay = Math.max(minDelay, options.maxDelay ?? BACKOFF_DEFAULTS.maxDelay);
  const random = options.random ?? Math.random;
  let attempt = 0;
  return {
    next() {
      const ceiling = backoffCeiling(attempt, minDelay, maxDelay);
      attempt++;
      return Math.round(random() * ceiling);
    },
    reset() {
      attempt = 0;
    },
    get attempts() {
      return attempt;
    },
  };
}
