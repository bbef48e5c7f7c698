/**
 * Fixture boards for the sensor tests: paths to the sysfs trees under
 * `test/fixtures/sysfs/<board>` (kernel layout, class entries as symlinks),
 * a disposable copy of one (to make a device vanish mid-run), and errors
 * shaped like the kernel's (a fixture file cannot return EIO).
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/errors.ts";
import type { Reading } from "../../lib/sensors/reading.ts";
import { ROOT, type TempDir, tempDir } from "../_helpers.ts";

/** The fixture boards. */
export const BOARDS = ["rpi4-bme280", "rpi-ds18b20", "rpi-dht11", "bare"] as const;

/** Absolute sysfs root of a fixture board. */
export const board = (name: typeof BOARDS[number]): string => `${ROOT}test/fixtures/sysfs/${name}`;

/** Absolute procfs fixture root. */
export const PROC = `${ROOT}test/fixtures/proc`;

/** A copy of a board in a temp dir (symlinks kept); `path` is its sysfs root. */
export async function copyBoard(name: typeof BOARDS[number]): Promise<TempDir> {
  const dir = await tempDir(`sysfs-${name}`);
  const out = await new Deno.Command("cp", { args: ["-a", `${board(name)}/.`, dir.path] }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return dir;
}

/** An error as Deno reports an errno it has no class for (e.g. EIO from a DHT11). */
export function osError(code: string, message = `${code} (os error)`): Error {
  return Object.assign(new Error(message), { code });
}

/** Reading values by name, for compact assertions. */
export function byName(readings: Reading[]): Record<string, [number, string]> {
  return Object.fromEntries(readings.map((r) => [r.name, [r.value, r.unit]]));
}

/** Asserts `fn` throws a ConfigError (exit 2) and returns it. */
export function configError(fn: () => unknown): ConfigError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
  assert.equal(error.exitCode, 2);
  return error;
}
