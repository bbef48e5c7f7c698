/**
 * The agent loop: reads sensors on a drift-free schedule and hands each
 * tick's readings to `onTick` (which writes the outbox). It never waits on
 * the network, and a failing or hanging sensor never stalls the others.
 *
 * Drift-free: the n-th read of a sensor is scheduled at `base + n × interval`,
 * so lateness does not accumulate. Sensors whose times coincide are read
 * together and their readings grouped into one message. A slot the scheduler
 * reaches a whole interval late (a stalled event loop, a suspend) is skipped.
 *
 * Ticks are independent: each starts at its slot whether or not earlier ticks
 * have finished. A tick's readings go to `onTick` once all its reads have
 * settled or timed out, so a tick waiting on a slow sensor can be delivered
 * after a later one (`scheduledAt`, not call order, dates a message). Reads of
 * one sensor never overlap: while its previous read runs, the sensor is
 * skipped and the skip counted as a timeout.
 *
 * Heartbeat: the scheduler wakes at every slot and at least every
 * `heartbeatIntervalMs`, and calls `onHeartbeat` each time. A beat says the
 * loop is scheduling, not that every sensor answered; a long interval cannot
 * make it look stale.
 *
 * @example
 * ```ts
 * const loop = startLoop({ sensors, log, onTick: (readings, at) => store(readings, at) });
 * loop.setDefaultInterval(30_000); // a device twin update
 * await loop.stop(); // at most stopTimeoutMs, even while a read hangs
 * ```
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Reading } from "../sensors/reading.ts";
import type { Sensor } from "../sensors/sensor.ts";

/** One scheduled sensor. */
export interface ScheduledSensor {
  sensor: Sensor;
  /** Read interval, ms. */
  interval: number;
  /** Abandon a read after this long, ms. */
  timeout: number;
  /** True when `interval` is the global default (a twin update may change it). */
  usesDefault?: boolean;
}

/** Per-sensor counters. */
export interface SensorStats {
  reads: number;
  errors: number;
  timeouts: number;
  lastError?: string;
}

/** A sensor's current schedule, ms (see {@linkcode Loop.timings}). */
export interface LoopTiming {
  name: string;
  interval: number;
  timeout: number;
}

/** Options of {@linkcode startLoop}. */
export interface LoopOptions {
  sensors: ScheduledSensor[];
  /** Receives one tick's readings (non-empty) and the tick's scheduled time. */
  onTick: (readings: Reading[], scheduledAt: number) => void;
  log: Logger;
  /** Wall clock. @default Date.now */
  now?: () => number;
  /** Log a failing sensor at most this often, ms. @default 60000 */
  errorLogInterval?: number;
  /** Called at each wake of the scheduler: every tick's start, and every `heartbeatIntervalMs`. */
  onHeartbeat?: () => void;
  /** The scheduler wakes, and beats, at least this often, ms. @default 5000 */
  heartbeatIntervalMs?: number;
  /**
   * `stop()` waits this long for ticks in progress, ms; their readings are
   * delivered if they complete in time, dropped otherwise. @default 1000
   */
  stopTimeoutMs?: number;
}

/** Defaults of the optional {@linkcode LoopOptions}. */
export const LOOP_DEFAULTS = {
  errorLogInterval: 60_000,
  heartbeatIntervalMs: 5_000,
  stopTimeoutMs: 1_000,
} as const;

/** The running loop. */
export interface Loop {
  /** Counters by sensor name. */
  readonly stats: Map<string, SensorStats>;
  /** Ticks completed (including ticks without readings; not those cut off by `stop()`). */
  readonly ticks: number;
  /** The current interval and timeout of each sensor, e.g. for `staleAfter()`. */
  timings(): LoopTiming[];
  /** Changes the interval of every sensor that uses the global default. */
  setDefaultInterval(ms: number): void;
  /**
   * Stops scheduling and beating at once, then waits at most `stopTimeoutMs`
   * for ticks in progress: those that complete in time are delivered to
   * `onTick`, the rest are abandoned and never delivered. Idempotent.
   */
  stop(): Promise<void>;
}

const TIMED_OUT = Symbol("timeout");
const ABANDONED = Symbol("abandoned");

interface Entry extends ScheduledSensor {
  base: number;
  n: number;
  busy: boolean;
  lastLogged: number;
  failing: boolean;
}

function checkPositive(what: string, ms: number): void {
  if (!(ms > 0 && ms < Infinity)) {
    throw new RangeError(`${what} must be a positive number of ms, not ${ms}`);
  }
}

