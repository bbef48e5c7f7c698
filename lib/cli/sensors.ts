/**
 * `leaf sensors`: what this board exposes (the system sensor, thermal zones,
 * hwmon chips, IIO devices, 1-Wire thermometers) with one current reading
 * each, what was not found and which overlay brings it, and a config snippet
 * to paste into leaf.yaml. The first command to run on a new Pi.
 *
 * @module
 */
import { resolve } from "node:path";
import { EXIT } from "../errors.ts";
import { loadConfig } from "../config/load.ts";
import {
  configSnippet,
  discover,
  type Discovery,
  type FoundDevice,
  sensorFor,
} from "../sensors/discover.ts";
import type { Reading } from "../sensors/reading.ts";
import { parse } from "./_args.ts";

const HELP = `Usage: leaf sensors [options]

List the sensors this board exposes, with one current reading each, what was
not found, and a config snippet to paste into leaf.yaml.

Options:
  --sysfs-root DIR          read sysfs here (default: config sysfsRoot, else /sys)
  --procfs-root DIR         read procfs here (default: config procfsRoot, else /proc)
  --config FILE             take sysfsRoot and procfsRoot from this config file
  --json                    print JSON
  -h, --help                this help`;

/** How long one device may take to give its reading. */
export const READ_TIMEOUT_MS = 3_000;

/** One device with its current reading, or why there is none. */
export interface ListedDevice extends FoundDevice {
  /** One current reading per channel. */
  readings: { name: string; value: number; unit: string }[];
  /** Why there is no reading. */
  error?: string;
}

async function readOnce(device: FoundDevice, d: Discovery): Promise<ListedDevice> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const sensor = sensorFor(device, d);
    const readings = await Promise.race([
      sensor.read(Date.now()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${READ_TIMEOUT_MS} ms`)),
          READ_TIMEOUT_MS,
        );
      }),
    ]);
    return {
      ...device,
      readings: readings.map((r: Reading) => ({ name: r.name, value: r.value, unit: r.unit })),
      ...(readings.length === 0 ? { error: "no sample this time (read again later)" } : {}),
    };
  } catch (error) {
    return { ...device, readings: [], error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

const TITLES: Record<FoundDevice["type"], string> = {
  system: "system",
  thermal: "thermal",
  hwmon: "hwmon",
  iio: "iio",
  w1: "w1",
};

/** Renders the listing as text (pure). */
export function renderText(d: Discovery, listed: ListedDevice[]): string {
  const out: string[] = [
    `Sensors on this board (sysfs ${d.sysfsRoot}, procfs ${d.procfsRoot}):`,
    "",
  ];
  if (listed.length === 0) out.push("  (none)");
  for (const x of listed) {
    const what = x.type === "system" ? "load, memory, uptime, CPU" : x.key;
    out.push(`  ${TITLES[x.type].padEnd(8)} ${what}  ${x.path}`);
    if (x.note) {
      out.push(`           ${x.note}`);
      continue;
    }
    if (x.readings.length > 0) {
      const shown = x.readings.map((r) => `${r.name} ${r.value}${r.unit ? ` ${r.unit}` : ""}`);
      out.push(`           ${shown.join(", ")}`);
    }
    if (x.error) out.push(`           reading failed: ${x.error}`);
  }
  if (d.notFound.length > 0) {
    out.push("", "Not found:");
    for (const n of d.notFound) out.push(`  ${n.message}`);
    const hints = [...new Set(d.notFound.flatMap((n) => (n.hint ? [n.hint] : [])))];
    for (const h of hints) out.push("", h);
  }
  out.push("", "Config snippet (paste into leaf.yaml):", "", configSnippet(d).trimEnd());
  return out.join("\n");
}

/** Runs `leaf sensors`. */
export async function main(args: string[]): Promise<number> {
  const { values } = parse("sensors", args, {
    "sysfs-root": { type: "string" },
    "procfs-root": { type: "string" },
    config: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  let sysfsRoot = values["sysfs-root"];
  let procfsRoot = values["procfs-root"];
  if (values.config !== undefined) {
    const { config } = await loadConfig({ config: values.config });
    sysfsRoot ??= config.sysfsRoot;
    procfsRoot ??= config.procfsRoot;
  }
  // Absolute, so the snippet means the same wherever leaf.yaml lives.
  const d = discover({
    ...(sysfsRoot !== undefined ? { sysfsRoot: resolve(sysfsRoot) } : {}),
    ...(procfsRoot !== undefined ? { procfsRoot: resolve(procfsRoot) } : {}),
  });
  const listed = await Promise.all(
    d.devices.map((x) => x.note ? { ...x, readings: [] } : readOnce(x, d)),
  );
  if (values.json) {
    console.log(JSON.stringify(
      {
        sysfsRoot: d.sysfsRoot,
        procfsRoot: d.procfsRoot,
        devices: listed,
        notFound: d.notFound,
        snippet: configSnippet(d),
      },
      null,
      2,
    ));
  } else {
    console.log(renderText(d, listed));
  }
  return EXIT.ok;
}
