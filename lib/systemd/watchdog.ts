/**
 * The systemd watchdog, gated on health: a timer sends `WATCHDOG=1` every
 * half `WatchdogSec`, but only while `isHealthy()` says the agent loop is
 * alive. When the loop stops ticking (a wedged read, a stuck store), the pings
 * stop and systemd kills and restarts leaf after `WatchdogSec`. When the whole
 * event loop blocks (a synchronous write to a dead SD card), the timer cannot
 * fire either, with the same result.
 *
 * @example
 * ```ts
 * const heartbeat = createHeartbeat({ staleAfterMs: staleAfter(sensors) });
 * const loop = startLoop({ ...options, onHeartbeat: heartbeat.beat });
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
  /** Records a tick; pass as `onHeartbeat` to `startLoop`. */
  beat: () => void;
  /** True while the last beat (or the start) is at most `staleAfterMs` old. */
  isHealthy: () => boolean;
  /** Ms since the last beat (or the start). */
  age: () => number;
}

/** Creates a heartbeat; it counts as fresh at creation. */
export function createHeartbeat(options: HeartbeatOptions): Heartbeat {
  const now = options.now ?? (() => performance.now());
  const created = now();
  let last = created;
  let wedged = false;
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
    isHealthy: () => age() <= options.staleAfterMs,
    age,
  };
}

/** A scheduled sensor as the loop sees it (interval and timeout in ms). */
export interface SensorTiming {
  interval: number;
  timeout: number;
}

/**
 * How old the last heartbeat may be before the loop counts as wedged: two
 * periods of the fastest sensor plus the slowest read timeout, plus a second
 * for timer lateness. The loop beats after every tick, and a tick never
 * outlasts the slowest timeout.
 */
export function staleAfter(sensors: SensorTiming[]): number {
  if (sensors.length === 0) return Number.POSITIVE_INFINITY;
  const fastest = Math.min(...sensors.map((s) => s.interval));
  const slowest = Math.max(...sensors.map((s) => s.timeout));
  return 2 * (fastest + slowest) + 1_000;
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
