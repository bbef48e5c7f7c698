/** One value read from one source, with its own timestamp. */
export interface Reading {
  /** The sensor's label (see `Sensor.name`). */
  sensor: string;
  /** What was measured, e.g. `temperature`, `load1`. */
  name: string;
  /** The value in `unit`. */
  value: number;
  /** Normalised unit: `°C`, `%RH`, `hPa`, `V`, `RPM`, `W`, `%`, `B`, `s`, or `""`. */
  unit: string;
  /** When it was read, ms since the Unix epoch. */
  ts: number;
}
