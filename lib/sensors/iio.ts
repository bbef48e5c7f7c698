/**
 * The `iio` sensor: one Industrial I/O device, `<sysfs>/bus/iio/devices/iio:device*`,
 * selected by its `name` file (e.g. `bme280`; a device-tree platform device
 * such as `dht11@0` also matches `dht11`), never by its index.
 *
 * Processed channels (`in_<type>_input`) are read as they are; raw channels
 * are `(in_<type>_raw + _offset) × _scale` with the channel's own or the
 * type's shared scale and offset (a raw channel without a scale has no known
 * unit and is left out). Either way the value is in the type's IIO unit,
 * converted here: temp m°C → °C, humidityrelative m%RH → %RH, pressure
 * kPa → hPa, voltage mV → V, current mA → A, power mW → W.
 *
 * DHT11/DHT22 reads fail often (checksum: EIO, lost edges: ETIMEDOUT): such
 * a channel is a skipped sample, not an error.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Reading } from "./reading.ts";
import type { Sensor } from "./sensor.ts";
import {
  isSkippedSample,
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
import { entriesWithText, findAtStart } from "./_find.ts";

/** Options of {@linkcode createIioSensor}; `name` defaults to the device name. */
export interface IioOptions extends SysfsOptions {
  /** The device's `name` file, e.g. `bme280`. */
  device: string;
}

/** Defaults of {@linkcode IioOptions}. */
export const IIO_DEFAULTS = SYSFS_DEFAULTS;

/** IIO channel types leaf reads: reading word, unit, factor from the IIO unit. */
export const IIO_TYPES: Record<string, { word: string; unit: string; factor: number }> = {
  temp: { word: "temperature", unit: "°C", factor: 1e-3 },
  humidityrelative: { word: "humidity", unit: "%RH", factor: 1e-3 },
  pressure: { word: "pressure", unit: "hPa", factor: 10 },
  voltage: { word: "voltage", unit: "V", factor: 1e-3 },
  current: { word: "current", unit: "A", factor: 1e-3 },
  power: { word: "power", unit: "W", factor: 1e-3 },
  illuminance: { word: "illuminance", unit: "lx", factor: 1 },
  resistance: { word: "resistance", unit: "Ω", factor: 1 },
};

/** One readable channel. */
export interface IioChannel {
  /** `temp`, `voltage0`, `temp_ambient` */
  id: string;
  /** IIO channel type: `temp`, `humidityrelative`, `pressure`, ... */
  type: string;
  /** Reading name. */
  reading: string;
  /** Unit of the converted value. */
  unit: string;
  /** Multiplier from the IIO unit to `unit`. */
  factor: number;
  /** `in_<id>_input`, when processed. */
  input?: string;
  /** `in_<id>_raw` plus its scale and optional offset files, when raw. */
  raw?: { file: string; scale: string; offset?: string };
}

/** One IIO device folder. */
export interface IioDevice {
  /** Absolute folder, e.g. `/sys/bus/iio/devices/iio:device0`. */
  dir: string;
  /** `iio:device0` */
  entry: string;
  /** Its `name` file. */
  name: string;
  /** What leaf reads from it. */
  channels: IioChannel[];
}

const DEVICE = /^iio:device\d+$/;
const CHANNEL = /^in_([a-z]+?)(\d*)((?:_[a-z]+\d*)*)_(input|raw)$/;

/** The folder holding the devices under `sysfsRoot`. */
export const iioDir = (sysfsRoot: string): string => under(sysfsRoot, "bus/iio/devices");

/** Plans a device's channels from its file names (pure). */
export function planIioChannels(files: string[]): IioChannel[] {
  const have = new Set(files);
  const byId = new Map<string, IioChannel>();
  for (const f of files) {
    const m = CHANNEL.exec(f);
    if (!m || !Object.hasOwn(IIO_TYPES, m[1])) continue;
    const [, type, index, modifiers, kind] = m;
    const id = `${type}${index}${modifiers}`;
    const t = IIO_TYPES[type];
    const ch = byId.get(id) ??
      { id, type, reading: `${t.word}${index}${modifiers}`, unit: t.unit, factor: t.factor };
    if (kind === "input") {
      ch.input = f;
      delete ch.raw; // a processed value wins over raw
    } else if (!ch.input) {
      const own = (s: string) => `in_${id}_${s}`;
      const shared = (s: string) => `in_${type}${modifiers}_${s}`;
      const pick = (s: string) => [own(s), shared(s), `in_${type}_${s}`].find((x) => have.has(x));
      const scale = pick("scale");
      if (scale === undefined) continue;
      const offset = pick("offset");
      ch.raw = { file: f, scale, ...(offset ? { offset } : {}) };
    }
    byId.set(id, ch);
  }
  return [...byId.values()].filter((c) => c.input || c.raw)
    .sort((a, b) => a.reading.localeCompare(b.reading, "en", { numeric: true }));
}

