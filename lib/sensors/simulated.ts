/**
 * A deterministic, seedable source of plausible environment readings
 * (temperature, humidity, pressure) for demos and tests: the same seed gives
 * the same series, whatever the wall clock says.
 *
 * @module
 */
import type { Reading } from "./reading.ts";
import type { Sensor } from "./sensor.ts";

/** Options of {@linkcode createSimulatedSensor}. */
export interface SimulatedOptions {
  /** Label used in messages. @default "simulated" */
  name?: string;
  /** Random seed. @default 1 */
  seed?: number;
}

/** Defaults of {@linkcode SimulatedOptions}. */
export const SIMULATED_DEFAULTS: Required<SimulatedOptions> = { name: "simulated", seed: 1 };

/** mulberry32: a small, well-distributed 32-bit PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Creates the simulated sensor: each read advances a bounded random walk. */
export function createSimulatedSensor(options: SimulatedOptions = {}): Sensor {
  const o = { ...SIMULATED_DEFAULTS, ...options };
  const random = prng(o.seed);
  let temperature = 20 + random() * 5;
  let humidity = 40 + random() * 20;
  let pressure = 1000 + random() * 25;
  const step = (v: number, size: number, lo: number, hi: number) =>
    Math.min(hi, Math.max(lo, v + (random() - 0.5) * size));
  return {
    name: o.name,
    type: "simulated",
    read(now: number): Promise<Reading[]> {
      temperature = step(temperature, 0.4, -20, 60);
      humidity = step(humidity, 1.0, 5, 95);
      pressure = step(pressure, 0.6, 950, 1050);
      return Promise.resolve([
        { sensor: o.name, name: "temperature", value: round(temperature, 2), unit: "°C", ts: now },
        { sensor: o.name, name: "humidity", value: round(humidity, 1), unit: "%RH", ts: now },
        { sensor: o.name, name: "pressure", value: round(pressure, 1), unit: "hPa", ts: now },
      ]);
    },
  };
}
