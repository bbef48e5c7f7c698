import assert from "node:assert/strict";
import { parseConfigText } from "../../lib/config/load.ts";
import { COMMAND_GRACE_MS, createSensors } from "../../lib/sensors/create.ts";
import { startLoop } from "../../lib/agent/loop.ts";
import { createLogger } from "../../lib/log.ts";
import type { Reading } from "../../lib/sensors/reading.ts";
import { waitFor } from "../_helpers.ts";
import { board, configError, copyBoard, PROC } from "./_board.ts";

/** A config from YAML `sensors:` lines on a fixture board. */
async function config(b: Parameters<typeof board>[0], sensors: string) {
  return await parseConfigText(
    `sysfsRoot: ${board(b)}\nprocfsRoot: ${PROC}\nstateDir: /tmp\nsensors:\n${sensors}`,
    "leaf.yaml",
  );
}

Deno.test("createSensors() builds every sysfs type on the Pi 4 board and reads them", async () => {
  const c = await config(
    "rpi4-bme280",
    `  - type: system
  - type: thermal
    zone: cpu-thermal
  - type: hwmon
    chip: rpi_volt
  - type: iio
    device: bme280
    interval: 2s
  - type: file
    path: ${board("rpi4-bme280")}/bus/iio/devices/iio:device1/in_temp_input
    scale: 0.001
    unit: °C
    name: bme280-raw
`,
  );
  const sensors = createSensors(c);
  assert.deepEqual(sensors.map((s) => [s.sensor.name, s.sensor.type, s.interval]), [
    ["system", "system", 10_000],
    ["cpu-thermal", "thermal", 10_000],
    ["rpi_volt", "hwmon", 10_000],
    ["bme280", "iio", 2_000],
    ["bme280-raw", "file", 10_000],
  ]);
  const readings = (await Promise.all(sensors.map((s) => s.sensor.read(0)))).flat();
  const pick = (sensor: string, name: string) =>
    readings.filter((r) => r.sensor === sensor && r.name === name).map((r) => [r.value, r.unit]);
  assert.deepEqual(pick("cpu-thermal", "temperature"), [[48.686, "°C"]]);
  assert.deepEqual(pick("bme280", "pressure"), [[1008.69140625, "hPa"]]);
  assert.deepEqual(pick("bme280-raw", "value"), [[23.45, "°C"]]);
  assert.deepEqual(pick("system", "undervoltage"), [[0, ""]]);
});

Deno.test("createSensors() names the entry and what exists when a device is missing at start", async () => {
  const c = await config(
    "rpi4-bme280",
    "  - type: system\n  - type: simulated\n  - type: thermal\n    zone: soc-thermal\n",
  );
  const error = configError(() => createSensors(c));
  assert.equal(
    error.message,
    `sensors[2]: no thermal zone of type "soc-thermal" under ${
      board("rpi4-bme280")
    }/class/thermal (found: cpu-thermal)`,
  );
  assert.match(error.oneLine(), /: set zone to one of the types found/);
});

Deno.test("createSensors() refuses to read the SoC twice (thermal zone and its hwmon mirror)", async () => {
  const c = await config(
    "rpi4-bme280",
    "  - type: thermal\n    zone: cpu-thermal\n  - type: hwmon\n    chip: cpu_thermal\n",
  );
  assert.equal(
    configError(() => createSensors(c)).message,
    'sensors[1]: hwmon chip "cpu_thermal" is the thermal zone "cpu-thermal" that sensors[0] already reads',
  );
});

Deno.test("createSensors() makes one w1 sensor per thermometer when no id is given", async () => {
  const all = createSensors(await config("rpi-ds18b20", "  - type: w1\n"));
  assert.deepEqual(all.map((s) => s.sensor.name), [
    "28-0316a2799dff",
    "28-0417c4b1d5ff",
    "28-3c01d607d4aa",
  ]);
  const named = createSensors(await config("rpi-ds18b20", "  - type: w1\n    name: tank\n"));
  assert.deepEqual(named.map((s) => s.sensor.name), [
    "tank/28-0316a2799dff",
    "tank/28-0417c4b1d5ff",
    "tank/28-3c01d607d4aa",
  ]);
  const one = createSensors(
    await config("rpi-ds18b20", "  - type: w1\n    id: 28-0316a2799dff\n    name: water\n"),
  );
  assert.deepEqual(await one[0].sensor.read(1), [
    { sensor: "water", name: "temperature", value: 21.687, unit: "°C", ts: 1 },
  ]);
  const bare = await config("bare", "  - type: w1\n");
  assert.match(
    configError(() => createSensors(bare)).message,
    /^sensors\[0\]: no 1-Wire thermometer under .*bare\/bus\/w1\/devices \(.* does not exist\)$/,
  );
});

Deno.test("createSensors() gives a command its timeout plus a grace period in the loop", async () => {
  const c = await config(
    "bare",
    `  - type: command
    run: ["/bin/echo", "21.5"]
    unit: °C
    interval: 5s
    timeout: 2s
`,
  );
  const [s] = createSensors(c);
  assert.equal(s.sensor.name, "echo");
  assert.equal(s.timeout, 2_000 + COMMAND_GRACE_MS);
  assert.deepEqual(await s.sensor.read(0), [
    { sensor: "echo", name: "value", value: 21.5, unit: "°C", ts: 0 },
  ]);
});

Deno.test("createSensors() refuses two sensors with the same name", async () => {
  const c = await config(
    "rpi4-bme280",
    "  - type: iio\n    device: bme280\n  - type: hwmon\n    chip: sht3x\n    name: bme280\n",
  );
  assert.equal(
    configError(() => createSensors(c)).message,
    'sensors[1]: the name "bme280" is used twice',
  );
});

Deno.test("a device gone at runtime is an error count in the loop, not a crash", async () => {
  await using dir = await copyBoard("rpi-dht11");
  const c = await parseConfigText(
    `sysfsRoot: ${dir.path}\nprocfsRoot: ${PROC}\nsensors:\n` +
      "  - type: thermal\n    zone: cpu-thermal\n    interval: 40ms\n" +
      "  - type: iio\n    device: dht11\n    interval: 40ms\n",
    "leaf.yaml",
  );
  const ticks: Reading[][] = [];
  const lines: string[] = [];
  const loop = startLoop({
    sensors: createSensors(c),
    onTick: (readings) => ticks.push(readings),
    log: createLogger({ write: (l) => lines.push(l) }),
  });
  try {
    await waitFor(() => ticks.length >= 2, { what: "two ticks" });
    assert.deepEqual(ticks[0].map((r) => r.sensor).sort(), [
      "cpu-thermal",
      "dht11",
      "dht11",
    ]);
    await Deno.remove(`${dir.path}/bus/iio/devices/iio:device0`);
    await waitFor(() => (loop.stats.get("dht11")?.errors ?? 0) >= 3, { what: "dht11 errors" });
    const before = loop.stats.get("cpu-thermal")!.reads;
    await waitFor(() => loop.stats.get("cpu-thermal")!.reads > before + 2, { what: "more reads" });
    assert.ok(ticks.at(-1)!.every((r) => r.sensor === "cpu-thermal"));
    assert.match(loop.stats.get("dht11")!.lastError ?? "", /IIO device "dht11" is gone/);
    assert.equal(
      lines.filter((l) => l.includes('sensor "dht11" failed')).length,
      1,
      "rate-limited",
    );
  } finally {
    await loop.stop();
  }
});
