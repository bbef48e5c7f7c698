/**
 * The `hwmon` sensor: every `_input` channel of one hwmon chip,
 * `<sysfs>/class/hwmon/hwmon*`, selected by its `name` file (e.g.
 * `rpi_volt`, `sht3x`), never by its index. Units per the kernel's
 * hwmon sysfs-interface: `temp*` m°C, `humidity*` m%RH, `in*` mV, `curr*`
 * mA, `power*` µW, `fan*` RPM; converted to °C, %RH, V, A, W, RPM.
 *
 * Channel names: `<kind>_<label>` when the chip labels the channel
 * (`voltage_core`), `<kind>` when it is the only one of its kind
 * (`temperature`), else `<kind><index>` (`temperature2`).
 *
 * A channel that reads ENODATA/EAGAIN/EIO/ETIMEDOUT is skipped for that
 * sample. On `rpi_volt` the firmware's under-voltage bit (`in0_lcrit_alarm`)
 * is reported as `undervoltage` (0 or 1).
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
import { findAtStart, findEntry } from "./_find.ts";

/** Options of {@linkcode createHwmonSensor}; `name` defaults to the chip name. */
export interface HwmonOptions extends SysfsOptions {
  /** The chip's `name` file, e.g. `rpi_volt`. */
  chip: string;
}

/** Defaults of {@linkcode HwmonOptions}. */
export const HWMON_DEFAULTS = SYSFS_DEFAULTS;

/** How each hwmon channel kind maps to a reading. */
export const HWMON_KINDS: Record<string, { word: string; unit: string; factor: number }> = {
  temp: { word: "temperature", unit: "°C", factor: 1e-3 },
  humidity: { word: "humidity", unit: "%RH", factor: 1e-3 },
  in: { word: "voltage", unit: "V", factor: 1e-3 },
  curr: { word: "current", unit: "A", factor: 1e-3 },
  power: { word: "power", unit: "W", factor: 1e-6 },
  fan: { word: "fan", unit: "RPM", factor: 1 },
};

/** One readable channel of a chip. */
export interface HwmonChannel {
  /** `temp1`, `in0` */
  id: string;
  /** The file read, relative to the chip's attribute folder, e.g. `temp1_input`. */
  file: string;
  /** Reading name. */
  reading: string;
  /** Unit of the converted value. */
  unit: string;
  /** Multiplier from the kernel unit to `unit`. */
  factor: number;
}

/** A chip and where its attributes live (`hwmonN/` or, on old kernels, `hwmonN/device/`). */
export interface HwmonChip {
  /** Absolute folder, e.g. `/sys/class/hwmon/hwmon1`. */
  dir: string;
  /** `hwmon1` */
  entry: string;
  /** Its `name` file. */
  name: string;
  /** Folder holding the `*_input` files. */
  attrDir: string;
  /** What leaf reads from it. */
  channels: HwmonChannel[];
}

const CHIP = /^hwmon\d+$/;
const INPUT = /^(temp|humidity|in|curr|power|fan)(\d+)_input$/;

/** The folder holding the chips under `sysfsRoot`. */
export const hwmonDir = (sysfsRoot: string): string => under(sysfsRoot, "class/hwmon");

/** `Core 0` → `core_0`. */
const slug = (label: string) =>
  label.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "");

/**
 * Plans a chip's channels from its file names and labels (pure).
 * `labels` maps a channel id (`in0`) to its `_label` text.
 */
export function planHwmonChannels(
  chip: string,
  files: string[],
  labels: Record<string, string> = {},
): HwmonChannel[] {
  const inputs = files.map((f) => INPUT.exec(f)).filter((m) => m !== null)
    .map((m) => ({ kind: m[1], index: Number(m[2]), id: `${m[1]}${m[2]}`, file: m[0] }))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.index - b.index);
  const perKind = new Map<string, number>();
  for (const i of inputs) perKind.set(i.kind, (perKind.get(i.kind) ?? 0) + 1);
  const channels: HwmonChannel[] = inputs.map((i) => {
    const k = HWMON_KINDS[i.kind];
    const label = labels[i.id] !== undefined ? slug(labels[i.id]) : "";
    const reading = label !== ""
      ? `${k.word}_${label}`
      : perKind.get(i.kind) === 1
      ? k.word
      : `${k.word}${i.index}`;
    return { id: i.id, file: i.file, reading, unit: k.unit, factor: k.factor };
  });
  if (chip === "rpi_volt" && files.includes("in0_lcrit_alarm")) {
    channels.push({
      id: "in0_lcrit_alarm",
      file: "in0_lcrit_alarm",
      reading: "undervoltage",
      unit: "",
      factor: 1,
    });
  }
  const seen = new Set<string>();
  for (const c of channels) {
    if (seen.has(c.reading)) c.reading = `${c.reading}_${c.id}`;
    seen.add(c.reading);
  }
  return channels;
}

