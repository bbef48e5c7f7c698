/**
 * The `system` sensor: load average, memory, uptime, CPU busy % and free
 * space of the state directory, from /proc (under a configurable root so
 * tests read fixture trees); on a Raspberry Pi also `undervoltage` (0/1),
 * the firmware's sticky under-voltage bit from the `rpi_volt` hwmon chip's
 * `in0_lcrit_alarm` (what `vcgencmd get_throttled` bit 16 reports, without
 * running vcgencmd).
 *
 * @module
 */
import { statfs } from "node:fs/promises";
import type { Reading } from "./reading.ts";
import type { Sensor } from "./sensor.ts";
import { findHwmonChip } from "./hwmon.ts";
import { parseNumber } from "./_sysfs.ts";
import {
  cpuPercent,
  type CpuTimes,
  parseCpuTimes,
  parseLoadavg,
  parseMeminfo,
  parseUptime,
} from "./procfs.ts";

/** Options of {@linkcode createSystemSensor}. */
export interface SystemOptions {
  /** Label used in messages. @default "system" */
  name?: string;
  /** Root of procfs. @default "/proc" */
  procfsRoot?: string;
  /** Directory whose filesystem's free space is reported; none when undefined. */
  diskPath?: string;
  /** Root of sysfs, where the Raspberry Pi's `rpi_volt` chip is looked for. @default "/sys" */
  sysfsRoot?: string;
}

/** Defaults of {@linkcode SystemOptions}. */
export const SYSTEM_DEFAULTS = { name: "system", procfsRoot: "/proc", sysfsRoot: "/sys" };

/**
 * Finds `rpi_volt`'s `in0_lcrit_alarm` once; on a board without it (or
 * without permission to look) the lookup quietly finds nothing.
 */
function underVoltage(sysfsRoot: string): () => Promise<number | undefined> {
  let file: Promise<string | undefined> | undefined;
  return async () => {
    file ??= findHwmonChip(sysfsRoot, "rpi_volt").then(
      (dir) => (dir ? `${dir}/in0_lcrit_alarm` : undefined),
      () => undefined,
    );
    const path = await file;
    if (path === undefined) return undefined;
    try {
      return parseNumber(await Deno.readTextFile(path), path) === 0 ? 0 : 1;
    } catch {
      file = undefined; // the chip went away or was renumbered: look again next time
      return undefined;
    }
  };
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Creates the system sensor. */
export function createSystemSensor(options: SystemOptions = {}): Sensor {
  const name = options.name ?? SYSTEM_DEFAULTS.name;
  const root = options.procfsRoot ?? SYSTEM_DEFAULTS.procfsRoot;
  let lastCpu: CpuTimes | undefined;
  const readUnderVoltage = underVoltage(options.sysfsRoot ?? SYSTEM_DEFAULTS.sysfsRoot);
  const read = (file: string) => Deno.readTextFile(`${root}/${file}`);
  return {
    name,
    type: "system",
    async read(now: number): Promise<Reading[]> {
      const r = (n: string, value: number, unit: string): Reading => ({
        sensor: name,
        name: n,
        value,
        unit,
        ts: now,
      });
      const [loadavg, meminfo, uptime, stat] = await Promise.all([
        read("loadavg"),
        read("meminfo"),
        read("uptime"),
        read("stat"),
      ]);
      const load = parseLoadavg(loadavg);
      const mem = parseMeminfo(meminfo);
      const cpu = parseCpuTimes(stat);
      const readings = [
        r("load1", load.load1, ""),
        r("load5", load.load5, ""),
        r("load15", load.load15, ""),
        r("uptime", round(parseUptime(uptime), 0), "s"),
        r("memory_total", mem.MemTotal, "B"),
      ];
      const available = mem.MemAvailable ??
        (mem.MemFree ?? 0) + (mem.Buffers ?? 0) + (mem.Cached ?? 0);
      readings.push(r("memory_available", available, "B"));
      readings.push(r("memory_used", round(100 * (1 - available / mem.MemTotal), 1), "%"));
      if (lastCpu) {
        const busy = cpuPercent(lastCpu, cpu);
        if (busy !== undefined) readings.push(r("cpu", busy, "%"));
      }
      lastCpu = cpu;
      const uv = await readUnderVoltage();
      if (uv !== undefined) readings.push(r("undervoltage", uv, ""));
      if (options.diskPath) {
        const fs = await statfs(options.diskPath);
        readings.push(r("disk_free", fs.bavail * fs.bsize, "B"));
        readings.push(r("disk_used", round(100 * (1 - fs.bavail / fs.blocks), 1), "%"));
      }
      return readings;
    },
  };
}
