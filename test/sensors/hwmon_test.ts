import assert from "node:assert/strict";
import { createHwmonSensor, planHwmonChannels } from "../../lib/sensors/hwmon.ts";
import { tempDir } from "../_helpers.ts";
import { board, byName, configError, copyBoard, osError } from "./_board.ts";

Deno.test("planHwmonChannels() names labelled, single and numbered channels", () => {
  const plan = planHwmonChannels(
    "ina219",
    ["in0_input", "in1_input", "in1_label", "curr1_input", "power1_input", "temp1_input"],
    { in1: "VBUS" },
  );
  assert.deepEqual(plan.map((c) => [c.id, c.file, c.reading, c.unit]), [
    ["curr1", "curr1_input", "current", "A"],
    ["in0", "in0_input", "voltage0", "V"],
    ["in1", "in1_input", "voltage_vbus", "V"],
    ["power1", "power1_input", "power", "W"],
    ["temp1", "temp1_input", "temperature", "°C"],
  ]);
});

Deno.test("planHwmonChannels() ignores alarms except rpi_volt's under-voltage bit", () => {
  assert.deepEqual(planHwmonChannels("sht3x", ["temp1_alarm", "humidity1_alarm"]), []);
  assert.deepEqual(
    planHwmonChannels("rpi_volt", ["in0_lcrit_alarm"]).map((c) => [c.reading, c.unit]),
    [["undervoltage", ""]],
  );
});

Deno.test("createHwmonSensor() reads rpi_volt's rails in V with their labels", async () => {
  const s = createHwmonSensor({ chip: "rpi_volt", sysfsRoot: board("rpi4-bme280") });
  const readings = await s.read(5);
  assert.deepEqual(byName(readings), {
    voltage_core: [0.88, "V"],
    voltage_sdram_c: [1.1, "V"],
    voltage_sdram_i: [1.1, "V"],
    voltage_sdram_p: [1.1, "V"],
    undervoltage: [0, ""],
  });
  assert.ok(readings.every((r) => r.sensor === "rpi_volt" && r.ts === 5));
});

Deno.test("createHwmonSensor() selects the chip by name: sht3x is hwmon2", async () => {
  const s = createHwmonSensor({ chip: "sht3x", sysfsRoot: board("rpi4-bme280"), name: "room" });
  assert.equal(s.name, "room");
  assert.deepEqual(byName(await s.read(0)), {
    humidity: [41.39, "%RH"],
    temperature: [22.87, "°C"],
  });
});

Deno.test("createHwmonSensor() converts fan RPM, power µW, current mA and voltage mV", async () => {
  await using dir = await tempDir("hwmon-units");
  const chip = async (n: number, files: Record<string, string>) => {
    const d = `${dir.path}/class/hwmon/hwmon${n}`;
    await Deno.mkdir(d, { recursive: true });
    for (const [f, text] of Object.entries(files)) await Deno.writeTextFile(`${d}/${f}`, text);
  };
  await chip(0, { name: "pwmfan\n", fan1_input: "2453\n", pwm1: "75\n" });
  await chip(1, {
    name: "ina219\n",
    in0_input: "3\n",
    in1_input: "5020\n",
    curr1_input: "412\n",
    power1_input: "2068000\n",
    shunt_resistor: "100000\n",
  });
  await chip(2, { name: "nct6775\n", temp1_input: "34000\n", temp2_input: "-1500\n" });
  const read = (chip: string) => createHwmonSensor({ chip, sysfsRoot: dir.path }).read(0);
  assert.deepEqual(byName(await read("pwmfan")), { fan: [2453, "RPM"] });
  assert.deepEqual(byName(await read("ina219")), {
    current: [0.412, "A"],
    voltage0: [0.003, "V"],
    voltage1: [5.02, "V"],
    power: [2.068, "W"],
  });
  assert.deepEqual(byName(await read("nct6775")), {
    temperature1: [34, "°C"],
    temperature2: [-1.5, "°C"],
  });
});

Deno.test("createHwmonSensor() reads attributes under device/ on old kernels", async () => {
  await using dir = await tempDir("hwmon-device");
  const d = `${dir.path}/class/hwmon/hwmon0`;
  await Deno.mkdir(`${d}/device`, { recursive: true });
  await Deno.writeTextFile(`${d}/name`, "lm75\n");
  await Deno.writeTextFile(`${d}/device/temp1_input`, "27500\n");
  const s = createHwmonSensor({ chip: "lm75", sysfsRoot: dir.path });
  assert.deepEqual(byName(await s.read(0)), { temperature: [27.5, "°C"] });
});

Deno.test("createHwmonSensor() names the chips that exist when the name is missing", () => {
  const root = board("rpi4-bme280");
  const error = configError(() => createHwmonSensor({ chip: "sht4x", sysfsRoot: root }));
  assert.equal(
    error.message,
    `no hwmon chip named "sht4x" under ${root}/class/hwmon (found: cpu_thermal, rpi_volt, sht3x)`,
  );
  assert.match(
    configError(() => createHwmonSensor({ chip: "sht3x", sysfsRoot: board("bare") })).message,
    /bare\/class\/hwmon does not exist\)$/,
  );
});

Deno.test("createHwmonSensor() skips a channel that reads ENODATA (disabled)", async () => {
  const s = createHwmonSensor({
    chip: "sht3x",
    sysfsRoot: board("rpi4-bme280"),
    readText: (path) =>
      path.endsWith("humidity1_input")
        ? Promise.reject(osError("ENODATA", "No data available (os error 61)"))
        : Deno.readTextFile(path),
  });
  assert.deepEqual(byName(await s.read(0)), { temperature: [22.87, "°C"] });
});

Deno.test("createHwmonSensor() read throws on other errors and when the chip disappears", async () => {
  await using dir = await copyBoard("rpi4-bme280");
  const broken = createHwmonSensor({
    chip: "sht3x",
    sysfsRoot: dir.path,
    readText: (path) =>
      path.endsWith("_input") ? Promise.resolve("garbage\n") : Deno.readTextFile(path),
  });
  await assert.rejects(broken.read(0), /expected a number, found "garbage"/);
  const s = createHwmonSensor({ chip: "sht3x", sysfsRoot: dir.path });
  await Deno.remove(`${dir.path}/class/hwmon/hwmon2`);
  await assert.rejects(s.read(0), /hwmon chip "sht3x" is gone from .*\/class\/hwmon/);
});
