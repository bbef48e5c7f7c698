/**
 * What a board exposes: the system sensor (/proc), thermal zones by type,
 * hwmon chips by name with their channels, IIO devices by name, 1-Wire
 * thermometers by id; for each, the config entry that reads it, and for
 * each kind not present, a line saying so and which overlay brings it.
 * `leaf sensors` prints this; {@linkcode configSnippet} renders the YAML.
 *
 * @module
 */
import type { Sensor } from "./sensor.ts";
import { createSystemSensor } from "./system.ts";
import {
  createThermalSensor,
  isThermalMirror,
  listThermalZonesSync,
  thermalDir,
} from "./thermal.ts";
import { createHwmonSensor, hwmonDir, listHwmonChipsSync } from "./hwmon.ts";
import { createIioSensor, iioDir, listIioDevicesSync } from "./iio.ts";
import { createW1Sensor, listW1ThermometersSync, w1Dir } from "./w1.ts";
import { ALLOW_ALL_HINT, under } from "./_sysfs.ts";

/** Options of {@linkcode discover}. */
export interface DiscoverOptions {
  /** Root of sysfs. @default "/sys" */
  sysfsRoot?: string;
  /** Root of procfs. @default "/proc" */
  procfsRoot?: string;
}

/** Defaults of {@linkcode DiscoverOptions}. */
export const DISCOVER_DEFAULTS = { sysfsRoot: "/sys", procfsRoot: "/proc" };

/** A config entry, as pasted into `sensors:`. */
export type SensorEntry = { type: string } & Record<string, string>;

/** One thing found. */
export interface FoundDevice {
  /** The sensor type that reads it. */
  type: "system" | "thermal" | "hwmon" | "iio" | "w1";
  /** What config selects it by: zone type, chip name, device name, 1-Wire id ("" for system). */
  key: string;
  /** Where it is. */
  path: string;
  /** Reading names it offers, when known before reading. */
  channels: string[];
  /** The entry that reads it; absent when it is not offered (see `note`). */
  entry?: SensorEntry;
  /** Why it is not offered, or anything else worth saying. */
  note?: string;
}

/** A kind of sensor not found, and why. */
export interface NotFound {
  /** The sensor type not found. */
  type: FoundDevice["type"];
  /** What was looked for, where, and which overlay brings it. */
  message: string;
  /** What to do, when it is not about hardware (e.g. permissions). */
  hint?: string;
}

/** The board's inventory. */
export interface Discovery {
  /** Root of sysfs looked at. */
  sysfsRoot: string;
  /** Root of procfs looked at. */
  procfsRoot: string;
  /** What was found, in order: system, thermal, hwmon, iio, w1. */
  devices: FoundDevice[];
  /** What was not. */
  notFound: NotFound[];
}

/** Runs `list`, turning a permission failure into a NotFound line. */
function guarded<T>(
  type: NotFound["type"],
  what: string,
  notFound: NotFound[],
  list: () => T,
): T | undefined {
  try {
    return list();
  } catch (error) {
    const denied = error instanceof Deno.errors.NotCapable;
    notFound.push({
      type,
      message: denied
        ? `${what}: not readable without --allow-all`
        : `${what}: cannot read (${(error as Error).message})`,
      ...(denied ? { hint: ALLOW_ALL_HINT } : {}),
    });
    return undefined;
  }
}

