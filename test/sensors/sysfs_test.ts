import assert from "node:assert/strict";
import {
  errnoOf,
  isSkippedSample,
  naturalCompare,
  parseNumber,
  tidy,
  under,
} from "../../lib/sensors/_sysfs.ts";
import { osError } from "./_board.ts";

Deno.test("under() joins a root and sysfs paths without doubled slashes", () => {
  assert.equal(under("/sys", "class/thermal"), "/sys/class/thermal");
  assert.equal(under("/sys/", "/class/hwmon/"), "/sys/class/hwmon");
  assert.equal(under("/", "proc"), "/proc");
});

Deno.test("naturalCompare() orders hwmon2 before hwmon10 and ids as text", () => {
  assert.deepEqual(["hwmon10", "hwmon2", "hwmon1"].sort(naturalCompare), [
    "hwmon1",
    "hwmon2",
    "hwmon10",
  ]);
  assert.deepEqual(["28-3c01d607d4aa", "28-0316a2799dff"].sort(naturalCompare), [
    "28-0316a2799dff",
    "28-3c01d607d4aa",
  ]);
});

Deno.test.each([
  ["48686\n", 48686],
  ["-4368\n", -4368],
  ["100.869140625\n", 100.869140625],
  ["10.725097656\n", 10.725097656],
])("parseNumber(%j) is %f", (text, n) => {
  assert.equal(parseNumber(text, "f"), n);
});

Deno.test("parseNumber() names the file when the text is not a number", () => {
  assert.throws(() => parseNumber("", "/sys/x"), /\/sys\/x: expected a number, found ""/);
  assert.throws(() => parseNumber("1 2", "/sys/x"), /found "1 2"/);
});

Deno.test("tidy() removes float noise from unit conversions", () => {
  assert.equal(tidy(100.869140625 * 10), 1008.69140625);
  assert.equal(tidy(0.1 + 0.2), 0.3);
});

Deno.test("errnoOf() and isSkippedSample() recognise the kernel's transient read errors", () => {
  assert.equal(errnoOf(osError("EIO")), "EIO");
  assert.equal(errnoOf(new Error("No data available (os error 61)")), "ENODATA");
  assert.equal(errnoOf(new Deno.errors.TimedOut("Connection timed out")), "ETIMEDOUT");
  assert.equal(errnoOf(new Deno.errors.WouldBlock("Resource temporarily unavailable")), "EAGAIN");
  assert.equal(errnoOf(new Deno.errors.NotFound("gone")), undefined);
  for (const e of ["EIO", "ETIMEDOUT", "EAGAIN", "ENODATA"]) assert.ok(isSkippedSample(osError(e)));
  assert.ok(!isSkippedSample(osError("EINVAL")));
  assert.ok(!isSkippedSample(new Deno.errors.NotFound("gone")));
});
