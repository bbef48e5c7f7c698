/**
 * The `thermal` sensor: one thermal zone, `<sysfs>/class/thermal/thermal_zone*`,
 * selected by its `type` file (e.g. `cpu-thermal`), never by its index,
 * which changes with probe order. `temp` is millidegrees Celsius.
 *
 * @example
 * ```ts
 * const soc = createThermalSensor({ zone: "cpu-thermal", sysfsRoot: "/sys" });
 * console.log(await soc.read(Date.now())); // [{ name: "temperature", value: 48.686, unit: "°C", ... }]
 * ```
 *
 * @module
 */
import type { Reading } from "./reading.ts";
import type { Sensor } from "./sensor.ts";
import {
  listSync,
  parseNumber,
  type ReadText,
  readTextFile,
  readTrimmedSync,
  readWithRelookup,
  SYSFS_DEFAULTS,
  type SysfsOptions,
  tidy,
  under,
} from "./_sysfs.ts";
import { findAtStart, findEntry } from "./_find.ts";

/** Options of {@linkcode createThermalSensor}; `name` defaults to the zone type. */
export interface ThermalOptions extends SysfsOptions {
  /** The zone's `type` file, e.g. `cpu-thermal`. */
  zone: string;
}

/** Defaults of {@linkcode ThermalOptions}. */
export const THERMAL_DEFAULTS = SYSFS_DEFAULTS;

/** One thermal zone folder. */
export interface ThermalZone {
  /** Absolute folder, e.g. `/sys/class/thermal/thermal_zone0`. */
  dir: string;
  /** `thermal_zone0` */
  entry: string;
  /** Its `type`. */
  type: string;
}

const ZONE = /^thermal_zone\d+$/;

/** The folder holding the zones under `sysfsRoot`. */
export const thermalDir = (sysfsRoot: string): string => under(sysfsRoot, "class/thermal");

/** `temp` text (millidegrees Celsius) → °C. */
export function parseThermalTemp(text: string, where = "temp"): number {
  return tidy(parseNumber(text, where) / 1000);
}

/** Lists zones with their types; undefined when the thermal class folder is missing. */
export function listThermalZonesSync(sysfsRoot: string): ThermalZone[] | undefined {
  const dir = thermalDir(sysfsRoot);
  const entries = listSync(dir, ZONE);
  return entries?.map((entry) => ({
    dir: `${dir}/${entry}`,
    entry,
    type: readTrimmedSync(`${dir}/${entry}/type`) ?? "",
  }));
}

/** Async lookup of the first zone of `type`. */
export function findThermalZone(
  sysfsRoot: string,
  type: string,
  read: ReadText = readTextFile,
): Promise<string | undefined> {
  return findEntry(thermalDir(sysfsRoot), ZONE, "type", type, read);
}

/**
 * True when hwmon chip `chip` is the thermal core's mirror of zone `zoneType`
 * (the core registers each zone as hwmon with `-` replaced by `_`, e.g.
 * `cpu-thermal` → `cpu_thermal`; a proposed patch appends `_<zone id>`).
 */
export function isThermalMirror(chip: string, zoneType: string): boolean {
  const base = zoneType.replaceAll("-", "_");
  return chip === base || new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}_\\d+$`)
    .test(chip);
}

/** Creates the thermal sensor; a zone of that type must exist now (else ConfigError). */
export function createThermalSensor(options: ThermalOptions): Sensor {
  const root = options.sysfsRoot ?? THERMAL_DEFAULTS.sysfsRoot;
  const read = options.readText ?? readTextFile;
  const name = options.name ?? options.zone;
  const zone = findAtStart({
    dir: thermalDir(root),
    list: () => listThermalZonesSync(root),
    nameOf: (z) => z.type,
    pick: (zones) => zones.find((z) => z.type === options.zone),
    missing: `no thermal zone of type "${options.zone}"`,
    hint: "set zone to one of the types found (`leaf sensors` lists them)",
  });
  const state = { dir: zone.dir };
  return {
    name,
    type: "thermal",
    async read(now: number): Promise<Reading[]> {
      const value = await readWithRelookup(
        state,
        async (dir) => parseThermalTemp(await read(`${dir}/temp`), `${dir}/temp`),
        () => findThermalZone(root, options.zone, read),
        () => `thermal zone "${options.zone}" is gone from ${thermalDir(root)}`,
      );
      return [{ sensor: name, name: "temperature", value, unit: "°C", ts: now }];
    },
  };
}
