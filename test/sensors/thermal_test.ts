import assert from "node:assert/strict";
import {
  createThermalSensor,
  isThermalMirror,
  parseThermalTemp,
} from "../../lib/sensors/thermal.ts";
import { tempDir } from "../_helpers.ts";
import { board, configError, copyBoard } from "./_board.ts";

Deno.test.each([
  ["48686\n", 48.686],
  ["35780\n", 35.78],
  ["-5250\n", -5.25],
  ["0\n", 0],
])("parseThermalTemp(%j) is %f °C", (text, celsius) => {
  assert.equal(parseThermalTemp(text), celsius);
});

Deno.test("parseThermalTemp() rejects text that is not a number", () => {
  assert.throws(() => parseThermalTemp("N/A\n", "zone0/temp"), /zone0\/temp: expected a number/);
});

Deno.test("createThermalSensor() reads the Pi 4 SoC zone in °C", async () => {
  const s = createThermalSensor({ zone: "cpu-thermal", sysfsRoot: board("rpi4-bme280") });
  assert.equal(s.name, "cpu-thermal");
  assert.equal(s.type, "thermal");
  assert.deepEqual(await s.read(1_000), [
    { sensor: "cpu-thermal", name: "temperature", value: 48.686, unit: "°C", ts: 1_000 },
  ]);
});

Deno.test("createThermalSensor() selects the zone by type, not by index", async () => {
  // An ODROID-like board: probe order puts the DDR zone first.
  await using dir = await tempDir("thermal-order");
  const zone = async (n: number, type: string, temp: string) => {
    await Deno.mkdir(`${dir.path}/class/thermal/thermal_zone${n}`, { recursive: true });
    await Deno.writeTextFile(`${dir.path}/class/thermal/thermal_zone${n}/type`, `${type}\n`);
    await Deno.writeTextFile(`${dir.path}/class/thermal/thermal_zone${n}/temp`, `${temp}\n`);
  };
  await zone(0, "ddr-thermal", "40000");
  await zone(1, "cpu-thermal", "51000");
  await zone(10, "gpu-thermal", "47500");
  const cpu = createThermalSensor({ zone: "cpu-thermal", sysfsRoot: dir.path, name: "soc" });
  const gpu = createThermalSensor({ zone: "gpu-thermal", sysfsRoot: dir.path });
  assert.equal((await cpu.read(0))[0].value, 51);
  assert.equal((await cpu.read(0))[0].sensor, "soc");
  assert.equal((await gpu.read(0))[0].value, 47.5);
});

Deno.test("createThermalSensor() names the zones that exist when the type is missing", () => {
  const root = board("rpi4-bme280");
  const error = configError(() => createThermalSensor({ zone: "soc-thermal", sysfsRoot: root }));
  assert.equal(
    error.message,
    `no thermal zone of type "soc-thermal" under ${root}/class/thermal (found: cpu-thermal)`,
  );
  assert.match(error.hint ?? "", /leaf sensors/);
});

Deno.test("createThermalSensor() says so when a board has no zones or no thermal class", () => {
  const bare = board("bare");
  assert.match(
    configError(() => createThermalSensor({ zone: "cpu-thermal", sysfsRoot: bare })).message,
    /under .*\/bare\/class\/thermal \(found: none\)$/,
  );
  assert.match(
    configError(() => createThermalSensor({ zone: "cpu-thermal", sysfsRoot: `${bare}/nowhere` }))
      .message,
    /\(.*\/nowhere\/class\/thermal does not exist\)$/,
  );
});

Deno.test("createThermalSensor() read throws when the zone disappears at runtime", async () => {
  await using dir = await copyBoard("rpi4-bme280");
  const s = createThermalSensor({ zone: "cpu-thermal", sysfsRoot: dir.path });
  assert.equal((await s.read(0))[0].value, 48.686);
  await Deno.remove(`${dir.path}/class/thermal/thermal_zone0`);
  await assert.rejects(s.read(0), /thermal zone "cpu-thermal" is gone from .*\/class\/thermal/);
});

Deno.test("createThermalSensor() follows the zone when it is renumbered at runtime", async () => {
  await using dir = await copyBoard("rpi4-bme280");
  const s = createThermalSensor({ zone: "cpu-thermal", sysfsRoot: dir.path });
  await Deno.rename(
    `${dir.path}/class/thermal/thermal_zone0`,
    `${dir.path}/class/thermal/thermal_zone3`,
  );
  assert.equal((await s.read(0))[0].value, 48.686);
});

Deno.test.each([
  ["cpu_thermal", "cpu-thermal", true],
  ["cpu_thermal_0", "cpu-thermal", true],
  ["acpitz", "acpitz", true],
  ["rpi_volt", "cpu-thermal", false],
  ["cpu_thermalx", "cpu-thermal", false],
])("isThermalMirror(%j, %j) is %s", (chip, zone, expected) => {
  assert.equal(isThermalMirror(chip, zone), expected);
});
