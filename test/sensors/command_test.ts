import assert from "node:assert/strict";
import {
  createCommandSensor,
  parseCommandOutput,
  resolveProgram,
} from "../../lib/sensors/command.ts";
import { tempDir } from "../_helpers.ts";
import { configError } from "./_board.ts";

Deno.test.each(
  [
    ["42\n", undefined, [{ name: "value", value: 42, unit: "" }]],
    ["temp=42.9'C\n", undefined, [{ name: "temp", value: 42.9, unit: "°C" }]],
    ["volt=0.8500V\n", undefined, [{ name: "volt", value: 0.85, unit: "V" }]],
    ["throttled=0x50000\n", undefined, [{ name: "throttled", value: 0x50000, unit: "" }]],
    ["level: -3.5e2 mm\n", "mm", [{ name: "level", value: -350, unit: "mm" }]],
    ["temp=42.9'C\n", "K", [{ name: "temp", value: 42.9, unit: "K" }]],
    [
      '{"co2": 612, "tvoc": 14, "status": "ok"}\n',
      "ppm",
      [{ name: "co2", value: 612, unit: "ppm" }, { name: "tvoc", value: 14, unit: "ppm" }],
    ],
    [
      '{"co2": {"value": 612, "unit": "ppm"}, "temp": {"value": 21.5, "unit": "°C"}}',
      undefined,
      [{ name: "co2", value: 612, unit: "ppm" }, { name: "temp", value: 21.5, unit: "°C" }],
    ],
  ] as const,
)("parseCommandOutput(%j, %j) reads the value(s)", (text, unit, expected) => {
  assert.deepEqual(parseCommandOutput(text, unit), expected);
});

Deno.test.each([
  ["", /printed nothing/],
  ["   \n", /printed nothing/],
  ["error: no sensor\n", /printed no number/],
  ["{not json", /printed invalid JSON/],
  ['{"status": "ok"}', /without numbers/],
])("parseCommandOutput(%j) rejects it", (text, pattern) => {
  assert.throws(() => parseCommandOutput(text), pattern);
});

Deno.test("createCommandSensor() runs a real program and parses its number", async () => {
  const s = createCommandSensor({ run: ["/bin/echo", "temp=42.9'C"] });
  assert.equal(s.name, "echo");
  assert.equal(s.type, "command");
  assert.deepEqual(await s.read(3), [
    { sensor: "echo", name: "temp", value: 42.9, unit: "°C", ts: 3 },
  ]);
});

Deno.test("createCommandSensor() passes argv as is: no shell expands it", async () => {
  // Through a shell, echo would print 42; leaf passes the text through untouched.
  const s = createCommandSensor({ run: ["echo", "$((40+2))"], name: "argv" });
  assert.equal(s.name, "argv");
  assert.deepEqual((await s.read(0)).map((r) => r.value), [40]);
  const json = createCommandSensor({ run: ["/bin/echo", '{"a": 1, "b": 2.5}'], unit: "W" });
  assert.deepEqual((await json.read(0)).map((r) => [r.name, r.value, r.unit]), [
    ["a", 1, "W"],
    ["b", 2.5, "W"],
  ]);
});

Deno.test("createCommandSensor() kills a program that outlives its timeout, with its children", async () => {
  await using dir = await tempDir("command-timeout");
  const pids = `${dir.path}/pids`;
  const s = createCommandSensor({
    // sh records its own pid and the pid of the sleep it starts, then waits.
    run: ["/bin/sh", "-c", `sleep 5 & echo $$ $! > ${pids}; wait`],
    timeout: 300,
  });
  const started = Date.now();
  await assert.rejects(s.read(0), /"\/bin\/sh -c .*" timed out after 300 ms and was killed/);
  assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
  const [sh, sleep] = (await Deno.readTextFile(pids)).trim().split(" ").map(Number);
  // `ps`, not /proc: Deno reads /proc only with --allow-all.
  const state = async (pid: number) => {
    const ps = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)] }).output();
    return ps.success ? new TextDecoder().decode(ps.stdout).trim()[0] : "gone";
  };
  assert.equal(await state(sh), "gone", "our child was reaped (no zombie)");
  assert.ok(["gone", "Z", "X"].includes(await state(sleep)), "its sleep was killed too");
});

Deno.test("createCommandSensor() read throws with the exit code and stderr", async () => {
  const s = createCommandSensor({ run: ["/bin/sh", "-c", "echo 'no sensor on bus' >&2; exit 3"] });
  await assert.rejects(s.read(0), /"\/bin\/sh -c .*" exited with code 3: no sensor on bus/);
});

Deno.test("createCommandSensor() close() kills a running program", async () => {
  const s = createCommandSensor({ run: ["/bin/sh", "-c", "sleep 5"], timeout: 10_000 });
  const read = s.read(0);
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  await s.close!();
  await assert.rejects(read, /was killed by SIGKILL/);
  assert.ok(Date.now() - started < 2_000);
});

Deno.test("createCommandSensor() refuses a program that does not exist, at start", () => {
  const error = configError(() => createCommandSensor({ run: ["/usr/bin/vcgencmd-nope"] }));
  assert.equal(
    error.message,
    'the program "/usr/bin/vcgencmd-nope" does not exist or is not executable',
  );
  assert.match(
    configError(() => createCommandSensor({ run: ["no-such-program-leaf"] })).hint ?? "",
    /PATH/,
  );
});

Deno.test("resolveProgram() searches PATH for a bare name", () => {
  assert.equal(resolveProgram("sh", "/nonexistent:/bin"), "/bin/sh");
  assert.equal(resolveProgram("sh", "/nonexistent"), undefined);
  assert.equal(resolveProgram("/bin/sh"), "/bin/sh");
});
