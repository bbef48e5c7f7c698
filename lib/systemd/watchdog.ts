/**
 * The systemd watchdog, gated on health: a timer sends `WATCHDOG=1` every
 * half `WatchdogSec`, but only while `isHealthy()` says the agent loop is
 * alive. The loop's scheduler beats at every slot and at least every
 * `heartbeatIntervalMs` (5 s), whatever the sensors' intervals and however
 * long a read hangs; when the scheduler stops, the pings stop and systemd
 * kills and restarts leaf after `WatchdogSec`. When the whole event loop
 * blocks (a synchronous write to a dead SD card, a stuck store), neither
 * timer can fire, with the same result.
 *
 * @example
 * ```ts
 * const heartbeat = createHeartbeat({ staleAfterMs: staleAfter(sensors) });
 * const loop = startLoop({ ...options, onHeartbeat: heartbeat.beat });
 * // Optional after a twin update: the threshold is safe for any interval.
 * loop.setDefaultInterval(30_000);
 * heartbeat.setStaleAfter(staleAfter(loop.timings()));
 * await notifier.ready();
 * const watchdog = createWatchdog({
 *   notifier,
 *   intervalMs: notifier.watchdogInterval,
 *   isHealthy: heartbeat.isHealthy,
 *   log,
 * });
 * watchdog.start();
 * // on SIGTERM:
 * watchdog.stop();
 * ```
 *
 * @module
 */
import { LOOP_DEFAULTS } from "../agent/loop.ts";
import type { Logger } from "../log.ts";

/** Options of {@linkcode createWatchdog}. */
export interface WatchdogOptions {
  /** Where pings go. */
  notifier: { ping(): Promise<void> };
  /** Ping period in ms (`notifier.watchdogInterval`); undefined disables the watchdog. */
  intervalMs: number | undefined;
  /** Pings are sent only while this returns true. */
  isHealthy: () => boolean;
  /** Logs when pings are withheld and when they resume. */
  log?: Logger;
  /** Describes the unhealthy state for the log, e.g. the heartbeat's age. */
  describe?: () => Record<string, unknown>;
}

/** A running (or stopped) watchdog. */
export interface Watchdog extends Disposable {
  /** True when a ping period is set. */
  readonly enabled: boolean;
  /** Pings sent. */
  readonly pings: number;
  /** Periods in which the ping was withheld because the loop was unhealthy. */
  readonly withheld: number;
  /** Pings now and then every `intervalMs`. Idempotent. */
  start(): void;
  /** Stops pinging. Idempotent. */
  stop(): void;
}

/** Creates a health-gated watchdog; call `start()` right after READY=1. */
export function createWatchdog(options: WatchdogOptions): Watchdog {
  const { intervalMs, notifier, isHealthy, log } = options;
  let timer: ReturnType<typeof setInterval> | undefined;
  let pings = 0;
  let withheld = 0;
  let healthy = true;

  const beat = () => {
    if (isHealthy()) {
      if (!healthy) log?.info("agent loop healthy again: resuming systemd watchdog pings");
      healthy = true;
      pings++;
      notifier.ping().catch(() => {});
      return;
    }
    withheld++;
    if (healthy) {
      log?.error(
        "agent loop is not ticking: withholding systemd watchdog pings, systemd will restart leaf",
        options.describe?.() ?? {},
      );
    }
    healthy = false;
  };

  const stop = () => {
    clearInterval(timer);
    timer = undefined;
  };
  return {
    enabled: intervalMs !== undefined,
    get pings() {
      return pings;
    },
    get withheld() {
      return withheld;
    },
    start() {
      if (intervalMs === undefined || timer !== undefined) return;
      beat();
      timer = setInterval(beat, intervalMs);
    },
    stop,
    [Symbol.dispose]: stop,
  };
}

/** Options of {@linkcode createHeartbeat}. */
export interface HeartbeatOptions {
  /** The loop counts as wedged when its last beat is older than this, ms. */
  staleAfterMs: number;
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
  /**
   * Test hook: after this many ms, beats are ignored, as if the loop had
   * wedged (see {@linkcode heartbeatTestHooks}). @default undefined (never)
   */
  wedgeAfterMs?: number;
  /** Logs the test hook when it fires. */
  log?: Logger;
}

/** The agent loop's pulse, read by the watchdog. */
export interface Heartbeat {
  /** Records a beat of the loop's scheduler; pass as `onHeartbeat` to `startLoop`. */
  beat: () => void;
  /** True while the last beat (or the start) is at most `staleAfterMs` old. */
  isHealthy: () => boolean;
  /** Ms since the last beat (or the start). */
  age: () => number;
  /** Replaces `staleAfterMs`, e.g. after the loop's schedule changed. */
  setStaleAfter: (ms: number) => void;
}

function checkStaleAfter(ms: number): number {
  if (!(ms > 0)) throw new RangeError(`staleAfterMs must be a positive number of ms, not ${ms}`);
  return ms;
}

/** Creates a heartbeat; it counts as fresh at creation. */
export function createHeartbeat(options: HeartbeatOptions): Heartbeat {
  const now = options.now ?? (() => performance.now());
  const created = now();
  let last = created;
  let wedged = false;
  let staleAfterMs = checkStaleAfter(options.staleAfterMs);
  const age = () => now() - last;
  return {
    beat: () => {
      const t = now();
      if (options.wedgeAfterMs !== undefined && t - created >= options.wedgeAfterMs) {
        if (!wedged) {
          options.log?.warn("test hook LEAF_TEST_WEDGE_LOOP_AFTER: ignoring loop heartbeats");
        }
        wedged = true;
        return;
      }
      last = t;
    },
    isHealthy: () => age() <= staleAfterMs,
    age,
    setStaleAfter: (ms) => {
      staleAfterMs = checkStaleAfter(ms);
    },
  };
}

/** A scheduled sensor as the loop sees it, ms (`ScheduledSensor` or `loop.timings()`). */
export interface SensorTiming {
  interval: number;
}

/** Slack in {@linkcode staleAfter} for timer lateness and short stalls of the event loop, ms. */
export const STALE_SLACK_MS = 5_000;

/**
 * How old the last heartbeat may be before the loop counts as wedged: two
 * beat periods plus {@linkcode STALE_SLACK_MS}. The loop's scheduler beats at
 * every slot and at least every `pulseMs` (its `heartbeatIntervalMs`), so a
 * period is the fastest interval or `pulseMs`, whichever is shorter. Neither
 * a long interval nor a hanging read can exceed it (the loop does not wait
 * for reads to beat), so the result stays valid when the intervals change:
 * at most 15 s with the defaults. Infinite without sensors (no loop runs).
 */
export function staleAfter(
  sensors: SensorTiming[],
  pulseMs: number = LOOP_DEFAULTS.heartbeatIntervalMs,
): number {
  if (sensors.length === 0) return Number.POSITIVE_INFINITY;
  const period = Math.min(pulseMs, ...sensors.map((s) => s.interval));
  return 2 * period + STALE_SLACK_MS;
}

/**
 * Test hooks from the environment: `LEAF_TEST_WEDGE_LOOP_AFTER=<ms>` makes
 * the heartbeat ignore beats after that long, so tests can prove the pings
 * stop. Unset in production: returns `{}`.
 */
export function heartbeatTestHooks(
  env: { get(name: string): string | undefined } = Deno.env,
): Pick<HeartbeatOptions, "wedgeAfterMs"> {
  const value = env.get("LEAF_TEST_WEDGE_LOOP_AFTER");
  if (value === undefined || !/^\d+$/.test(value)) return {};
  return { wedgeAfterMs: Number(value) };
}
