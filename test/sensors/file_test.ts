import assert from "node:assert/strict";
import { createFileSensor, parseFileValue } from "../../lib/sensors/file.ts";
import { tempDir } from "../_helpers.ts";
import { board, configError } from "./_board.ts";

Deno.test.each([
  ["1500\n", 0.001, 1.5],
  ["  -42 \n", 1, -42],
  ["100.869140625\n", 10, 1008.69140625],
  ["7", 0.1, 0.7],
])("parseFileValue(%j, %f) is %f", (text, scale, expected) => {
  assert.equal(parseFileValue(text, scale), expected);
});

Deno.test("parseFileValue() rejects anything but one number", () => {
  assert.throws(
    () => parseFileValue("12 13\n", 1, "/run/level"),
    /\/run\/level: expected a number/,
  );
  assert.throws(() => parseFileValue("", 1), /expected a number/);
});

Deno.test("createFileSensor() reads a sysfs attribute with a scale and unit", async () => {
  const path = `${board("rpi4-bme280")}/class/thermal/thermal_zone0/temp`;
  const s = createFileSensor({ path, scale: 0.001, unit: "°C", name: "soc" });
  assert.deepEqual(await s.read(4), [
    { sensor: "soc", name: "value", value: 48.686, unit: "°C", ts: 4 },
  ]);
});

Deno.test("createFileSensor() names itself after the file and reads changes", async () => {
  await using dir = await tempDir("file-sensor");
  const path = `${dir.path}/level`;
  await Deno.writeTextFile(path, "1200\n");
  const s = createFileSensor({ path, scale: 0.001, unit: "m" });
  assert.equal(s.name, "level");
  assert.equal((await s.read(0))[0].value, 1.2);
  await Deno.writeTextFile(path, "1350\n");
  assert.equal((await s.read(0))[0].value, 1.35);
  await Deno.remove(path);
  await assert.rejects(s.read(0), Deno.errors.NotFound, "a file gone at runtime: the read throws");
});

Deno.test("createFileSensor() refuses a missing file at start", () => {
  const error = configError(() => createFileSensor({ path: "/run/sensor/nope-leaf" }));
  assert.equal(error.message, 'the file "/run/sensor/nope-leaf" does not exist');
});
