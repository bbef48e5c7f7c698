import assert from "node:assert/strict";
import {
  createIioSensor,
  iioNameMatches,
  planIioChannels,
  scaleRaw,
} from "../../lib/sensors/iio.ts";
import { board, byName, configError, copyBoard, osError } from "./_board.ts";

Deno.test("planIioChannels() takes processed channels and ignores other attributes", () => {
  const plan = planIioChannels([
    "in_temp_input",
    "in_humidityrelative_input",
    "in_pressure_input",
    "in_temp_oversampling_ratio",
    "in_temp_oversampling_ratio_available",
  ]);
  assert.deepEqual(plan.map((c) => [c.reading, c.unit, c.input]), [
    ["humidity", "%RH", "in_humidityrelative_input"],
    ["pressure", "hPa", "in_pressure_input"],
    ["temperature", "°C", "in_temp_input"],
  ]);
});

Deno.test("planIioChannels() pairs raw channels with their own or the shared scale and offset", () => {
  const plan = planIioChannels([
    "in_voltage0_raw",
    "in_voltage1_raw",
    "in_voltage_scale",
    "in_temp_raw",
    "in_temp_scale",
    "in_temp_offset",
    "in_current_raw", // the Si7021 heater: no scale, so no known unit
    "in_current_raw_available",
  ]);
  assert.deepEqual(plan.map((c) => [c.reading, c.raw]), [
    ["temperature", { file: "in_temp_raw", scale: "in_temp_scale", offset: "in_temp_offset" }],
    ["voltage0", { file: "in_voltage0_raw", scale: "in_voltage_scale" }],
    ["voltage1", { file: "in_voltage1_raw", scale: "in_voltage_scale" }],
  ]);
});

Deno.test("planIioChannels() prefers a processed value over raw", () => {
  const plan = planIioChannels(["in_temp_raw", "in_temp_scale", "in_temp_input"]);
  assert.deepEqual(plan.map((c) => [c.input, c.raw]), [["in_temp_input", undefined]]);
});

Deno.test("scaleRaw() is (raw + offset) × scale", () => {
  assert.equal(scaleRaw(6555, 10.725097656, -4368), 2187 * 10.725097656);
  assert.equal(scaleRaw(512, 0.5), 256);
});

Deno.test("createIioSensor() reads the BME280 in °C, %RH and hPa", async () => {
  const s = createIioSensor({ device: "bme280", sysfsRoot: board("rpi4-bme280") });
  assert.equal(s.name, "bme280");
  const readings = await s.read(9);
  assert.deepEqual(readings, [
    { sensor: "bme280", name: "humidity", value: 45.23, unit: "%RH", ts: 9 },
    { sensor: "bme280", name: "pressure", value: 1008.69140625, unit: "hPa", ts: 9 },
    { sensor: "bme280", name: "temperature", value: 23.45, unit: "°C", ts: 9 },
  ]);
});

Deno.test("createIioSensor() selects by name: bme280 is iio:device1, the Si7021 device0", async () => {
  // The si7020 driver names its device after the I2C client ("1-0040") and
  // exposes raw channels with scale and offset.
  const s = createIioSensor({ device: "1-0040", sysfsRoot: board("rpi4-bme280"), name: "si7021" });
  assert.deepEqual(byName(await s.read(0)), {
    humidity: [Number(((6685 - 786) * 7.629394531 / 1000).toPrecision(12)), "%RH"],
    temperature: [Number(((6555 - 4368) * 10.725097656 / 1000).toPrecision(12)), "°C"],
  });
  assert.deepEqual(byName(await s.read(0)), {
    humidity: [45.0057983384, "%RH"],
    temperature: [23.4557885737, "°C"],
  });
});

Deno.test("createIioSensor() finds the DHT11 platform device dht11@0 as dht11", async () => {
  assert.ok(iioNameMatches("dht11@0", "dht11"));
  assert.ok(!iioNameMatches("dht11@0", "dht1"));
  const s = createIioSensor({ device: "dht11", sysfsRoot: board("rpi-dht11") });
  assert.equal(s.name, "dht11");
  assert.deepEqual(byName(await s.read(0)), {
    humidity: [38, "%RH"],
    temperature: [21, "°C"],
  });
});

Deno.test("createIioSensor() treats DHT11 EIO and ETIMEDOUT as a skipped sample", async () => {
  const failing = new Map<string, Error>();
  const s = createIioSensor({
    device: "dht11",
    sysfsRoot: board("rpi-dht11"),
    readText: (path) => {
      const error = [...failing].find(([suffix]) => path.endsWith(suffix))?.[1];
      return error ? Promise.reject(error) : Deno.readTextFile(path);
    },
  });
  failing.set("in_temp_input", osError("EIO", "Input/output error (os error 5)"));
  assert.deepEqual(byName(await s.read(0)), { humidity: [38, "%RH"] });
  failing.set("in_humidityrelative_input", new Deno.errors.TimedOut("Connection timed out"));
  assert.deepEqual(await s.read(0), [], "no sample this time, and no error");
  failing.clear();
  assert.deepEqual(byName(await s.read(0)), { humidity: [38, "%RH"], temperature: [21, "°C"] });
  failing.set("in_temp_input", osError("EACCES", "Permission denied (os error 13)"));
  await assert.rejects(s.read(0), /Permission denied/, "other errors are errors");
});

Deno.test("createIioSensor() names the devices that exist when the name is missing", () => {
  const root = board("rpi4-bme280");
  const error = configError(() => createIioSensor({ device: "bme680", sysfsRoot: root }));
  assert.equal(
    error.message,
    `no IIO device named "bme680" under ${root}/bus/iio/devices (found: 1-0040, bme280)`,
  );
  assert.match(error.hint ?? "", /dtoverlay=i2c-sensor,bme280/);
  assert.match(
    configError(() => createIioSensor({ device: "bme280", sysfsRoot: board("rpi-ds18b20") }))
      .message,
    /rpi-ds18b20\/bus\/iio\/devices does not exist\)$/,
  );
});

Deno.test("createIioSensor() read throws when the device disappears at runtime", async () => {
  await using dir = await copyBoard("rpi-dht11");
  const s = createIioSensor({ device: "dht11", sysfsRoot: dir.path });
  assert.equal((await s.read(0)).length, 2);
  await Deno.remove(`${dir.path}/bus/iio/devices/iio:device0`);
  await assert.rejects(s.read(0), /IIO device "dht11" is gone from .*\/bus\/iio\/devices/);
});
