import assert from "node:assert/strict";
import { createSystemSensor } from "../../lib/sensors/system.ts";
import { board, byName, copyBoard, PROC } from "./_board.ts";

Deno.test("createSystemSensor() reads the /proc fixture in its units", async () => {
  const s = createSystemSensor({ procfsRoot: PROC, sysfsRoot: board("bare") });
  const r = byName(await s.read(0));
  assert.deepEqual(r, {
    load1: [0.52, ""],
    load5: [0.58, ""],
    load15: [0.59, ""],
    uptime: [350735, "s"],
    memory_total: [3884700 * 1024, "B"],
    memory_available: [3169508 * 1024, "B"],
    memory_used: [18.4, "%"],
  });
});

Deno.test("createSystemSensor() adds undervoltage from rpi_volt on a Raspberry Pi", async () => {
  const s = createSystemSensor({ procfsRoot: PROC, sysfsRoot: board("rpi4-bme280") });
  assert.deepEqual(byName(await s.read(0)).undervoltage, [0, ""]);
  await using dir = await copyBoard("rpi4-bme280");
  const alarm = `${dir.path}/class/hwmon/hwmon1/in0_lcrit_alarm`;
  await Deno.writeTextFile(alarm, "1\n");
  const low = createSystemSensor({ procfsRoot: PROC, sysfsRoot: dir.path });
  assert.deepEqual(byName(await low.read(0)).undervoltage, [1, ""]);
  await Deno.remove(`${dir.path}/class/hwmon/hwmon1`);
  assert.equal(byName(await low.read(0)).undervoltage, undefined, "gone: left out, no error");
});

Deno.test("createSystemSensor() reports no undervoltage where there is no rpi_volt", async () => {
  for (const b of ["rpi-ds18b20", "bare"] as const) {
    const s = createSystemSensor({ procfsRoot: PROC, sysfsRoot: board(b) });
    assert.equal(byName(await s.read(0)).undervoltage, undefined, b);
  }
});