/** Lists what the board at `sysfsRoot`/`procfsRoot` exposes. */
export function discover(options: DiscoverOptions = {}): Discovery {
  const sysfsRoot = options.sysfsRoot ?? DISCOVER_DEFAULTS.sysfsRoot;
  const procfsRoot = options.procfsRoot ?? DISCOVER_DEFAULTS.procfsRoot;
  const devices: FoundDevice[] = [];
  const notFound: NotFound[] = [];

  const loadavg = under(procfsRoot, "loadavg");
  const proc = guarded("system", "system", notFound, () => Deno.readTextFileSync(loadavg));
  if (proc !== undefined) {
    devices.push({
      type: "system",
      key: "",
      path: procfsRoot,
      channels: ["load", "memory", "uptime", "cpu", "undervoltage (Raspberry Pi)"],
      entry: { type: "system" },
    });
  }

  const tdir = thermalDir(sysfsRoot);
  const zones = guarded(
    "thermal",
    "thermal zones",
    notFound,
    () => listThermalZonesSync(sysfsRoot),
  );
  const zoneTypes = new Set<string>();
  for (const z of zones ?? []) {
    const dup = zoneTypes.has(z.type);
    zoneTypes.add(z.type);
    devices.push({
      type: "thermal",
      key: z.type,
      path: z.dir,
      channels: ["temperature"],
      ...(dup ? { note: `same type as an earlier zone: leaf reads the first` } : {
        entry: { type: "thermal", zone: z.type },
      }),
    });
  }
  if (zones !== undefined && zones.length === 0) {
    notFound.push({ type: "thermal", message: `thermal zones: none under ${tdir}` });
  } else if (zones === undefined && !notFound.some((n) => n.type === "thermal")) {
    notFound.push({ type: "thermal", message: `thermal zones: ${tdir} does not exist` });
  }

  const hdir = hwmonDir(sysfsRoot);
  const chips = guarded("hwmon", "hwmon chips", notFound, () => listHwmonChipsSync(sysfsRoot));
  const chipNames = new Set<string>();
  for (const c of chips ?? []) {
    const mirrorOf = [...zoneTypes].find((t) => isThermalMirror(c.name, t));
    const note = mirrorOf !== undefined
      ? `the thermal zone "${mirrorOf}" again (the kernel mirrors zones into hwmon): not offered`
      : chipNames.has(c.name)
      ? "same name as an earlier chip: leaf reads the first"
      : c.channels.length === 0
      ? "no *_input channel leaf can read"
      : undefined;
    chipNames.add(c.name);
    devices.push({
      type: "hwmon",
      key: c.name,
      path: c.dir,
      channels: c.channels.map((ch) => `${ch.reading} (${ch.unit || "0/1"})`),
      ...(note ? { note } : { entry: { type: "hwmon", chip: c.name } }),
    });
  }
  if (chips !== undefined && chips.length === 0) {
    notFound.push({ type: "hwmon", message: `hwmon chips: none under ${hdir}` });
  } else if (chips === undefined && !notFound.some((n) => n.type === "hwmon")) {
    notFound.push({ type: "hwmon", message: `hwmon chips: ${hdir} does not exist` });
  }

  const idir = iioDir(sysfsRoot);
  const iio = guarded("iio", "IIO devices", notFound, () => listIioDevicesSync(sysfsRoot));
  const iioNames = new Set<string>();
  for (const d of iio ?? []) {
    const note = iioNames.has(d.name)
      ? "same name as an earlier device: leaf reads the first"
      : d.channels.length === 0
      ? "no channel leaf can read"
      : undefined;
    iioNames.add(d.name);
    devices.push({
      type: "iio",
      key: d.name,
      path: d.dir,
      channels: d.channels.map((ch) => `${ch.reading} (${ch.unit})`),
      ...(note ? { note } : { entry: { type: "iio", device: d.name } }),
    });
  }
  if ((iio ?? []).length === 0 && !notFound.some((n) => n.type === "iio")) {
    notFound.push({
      type: "iio",
      message:
        `IIO devices: ${iio === undefined ? `${idir} does not exist` : `none under ${idir}`}` +
        " (a BME280 appears after dtoverlay=i2c-sensor,bme280, a DHT11 after dtoverlay=dht11,gpiopin=4)",
    });
  }

  const wdir = w1Dir(sysfsRoot);
  const ids = guarded(
    "w1",
    "1-Wire thermometers",
    notFound,
    () => listW1ThermometersSync(sysfsRoot),
  );
  for (const id of ids ?? []) {
    devices.push({
      type: "w1",
      key: id,
      path: `${wdir}/${id}`,
      channels: ["temperature"],
      entry: { type: "w1", id },
    });
  }
  if ((ids ?? []).length === 0 && !notFound.some((n) => n.type === "w1")) {
    notFound.push({
      type: "w1",
      message:
        `1-Wire thermometers: ${
          ids === undefined ? `${wdir} does not exist` : `none under ${wdir}`
        }` +
        " (a DS18B20 appears after dtoverlay=w1-gpio, data on GPIO 4)",
    });
  }
  return { sysfsRoot, procfsRoot, devices, notFound };
}

/** A sensor that reads one found device (for the "current reading" column). */
export function sensorFor(device: FoundDevice, d: Discovery): Sensor {
  const sysfsRoot = d.sysfsRoot;
  switch (device.type) {
    case "system":
      return createSystemSensor({ procfsRoot: d.procfsRoot, sysfsRoot });
    case "thermal":
      return createThermalSensor({ zone: device.key, sysfsRoot });
    case "hwmon":
      return createHwmonSensor({ chip: device.key, sysfsRoot });
    case "iio":
      return createIioSensor({ device: device.key, sysfsRoot });
    case "w1":
      return createW1Sensor({ id: device.key, sysfsRoot });
  }
}

/** A YAML scalar: plain when unambiguous, else double-quoted. */
function scalar(value: string): string {
  const plain = /^[A-Za-z_/][\w.\-@:/]*$/.test(value) &&
    !/^(true|false|yes|no|on|off|null|~)$/i.test(value) && !/: |:$/.test(value);
  return plain ? value : JSON.stringify(value);
}

/** The ready-to-paste config for everything offered (roots only when not the defaults). */
export function configSnippet(d: Discovery): string {
  const lines: string[] = [];
  if (d.sysfsRoot !== DISCOVER_DEFAULTS.sysfsRoot) lines.push(`sysfsRoot: ${scalar(d.sysfsRoot)}`);
  if (d.procfsRoot !== DISCOVER_DEFAULTS.procfsRoot) {
    lines.push(`procfsRoot: ${scalar(d.procfsRoot)}`);
  }
  const entries = d.devices.flatMap((x) => (x.entry ? [x.entry] : []));
  // Every Linux has /proc: offer the system sensor even when it could not be read here.
  if (!entries.some((e) => e.type === "system")) entries.unshift({ type: "system" });
  lines.push("sensors:");
  for (const e of entries) {
    const [first, ...rest] = Object.entries(e);
    lines.push(`  - ${first[0]}: ${scalar(first[1])}`);
    for (const [k, v] of rest) lines.push(`    ${k}: ${scalar(v)}`);
  }
  return lines.join("\n") + "\n";
}
