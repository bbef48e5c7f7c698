import assert from "node:assert/strict";
import { parseConfigText } from "../../lib/config/load.ts";
import { createSensors } from "../../lib/sensors/create.ts";
import { configSnippet, discover } from "../../lib/sensors/discover.ts";
import { board, BOARDS, PROC } from "./_board.ts";

const summary = (b: typeof BOARDS[number]) => {
  const d = discover({ sysfsRoot: board(b), procfsRoot: PROC });
  return {
    d,
    offered: d.devices.filter((x) => x.entry).map((x) => `${x.type}:${x.key}`),
    notOffered: d.devices.filter((x) => !x.entry).map((x) => `${x.type}:${x.key}`),
    missing: d.notFound.map((n) => n.type),
  };
};

Deno.test("discover() lists the Pi 4 board and offers the SoC once", () => {
  const { d, offered, notOffered, missing } = summary("rpi4-bme280");
  assert.deepEqual(offered, [
    "system:",
    "thermal:cpu-thermal",
    "hwmon:rpi_volt",
    "hwmon:sht3x",
    "iio:1-0040",
    "iio:bme280",
  ]);
  assert.deepEqual(notOffered, ["hwmon:cpu_thermal"]);
  assert.match(d.devices.find((x) => x.key === "cpu_thermal")!.note!, /thermal zone "cpu-thermal"/);
  assert.deepEqual(d.devices.find((x) => x.key === "bme280")!.channels, [
    "humidity (%RH)",
    "pressure (hPa)",
    "temperature (°C)",
  ]);
  assert.deepEqual(missing, ["w1"]);
  assert.match(d.notFound[0].message, /bus\/w1\/devices does not exist .*dtoverlay=w1-gpio/);
});

Deno.test("discover() lists the 1-Wire and DHT11 boards", () => {
  assert.deepEqual(summary("rpi-ds18b20").offered, [
    "system:",
    "thermal:cpu-thermal",
    "w1:28-0316a2799dff",
    "w1:28-0417c4b1d5ff",
    "w1:28-3c01d607d4aa",
  ]);
  assert.deepEqual(summary("rpi-ds18b20").missing, ["iio"]);
  assert.deepEqual(summary("rpi-dht11").offered, [
    "system:",
    "thermal:cpu-thermal",
    "iio:dht11@0",
  ]);
});

Deno.test("discover() says what a bare board lacks", () => {
  const { d, offered } = summary("bare");
  assert.deepEqual(offered, ["system:"]);
  assert.deepEqual(d.notFound.map((n) => n.message.replace(board("bare"), "<sys>")), [
    "thermal zones: none under <sys>/class/thermal",
    "hwmon chips: <sys>/class/hwmon does not exist",
    "IIO devices: <sys>/bus/iio/devices does not exist " +
    "(a BME280 appears after dtoverlay=i2c-sensor,bme280, a DHT11 after dtoverlay=dht11,gpiopin=4)",
    "1-Wire thermometers: <sys>/bus/w1/devices does not exist " +
    "(a DS18B20 appears after dtoverlay=w1-gpio, data on GPIO 4)",
  ]);
});

Deno.test("configSnippet() is YAML for the found devices, with non-default roots", () => {
  const d = discover({ sysfsRoot: board("rpi-dht11"), procfsRoot: PROC });
  assert.equal(
    configSnippet(d),
    `sysfsRoot: ${board("rpi-dht11")}\nprocfsRoot: ${PROC}\nsensors:\n` +
      "  - type: system\n  - type: thermal\n    zone: cpu-thermal\n" +
      "  - type: iio\n    device: dht11@0\n",
  );
  const defaults = configSnippet({ ...d, sysfsRoot: "/sys", procfsRoot: "/proc", devices: [] });
  assert.equal(defaults, "sensors:\n  - type: system\n");
});

Deno.test.each(BOARDS)(
  "configSnippet() on %s is a valid config whose sensors all start",
  async (b) => {
    const d = discover({ sysfsRoot: board(b), procfsRoot: PROC });
    const config = await parseConfigText(`stateDir: /tmp\n${configSnippet(d)}`, "snippet.yaml");
    const sensors = createSensors(config);
    assert.equal(sensors.length, d.devices.filter((x) => x.entry).length);
    for (const s of sensors) await s.sensor.close?.();
  },
);
