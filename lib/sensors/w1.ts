/**
 * The `w1` sensor: one 1-Wire thermometer (DS18B20 and the other w1_therm
 * families: DS18S20 `10-`, DS1822 `22-`, DS18B20 `28-`, DS1825 `3b-`,
 * DS28EA00 `42-`) under `<sysfs>/bus/w1/devices/<id>/`.
 *
 * It reads `w1_slave` (two lines: the scratchpad with `crc=.. YES|NO`, then
 * the scratchpad again with `t=` in m°C) or, when asked or when `w1_slave`
 * is missing, the `temperature` attribute (m°C). A CRC failure, an empty
 * `temperature` and the power-on value 85.000 °C (and 127.937 °C, the
 * "insufficient power" pattern, beyond the DS18B20's +125 °C range) make the
 * read throw: an error for that sample, counted by the loop.
 *
 * @module
 */
import type { Reading } from "./reading.ts";
import type { Sensor } from "./sensor.ts";
import {
  listSync,
  parseNumber,
  readTextFile,
  SYSFS_DEFAULTS,
  type SysfsOptions,
  tidy,
  under,
} from "./_sysfs.ts";
import { findAtStart } from "./_find.ts";

/** Options of {@linkcode createW1Sensor}; `name` defaults to the id. */
export interface W1Options extends SysfsOptions {
  /** The device id, e.g. `28-0316a2799dff`. */
  id: string;
  /** Reading name. @default "temperature" */
  reading?: string;
  /** Which file to read; `auto` prefers `w1_slave`. @default "auto" */
  attribute?: "auto" | "w1_slave" | "temperature";
}

/** Defaults of {@linkcode W1Options}. */
export const W1_DEFAULTS = {
  ...SYSFS_DEFAULTS,
  attribute: "auto",
  reading: "temperature",
} as const;

/** Family prefixes of thermometers served by the kernel's w1_therm driver. */
export const W1_THERM_ID = /^(10|22|28|3b|42)-[0-9a-f]{12}$/;

/** Power-on reset value of the DS18B20 scratchpad, m°C. */
export const W1_POWER_ON_VALUE = 85000;
/** 0x07FF: what a DS18B20 on failing parasite power reports, m°C (beyond its range). */
export const W1_NO_POWER_VALUE = 127937;

/** The folder holding 1-Wire devices under `sysfsRoot`. */
export const w1Dir = (sysfsRoot: string): string => under(sysfsRoot, "bus/w1/devices");

/** Rejects the values a DS18B20 reports when it did not convert. */
function checkValue(milli: number, id: string): number {
  if (milli === W1_POWER_ON_VALUE) {
    throw new Error(
      `1-Wire ${id}: read 85.000 °C, the power-on value (no conversion happened): sample dropped`,
    );
  }
  if (milli === W1_NO_POWER_VALUE) {
    throw new Error(`1-Wire ${id}: read 127.937 °C, a sign of insufficient power: sample dropped`);
  }
  return tidy(milli / 1000);
}

/**
 * Parses `w1_slave` (pure) → °C. Throws on a CRC failure (`crc=.. NO`), a
 * malformed file, or the 85000 power-on value.
 */
export function parseW1Slave(text: string, id = "device"): number {
  const [first = "", second = ""] = text.split("\n");
  const crc = /crc=([0-9a-f]{2}) (YES|NO)\s*$/.exec(first);
  if (!crc) throw new Error(`1-Wire ${id}: unexpected w1_slave format: "${first.trim()}"`);
  if (crc[2] !== "YES") {
    throw new Error(`1-Wire ${id}: CRC check failed (crc=${crc[1]} NO): sample dropped`);
  }
  const t = /\bt=(-?\d+)\s*$/.exec(second);
  if (!t) throw new Error(`1-Wire ${id}: unexpected w1_slave format: "${second.trim()}"`);
  return checkValue(Number(t[1]), id);
}

/** Parses the `temperature` attribute (pure) → °C; empty means "not converted yet". */
export function parseW1Temperature(text: string, id = "device"): number {
  if (text.trim() === "") {
    throw new Error(`1-Wire ${id}: no temperature available yet (empty read): sample dropped`);
  }
  return checkValue(parseNumber(text, `1-Wire ${id} temperature`), id);
}

/** Ids of 1-Wire thermometers present; undefined when the 1-Wire bus folder is missing. */
export function listW1ThermometersSync(sysfsRoot: string): string[] | undefined {
  return listSync(w1Dir(sysfsRoot), W1_THERM_ID);
}

/** Creates the sensor for one thermometer, which must be present now (else ConfigError). */
export function createW1Sensor(options: W1Options): Sensor {
  const root = options.sysfsRoot ?? W1_DEFAULTS.sysfsRoot;
  const read = options.readText ?? readTextFile;
  const attribute = options.attribute ?? W1_DEFAULTS.attribute;
  const reading = options.reading ?? W1_DEFAULTS.reading;
  const name = options.name ?? options.id;
  const dir = `${w1Dir(root)}/${options.id}`;
  findAtStart({
    dir: w1Dir(root),
    list: () => listW1ThermometersSync(root),
    nameOf: (id) => id,
    pick: (ids) => ids.find((id) => id === options.id),
    missing: `no 1-Wire thermometer "${options.id}"`,
    hint: (found) =>
      found === undefined
        ? "enable 1-Wire with dtoverlay=w1-gpio (default GPIO 4) and reboot"
        : "set id to one of the ids found, or leave it out to read them all",
  });
  let file: "w1_slave" | "temperature" = attribute === "temperature" ? "temperature" : "w1_slave";
  if (attribute === "auto") {
    try {
      Deno.statSync(`${dir}/w1_slave`);
    } catch {
      file = "temperature";
    }
  }
  return {
    name,
    type: "w1",
    async read(now: number): Promise<Reading[]> {
      let text: string;
      try {
        text = await read(`${dir}/${file}`);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) {
          throw new Error(`1-Wire thermometer "${options.id}" is gone from ${w1Dir(root)}`, {
            cause: error,
          });
        }
        throw error;
      }
      const value = file === "w1_slave"
        ? parseW1Slave(text, options.id)
        : parseW1Temperature(text, options.id);
      return [{ sensor: name, name: reading, value, unit: "°C", ts: now }];
    },
  };
}