/** Converts one channel's text to its unit. */
export function parseHwmonValue(channel: HwmonChannel, text: string, where: string): number {
  return tidy(parseNumber(text, where) * channel.factor);
}

function describeChipSync(dir: string, entry: string): HwmonChip {
  const name = readTrimmedSync(`${dir}/name`) ?? readTrimmedSync(`${dir}/device/name`) ?? "";
  let attrDir = dir;
  let files = listSync(dir, /_(input|label|alarm)$/) ?? [];
  if (!files.some((f) => INPUT.test(f))) {
    const dev = listSync(`${dir}/device`, /_(input|label|alarm)$/) ?? [];
    if (dev.some((f) => INPUT.test(f))) {
      attrDir = `${dir}/device`;
      files = dev;
    }
  }
  const labels: Record<string, string> = {};
  for (const f of files) {
    const m = /^([a-z]+\d+)_label$/.exec(f);
    const text = m ? readTrimmedSync(`${attrDir}/${f}`) : undefined;
    if (m && text) labels[m[1]] = text;
  }
  return { dir, entry, name, attrDir, channels: planHwmonChannels(name, files, labels) };
}

/** Lists chips with their channels; undefined when the hwmon class folder is missing. */
export function listHwmonChipsSync(sysfsRoot: string): HwmonChip[] | undefined {
  const dir = hwmonDir(sysfsRoot);
  return listSync(dir, CHIP)?.map((entry) => describeChipSync(`${dir}/${entry}`, entry));
}

/** Async lookup of the first chip named `chip`. */
export function findHwmonChip(
  sysfsRoot: string,
  chip: string,
  read: ReadText = readTextFile,
): Promise<string | undefined> {
  return findEntry(hwmonDir(sysfsRoot), CHIP, "name", chip, read);
}

/** Creates the hwmon sensor; a chip of that name with channels must exist now (else ConfigError). */
export function createHwmonSensor(options: HwmonOptions): Sensor {
  const root = options.sysfsRoot ?? HWMON_DEFAULTS.sysfsRoot;
  const read = options.readText ?? readTextFile;
  const name = options.name ?? options.chip;
  const chip = findAtStart({
    dir: hwmonDir(root),
    list: () => listHwmonChipsSync(root),
    nameOf: (c) => c.name,
    pick: (chips) => chips.find((c) => c.name === options.chip),
    missing: `no hwmon chip named "${options.chip}"`,
    hint: "set chip to one of the names found (`leaf sensors` lists them)",
  });
  if (chip.channels.length === 0) {
    throw new ConfigError(
      `hwmon chip "${options.chip}" (${chip.dir}) has no *_input channel leaf can read`,
      { hint: "remove this sensor, or pick another chip (`leaf sensors` lists them)" },
    );
  }
  const channels = chip.channels;
  const sub = chip.attrDir.slice(chip.dir.length); // "" or "/device"
  const state = { dir: chip.dir };
  return {
    name,
    type: "hwmon",
    async read(now: number): Promise<Reading[]> {
      // The `name` file tells whether the chip is still there; channels may fail one by one.
      await readWithRelookup(
        state,
        (dir) => read(`${dir}/name`),
        () => findHwmonChip(root, options.chip, read),
        () => `hwmon chip "${options.chip}" is gone from ${hwmonDir(root)}`,
      );
      const out: Reading[] = [];
      for (const c of channels) {
        const path = `${state.dir}${sub}/${c.file}`;
        try {
          const value = parseHwmonValue(c, await read(path), path);
          out.push({ sensor: name, name: c.reading, value, unit: c.unit, ts: now });
        } catch (error) {
          if (!isSkippedSample(error)) throw error;
        }
      }
      return out;
    },
  };
}
