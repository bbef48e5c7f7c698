/**
 * Builds the configured sensors. Validation of each entry's fields happened
 * in the config schema; here each type maps to its driver's factory, which
 * checks that its device exists now: a missing device is a ConfigError
 * (exit 2) naming the entry (`sensors[2]: no thermal zone of type ...`).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Config, SensorConfig } from "../config/schema.ts";
import type { ScheduledSensor } from "../agent/loop.ts";
import type { Sensor } from "./sensor.ts";
import { createSimulatedSensor } from "./simulated.ts";
import { createSystemSensor } from "./system.ts";
import { createThermalSensor, isThermalMirror } from "./thermal.ts";
import { createHwmonSensor } from "./hwmon.ts";
import { createIioSensor } from "./iio.ts";
import { createW1Sensor, listW1ThermometersSync, w1Dir } from "./w1.ts";
import { createCommandSensor } from "./command.ts";
import { createFileSensor } from "./file.ts";
import { findAtStart } from "./_find.ts";

/** Default read timeout: a read may take up to this long before it is abandoned. */
export function defaultTimeout(interval: number): number {
  return Math.max(50, Math.min(5_000, Math.floor(interval * 0.8)));
}

/**
 * Extra time the loop gives a command beyond its own kill timeout, so the
 * command sensor kills and reaps its child and reports the timeout itself.
 */
export const COMMAND_GRACE_MS = 1_000;

const named = (entry: SensorConfig) => (entry.name ? { name: entry.name } : {});

/** All 1-Wire thermometers present now, one sensor each (named by id, or `<name>/<id>`). */
function createW1Sensors(entry: SensorConfig, sysfsRoot: string): Sensor[] {
  if (typeof entry.id === "string") {
    return [createW1Sensor({ id: entry.id, sysfsRoot, ...named(entry) })];
  }
  const ids = findAtStart({
    dir: w1Dir(sysfsRoot),
    list: () => listW1ThermometersSync(sysfsRoot),
    nameOf: (id) => id,
    pick: (ids) => ids.length > 0 ? ids : undefined,
    missing: "no 1-Wire thermometer",
    hint: "enable 1-Wire with dtoverlay=w1-gpio (default GPIO 4), wire the sensor and reboot",
  });
  return ids.map((id) =>
    createW1Sensor({ id, sysfsRoot, name: entry.name ? `${entry.name}/${id}` : id })
  );
}

function createOne(entry: SensorConfig, config: Config, timeout: number): Sensor[] {
  const sysfsRoot = config.sysfsRoot;
  switch (entry.type) {
    case "system":
      return [createSystemSensor({
        ...named(entry),
        procfsRoot: config.procfsRoot,
        sysfsRoot,
        diskPath: config.stateDir,
      })];
    case "simulated":
      return [createSimulatedSensor({ ...named(entry), seed: entry.seed as number })];
    case "thermal":
      return [createThermalSensor({ zone: entry.zone as string, sysfsRoot, ...named(entry) })];
    case "hwmon":
      return [createHwmonSensor({ chip: entry.chip as string, sysfsRoot, ...named(entry) })];
    case "iio":
      return [createIioSensor({ device: entry.device as string, sysfsRoot, ...named(entry) })];
    case "w1":
      return createW1Sensors(entry, sysfsRoot);
    case "command":
      return [createCommandSensor({
        run: entry.run as string[],
        timeout,
        ...(typeof entry.unit === "string" ? { unit: entry.unit } : {}),
        ...named(entry),
      })];
    case "file":
      return [createFileSensor({
        path: entry.path as string,
        scale: entry.scale as number,
        ...(typeof entry.unit === "string" ? { unit: entry.unit } : {}),
        ...named(entry),
      })];
    default:
      throw new ConfigError(`type "${entry.type}" is not supported by this build`, {
        hint: "use system, simulated, thermal, hwmon, iio, w1, command or file",
      });
  }
}

/** Refuses to read the SoC twice: a thermal zone and its hwmon mirror (`cpu-thermal` / `cpu_thermal`). */
function checkMirrors(sensors: SensorConfig[]): void {
  sensors.forEach((hw, j) => {
    if (hw.type !== "hwmon") return;
    const i = sensors.findIndex((t) =>
      t.type === "thermal" && isThermalMirror(hw.chip as string, t.zone as string)
    );
    if (i >= 0) {
      throw new ConfigError(
        `sensors[${j}]: hwmon chip "${hw.chip}" is the thermal zone "${
          sensors[i].zone
        }" that sensors[${i}] already reads`,
        { hint: "remove one of the two, or the SoC temperature is sent twice" },
      );
    }
  });
}

/** Creates every configured sensor with its schedule. Names must be unique. */
export function createSensors(config: Config): ScheduledSensor[] {
  checkMirrors(config.sensors);
  const seen = new Set<string>();
  const out: ScheduledSensor[] = [];
  config.sensors.forEach((entry, i) => {
    const interval = entry.interval ?? config.telemetry.interval;
    const timeout = entry.timeout ?? defaultTimeout(interval);
    let sensors: Sensor[];
    try {
      sensors = createOne(entry, config, timeout);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new ConfigError(`sensors[${i}]: ${error.message}`, {
        ...(error.hint ? { hint: error.hint } : {}),
        cause: error.cause ?? error,
      });
    }
    for (const sensor of sensors) {
      if (seen.has(sensor.name)) {
        throw new ConfigError(`sensors[${i}]: the name "${sensor.name}" is used twice`, {
          hint: "give each sensor a distinct name",
        });
      }
      seen.add(sensor.name);
      out.push({
        sensor,
        interval,
        timeout: entry.type === "command" ? timeout + COMMAND_GRACE_MS : timeout,
        usesDefault: entry.interval === undefined,
      });
    }
  });
  return out;
}
