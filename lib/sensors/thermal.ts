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
import { ConfigError } from "../errors.ts";
import type { Reading } from "./reading.ts";
import type { Sensor } from "./sensor.ts";
import {
  foundList,
  list,
  listSync,
  parseNumber,
  type ReadText,
  readTextFile,
  readTrimmedSync,
  readWithRelookup,
  startError,
  tidy,
  under,
} from "./_sysfs.ts";

/** Options of {@linkcode createThermalSensor}. */
export interface ThermalOptions {
  /** The zone's `type` file, e.g. `cpu-thermal`. */
  zone: string;
  /** Label used in messages. @default the zone type */
  name?: string;
  /** Root of sysfs. @default "/sys" */
  sysfsRoot?: string;
  /** Reads a file (a seam for tests). @default Deno.readTextFile */
  readText?: ReadText;
}

/** Defaults of {@linkcode ThermalOptions}. */
export const THERMAL_DEFAULTS = { sysfsRoot: "/sys" };

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
export async function findThermalZone(
  sysfsRoot: string,
  type: string,
  read: ReadText = readTextFile,
): Promise<string | undefined> {
  const dir = thermalDir(sysfsRoot);
  for (const entry of (await list(dir, ZONE)) ?? []) {
    const t = await read(`${dir}/${entry}/type`).then((s) => s.trim(), () => undefined);
    if (t === type) return `${dir}/${entry}`;
  }
  return undefined;
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
  let zones: ThermalZone[] | undefined;
  try {
    zones = listThermalZonesSync(root);
  } catch (error) {
    throw startError(thermalDir(root), error);
  }
  const zone = zones?.find((z) => z.type === options.zone);
  if (!zone) {
    throw new ConfigError(
      `no thermal zone of type "${options.zone}" under ${thermalDir(root)} ${
        foundList(thermalDir(root), zones?.map((z) => z.type))
      }`,
      { hint: "set zone to one of the types found (`leaf sensors` lists them)" },
    );
  }
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
