import type { Reading } from "./reading.ts";

/** A source of readings. It knows nothing of MQTT or the outbox. */
export interface Sensor {
  /** Label used in messages: config `name`, else the device (zone type, chip, id) or the type. */
  readonly name: string;
  /** The config `type`. */
  readonly type: string;
  /** Reads now; `now` is the tick's time (ms since epoch). Throws on failure. */
  read(now: number): Promise<Reading[]>;
  /** Releases resources (child processes, handles). */
  close?(): Promise<void>;
}
