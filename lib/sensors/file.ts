/**
 * The `file` sensor: one number read from a file (a sysfs attribute leaf
 * has no driver for, or a value another program keeps up to date),
 * multiplied by `scale`: e.g. `path: /sys/bus/iio/devices/iio:device0/in_voltage0_raw`,
 * or a level in `/run/sensor/level` in mm with `scale: 0.001, unit: m`.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Reading } from "./reading.ts";
import type { Sensor } from "./sensor.ts";
import { parseNumber, type ReadText, readTextFile, tidy } from "./_sysfs.ts";

/** Options of {@linkcode createFileSensor}. */
export interface FileOptions {
  /** The file holding one number. */
  path: string;
  /** Multiplier applied to the number. @default 1 */
  scale?: number;
  /** Unit of the scaled value. @default "" */
  unit?: string;
  /** Label used in messages. @default the file's base name */
  name?: string;
  /** Reading name. @default "value" */
  reading?: string;
  /** Reads a file (a seam for tests). @default Deno.readTextFile */
  readText?: ReadText;
}

/** Defaults of {@linkcode FileOptions}. */
export const FILE_DEFAULTS = { scale: 1, unit: "", reading: "value" };

/** Parses the file's text (pure): one number, surrounding whitespace allowed, × scale. */
export function parseFileValue(text: string, scale = 1, where = "file"): number {
  return tidy(parseNumber(text, where) * scale);
}

/** Creates the file sensor; the file must exist now (else ConfigError). */
export function createFileSensor(options: FileOptions): Sensor {
  const scale = options.scale ?? FILE_DEFAULTS.scale;
  const unit = options.unit ?? FILE_DEFAULTS.unit;
  const reading = options.reading ?? FILE_DEFAULTS.reading;
  const read = options.readText ?? readTextFile;
  const name = options.name ?? (options.path.split("/").filter(Boolean).pop() ?? "file");
  try {
    if (!Deno.statSync(options.path).isFile) {
      throw new ConfigError(`"${options.path}" is not a file`, { hint: "point path at a file" });
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const why = error instanceof Deno.errors.NotFound
      ? "does not exist"
      : `cannot be read (${(error as Error).message})`;
    throw new ConfigError(`the file "${options.path}" ${why}`, {
      hint: "check path (the program that writes it must run first)",
      cause: error,
    });
  }
  return {
    name,
    type: "file",
    async read(now: number): Promise<Reading[]> {
      const value = parseFileValue(await read(options.path), scale, options.path);
      return [{ sensor: name, name: reading, value, unit, ts: now }];
    },
  };
}
