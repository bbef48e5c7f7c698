/**
 * The agent loop: reads sensors on a drift-free schedule and hands each
 * tick's readings to `onTick` (which writes the outbox). It never waits on
 * the network, and a failing or hanging sensor never stalls the others.
 *
 * Drift-free: the n-th read of a sensor is scheduled at `start + n × interval`,
 * so lateness does not accumulate (the 1000th tick lands on time, not
 * 1000 × late). Sensors whose times coincide are read together and their
 * readings grouped into one message.
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
  /** Called after every tick (the systemd watchdog pings from here). */
  onHeartbeat?: () => void;
}

/** The running loop. */
export interface Loop {
  /** Counters by sensor name. */
  readonly stats: Map<string, SensorStats>;
  /** Ticks completed. */
  readonly ticks: number;
  /** Changes the interval of every sensor that uses the global default. */
  setDefaultInterval(ms: number): void;
  /** Stops scheduling; waits for a tick in progress. */
  stop(): Promise<void>;
}

const TIMED_OUT = Symbol("timeout");

/** Starts the loop; the first tick is immediate. */
export function startLoop(options: LoopOptions): Loop {
  const now = options.now ?? Date.now;
  const errorLogInterval = options.errorLogInterval ?? 60_000;
  const start = now();
  const entries = options.sensors.map((s) => ({
    ...s,
    base: start,
    n: 0,
    busy: false,
    lastLogged: -Infinity,
    failing: false,
  }));
  const stats = new Map<string, SensorStats>();
  for (const e of entries) stats.set(e.sensor.name, { reads: 0, errors: 0, timeouts: 0 });
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ticks = 0;
  let current: Promise<void> = Promise.resolve();

  const due = (e: typeof entries[number]) => e.base + e.n * e.interval;

  const readOne = async (e: typeof entries[number], at: number): Promise<Reading[]> => {
    const st = stats.get(e.sensor.name)!;
    if (e.busy) {
      st.timeouts++;
      report(e, st, "the previous read is still running");
      return [];
    }
    e.busy = true;
    let t: ReturnType<typeof setTimeout> | undefined;
    const read = e.sensor.read(at).finally(() => e.busy = false);
    try {
      const result = await Promise.race([
        read,
        new Promise<typeof TIMED_OUT>((r) => t = setTimeout(() => r(TIMED_OUT), e.timeout)),
      ]);
      if (result === TIMED_OUT) {
        read.catch(() => {}); // abandoned; it may still settle later
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
    }
  };

  const report = (e: typeof entries[number], st: SensorStats, message: string) => {
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

  let ticking = false;
  const tick = async () => {
    if (stopped) return;
    ticking = true;
    const next = Math.min(...entries.map(due));
    const batch = entries.filter((e) => due(e) === next);
    for (const e of batch) {
      e.n++;
      // After a suspend or a long stall, skip missed slots instead of bursting.
      const behind = Math.floor((now() - due(e)) / e.interval);
      if (behind > 0) e.n += behind;
    }
    const results = await Promise.all(batch.map((e) => readOne(e, now())));
    const readings = results.flat();
    ticks++;
    if (readings.length > 0 && !stopped) {
      try {
        options.onTick(readings, next);
      } catch (error) {
        options.log.error("could not store a tick", { error: String(error) });
      }
    }
    options.onHeartbeat?.();
    ticking = false;
    schedule();
  };

  const schedule = () => {
    if (stopped || entries.length === 0) return;
    const next = Math.min(...entries.map(due));
    timer = setTimeout(() => {
      current = tick();
    }, Math.max(0, next - now()));
  };

  schedule();

  return {
    stats,
    get ticks() {
      return ticks;
    },
    setDefaultInterval(ms: number) {
      const at = now();
      let changed = false;
      for (const e of entries) {
        if (!e.usesDefault || e.interval === ms) continue;
        // Re-base on the last read so the next one comes one new interval later.
        const last = e.n > 0 ? e.base + (e.n - 1) * e.interval : at;
        e.base = Math.max(last + ms, at) - ms;
        e.n = 1;
        e.interval = ms;
        changed = true;
      }
      if (changed && !stopped && !ticking) {
        clearTimeout(timer);
        schedule();
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