/** `(raw + offset) × scale`, the IIO ABI's formula, in the channel's IIO unit. */
export function scaleRaw(raw: number, scale: number, offset = 0): number {
  return (raw + offset) * scale;
}

/** Reads one channel's value in its normalised unit. */
export async function readIioChannel(dir: string, c: IioChannel, read: ReadText): Promise<number> {
  const num = async (f: string) => parseNumber(await read(`${dir}/${f}`), `${dir}/${f}`);
  let value: number;
  if (c.input) {
    value = await num(c.input);
  } else {
    const r = c.raw!;
    const [raw, scale, offset] = await Promise.all([
      num(r.file),
      num(r.scale),
      r.offset ? num(r.offset) : Promise.resolve(0),
    ]);
    value = scaleRaw(raw, scale, offset);
  }
  return tidy(value * c.factor);
}

/** True when a device named `actual` answers to `wanted` (exact, or the part before `@`). */
export function iioNameMatches(actual: string, wanted: string): boolean {
  return actual === wanted || actual.split("@")[0] === wanted;
}

/** Lists devices with their channels; undefined when the IIO bus folder is missing. */
export function listIioDevicesSync(sysfsRoot: string): IioDevice[] | undefined {
  const dir = iioDir(sysfsRoot);
  return listSync(dir, DEVICE)?.map((entry) => {
    const d = `${dir}/${entry}`;
    return {
      dir: d,
      entry,
      name: readTrimmedSync(`${d}/name`) ?? "",
      channels: planIioChannels(listSync(d, /^in_/) ?? []),
    };
  });
}

function pickDevice<T extends { name: string }>(devices: T[], wanted: string): T[] {
  const exact = devices.filter((d) => d.name === wanted);
  return exact.length > 0 ? exact : devices.filter((d) => iioNameMatches(d.name, wanted));
}

/** The first of `matches`, unless a prefix match makes `wanted` ambiguous (ConfigError). */
function onlyMatch(matches: IioDevice[], wanted: string): IioDevice | undefined {
  if (matches.length > 1 && !matches.every((d) => d.name === wanted)) {
    throw new ConfigError(
      `"${wanted}" matches several IIO devices (${matches.map((d) => d.name).join(", ")})`,
      { hint: "set device to the full name" },
    );
  }
  return matches[0];
}

/** Async lookup of the device answering to `device`. */
export async function findIioDevice(
  sysfsRoot: string,
  device: string,
  read: ReadText = readTextFile,
): Promise<string | undefined> {
  const entries = await Array.fromAsync(entriesWithText(iioDir(sysfsRoot), DEVICE, "name", read));
  return pickDevice(entries.map((e) => ({ name: e.text ?? "", dir: e.dir })), device)[0]?.dir;
}

/** Creates the IIO sensor; the device must exist now with readable channels (else ConfigError). */
export function createIioSensor(options: IioOptions): Sensor {
  const root = options.sysfsRoot ?? IIO_DEFAULTS.sysfsRoot;
  const read = options.readText ?? readTextFile;
  const name = options.name ?? options.device;
  const device = findAtStart({
    dir: iioDir(root),
    list: () => listIioDevicesSync(root),
    nameOf: (d) => d.name,
    pick: (devices) => onlyMatch(pickDevice(devices, options.device), options.device),
    missing: `no IIO device named "${options.device}"`,
    hint: "enable its overlay (e.g. dtoverlay=i2c-sensor,bme280) and reboot, " +
      "or set device to a name found (`leaf sensors` lists them)",
  });
  if (device.channels.length === 0) {
    throw new ConfigError(
      `IIO device "${device.name}" (${device.dir}) has no channel leaf can read`,
      { hint: "leaf reads temp, humidityrelative, pressure, voltage, current, power channels" },
    );
  }
  const state = { dir: device.dir };
  return {
    name,
    type: "iio",
    async read(now: number): Promise<Reading[]> {
      await readWithRelookup(
        state,
        (dir) => read(`${dir}/name`),
        () => findIioDevice(root, options.device, read),
        () => `IIO device "${options.device}" is gone from ${iioDir(root)}`,
      );
      const out: Reading[] = [];
      for (const c of device.channels) {
        try {
          const value = await readIioChannel(state.dir, c, read);
          out.push({ sensor: name, name: c.reading, value, unit: c.unit, ts: now });
        } catch (error) {
          if (!isSkippedSample(error)) throw error; // DHT11 EIO/ETIMEDOUT: no sample this time
        }
      }
      return out;
    },
  };
}