/** Starts the loop; the first tick is immediate. */
export function startLoop(options: LoopOptions): Loop {
  const now = options.now ?? Date.now;
  const errorLogInterval = options.errorLogInterval ?? LOOP_DEFAULTS.errorLogInterval;
  const pulse = options.heartbeatIntervalMs ?? LOOP_DEFAULTS.heartbeatIntervalMs;
  const stopTimeoutMs = options.stopTimeoutMs ?? LOOP_DEFAULTS.stopTimeoutMs;
  checkPositive("heartbeatIntervalMs", pulse);
  for (const s of options.sensors) checkPositive(`the interval of "${s.sensor.name}"`, s.interval);
  const start = now();
  const entries: Entry[] = options.sensors.map((s) => ({
    ...s,
    base: start,
    n: 0,
    busy: false,
    lastLogged: -Infinity,
    failing: false,
  }));
  const stats = new Map<string, SensorStats>();
  for (const e of entries) stats.set(e.sensor.name, { reads: 0, errors: 0, timeouts: 0 });
  let stopped = false; // no new ticks, no beats
  let closed = false; // no more onTick: stop() has waited
  let stopping: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ticks = 0;
  let storeFailures = 0; // ticks onTick threw on, logged once per errorLogInterval
  let storeLogged = -Infinity;
  const inflight = new Set<Promise<void>>();
  const abandons = new Set<() => void>();

  const due = (e: Entry) => e.base + e.n * e.interval;

  const report = (e: Entry, st: SensorStats, message: string) => {
    st.lastError = message;
    e.failing = true;
    const t = now();
    if (t - e.lastLogged >= errorLogInterval) {
      e.lastLogged = t;
      options.log.warn(`sensor "${e.sensor.name}" failed: ${message}`, {
        errors: st.errors,
        timeouts: st.timeouts,
      });
    }
  };

  const readOne = async (e: Entry, at: number): Promise<Reading[]> => {
    const st = stats.get(e.sensor.name)!;
    if (e.busy) {
      st.timeouts++;
      report(e, st, "the previous read is still running");
      return [];
    }
    e.busy = true;
    let t: ReturnType<typeof setTimeout> | undefined;
    let abandon = () => {};
    const cut = new Promise<typeof TIMED_OUT | typeof ABANDONED>((resolve) => {
      t = setTimeout(() => resolve(TIMED_OUT), e.timeout);
      abandon = () => resolve(ABANDONED);
    });
    abandons.add(abandon);
    try {
      // A read that throws instead of rejecting is a failed read too. Once
      // abandoned, the read may still settle: race() has handled its rejection.
      const read = (async () => await e.sensor.read(at))().finally(() => e.busy = false);
      const result = await Promise.race([read, cut]);
      if (result === ABANDONED) return [];
      if (result === TIMED_OUT) {
        st.timeouts++;
        report(e, st, `read timed out after ${e.timeout} ms`);
        return [];
      }
      st.reads++;
      if (e.failing) {
        e.failing = false;
        options.log.info(`sensor "${e.sensor.name}" recovered`, { errors: st.errors });
      }
      return result;
    } catch (error) {
      st.errors++;
      report(e, st, error instanceof Error ? error.message : String(error));
      return [];
    } finally {
      clearTimeout(t);
      abandons.delete(abandon);
    }
  };

  const runTick = async (batch: Entry[], scheduledAt: number) => {
    const at = now();
    const results = await Promise.all(batch.map((e) => readOne(e, at)));
    if (closed) return; // cut off by stop()
    ticks++;
    const readings = results.flat();
    if (readings.length === 0) return;
    try {
      options.onTick(readings, scheduledAt);
    } catch (error) {
      storeFailures++;
      const t = now();
      if (t - storeLogged >= errorLogInterval) {
        storeLogged = t;
        options.log.error("could not store a tick", {
          error: String(error),
          failures: storeFailures,
        });
      }
    }
  };

  const arm = (t: number) => {
    clearTimeout(timer);
    if (stopped || entries.length === 0) return;
    const next = Math.min(...entries.map(due));
    timer = setTimeout(wake, Math.min(Math.max(0, next - t), pulse));
  };

  const wake = () => {
    timer = undefined;
    if (stopped) return;
    const t = now();
    for (const e of entries) {
      // The wall clock stepped back: re-base rather than sleep until the old slot.
      if (due(e) - t > e.interval) {
        e.base = t;
        e.n = 0;
      }
    }
    for (;;) {
      const next = Math.min(...entries.map(due));
      if (next > t) break;
      const batch = entries.filter((e) => due(e) === next);
      // The next slot is the first after now: missed slots are skipped, not burst.
      for (const e of batch) e.n = Math.max(e.n + 1, Math.floor((t - e.base) / e.interval) + 1);
      const tick = runTick(batch, next).catch((error) => {
        options.log.error("a tick of the agent loop failed", { error: String(error) });
      });
      inflight.add(tick);
      void tick.then(() => inflight.delete(tick));
    }
    arm(t);
    options.onHeartbeat?.();
  };

  arm(start);

  return {
    stats,
    get ticks() {
      return ticks;
    },
    timings: () =>
      entries.map((e) => ({ name: e.sensor.name, interval: e.interval, timeout: e.timeout })),
    setDefaultInterval(ms: number) {
      checkPositive("the default interval", ms);
      const at = now();
      let changed = false;
      for (const e of entries) {
        if (!e.usesDefault || e.interval === ms) continue;
        // Re-base on the last slot so the next read comes one new interval later.
        const last = e.n > 0 ? e.base + (e.n - 1) * e.interval : at;
        e.base = Math.max(last + ms, at) - ms;
        e.n = 1;
        e.interval = ms;
        changed = true;
      }
      // One timer, cleared before it is set again: never a second schedule.
      if (changed) arm(at);
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearTimeout(timer);
        let t: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          Promise.all(inflight),
          new Promise((r) => t = setTimeout(r, stopTimeoutMs)),
        ]);
        clearTimeout(t);
        closed = true;
        for (const abandon of abandons) abandon();
        await Promise.all(inflight);
      })();
      return stopping;
    },
  };
}
