/**
 * `leaf sensors` as a user runs it: a subprocess of the real entry point on
 * each fixture board and on this machine.
 */
import assert from "node:assert/strict";
import { leafEnv, MAIN, ROOT, runLeaf, tempDir } from "../_helpers.ts";
import { board, BOARDS, PROC } from "../sensors/_board.ts";

/** Runs `leaf sensors <args>`; `allowAll` as the compiled binary has (needed for the real /sys and /proc). */
async function leafSensors(args: string[], { allowAll = false } = {}) {
  if (!allowAll) return await runLeaf(["sensors", ...args]);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "sensors", ...args],
    env: leafEnv(),
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

const EXPECTED: Record<typeof BOARDS[number], { lines: RegExp[]; snippet: string[] }> = {
  "rpi4-bme280": {
    lines: [
      /thermal +cpu-thermal .*\n\s+temperature 48\.686 °C/,
      /hwmon +cpu_thermal .*\n\s+the thermal zone "cpu-thermal" again .*not offered/,
      /hwmon +rpi_volt .*\n\s+voltage_core 0\.88 V, .*undervoltage 0/,
      /hwmon +sht3x .*\n\s+humidity 41\.39 %RH, temperature 22\.87 °C/,
      /iio +1-0040 .*\n\s+humidity 45\.0057983384 %RH, temperature 23\.4557885737 °C/,
      /iio +bme280 .*\n\s+humidity 45\.23 %RH, pressure 1008\.69140625 hPa, temperature 23\.45 °C/,
      /Not found:\n +1-Wire thermometers: .* does not exist/,
    ],
    snippet: [
      "zone: cpu-thermal",
      "chip: rpi_volt",
      "chip: sht3x",
      'device: "1-0040"',
      "device: bme280",
    ],
  },
  "rpi-ds18b20": {
    lines: [
      /w1 +28-0316a2799dff .*\n\s+temperature 21\.687 °C/,
      /w1 +28-0417c4b1d5ff .*\n\s+reading failed: .*CRC check failed/,
      /w1 +28-3c01d607d4aa .*\n\s+reading failed: .*85\.000 °C, the power-on value/,
      /Not found:\n +IIO devices: /,
    ],
    snippet: ['id: "28-0316a2799dff"', 'id: "28-0417c4b1d5ff"', 'id: "28-3c01d607d4aa"'],
  },
  "rpi-dht11": {
    lines: [/iio +dht11@0 .*\n\s+humidity 38 %RH, temperature 21 °C/],
    snippet: ["device: dht11@0"],
  },
  bare: {
    lines: [
      /Not found:\n +thermal zones: none under .*\n +hwmon chips: .* does not exist\n +IIO devices: .*\n +1-Wire thermometers: /,
    ],
    snippet: [],
  },
};

Deno.test.each(BOARDS)("leaf sensors lists the devices of the %s board", async (b) => {
  const r = await leafSensors(["--sysfs-root", board(b), "--procfs-root", PROC]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^Sensors on this board \(sysfs .*, procfs .*\):/);
  assert.match(r.stdout, /system +load, memory, uptime, CPU .*\n\s+load1 0\.52, load5 0\.58/);
  for (const line of EXPECTED[b].lines) assert.match(r.stdout, line);
  const snippet = r.stdout.split("Config snippet (paste into leaf.yaml):\n\n")[1];
  assert.ok(
    snippet.startsWith(`sysfsRoot: ${board(b)}\nprocfsRoot: ${PROC}\nsensors:\n  - type: system\n`),
  );
  for (const s of EXPECTED[b].snippet) {
    assert.ok(snippet.includes(`    ${s}\n`), `${s} in\n${snippet}`);
  }
});

Deno.test("leaf sensors --json gives readings, notes and the snippet", async () => {
  const r = await leafSensors([
    "--json",
    "--sysfs-root",
    board("rpi4-bme280"),
    "--procfs-root",
    PROC,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const dev = (key: string) => out.devices.find((d: { key: string }) => d.key === key);
  assert.deepEqual(dev("bme280").readings, [
    { name: "humidity", value: 45.23, unit: "%RH" },
    { name: "pressure", value: 1008.69140625, unit: "hPa" },
    { name: "temperature", value: 23.45, unit: "°C" },
  ]);
  assert.deepEqual(dev("bme280").entry, { type: "iio", device: "bme280" });
  assert.equal(dev("cpu_thermal").entry, undefined);
  assert.deepEqual(out.notFound.map((n: { type: string }) => n.type), ["w1"]);
  assert.match(out.snippet, /^sysfsRoot: .*\nprocfsRoot: .*\nsensors:\n +- type: system\n/);
});

Deno.test("leaf sensors --config takes sysfsRoot and procfsRoot from the config file", async () => {
  await using dir = await tempDir("sensors-config");
  const file = `${dir.path}/leaf.yaml`;
  await Deno.writeTextFile(file, `sysfsRoot: ${board("rpi-dht11")}\nprocfsRoot: ${PROC}\n`);
  const r = await leafSensors(["--config", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /iio +dht11@0 .*\n\s+humidity 38 %RH, temperature 21 °C/);
});

Deno.test("leaf sensors on this machine prints the system sensor and says what was not found", async () => {
  const r = await leafSensors([], { allowAll: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Sensors on this board \(sysfs \/sys, procfs \/proc\):/);
  assert.match(r.stdout, /system +load, memory, uptime, CPU +\/proc\n\s+load1 [\d.]+, load5 /);
  // Whatever this machine has, each kind is either listed or reported missing.
  for (
    const [kind, missing] of [
      ["thermal", "thermal zones: "],
      ["hwmon", "hwmon chips: "],
      ["iio", "IIO devices: "],
      ["w1", "1-Wire thermometers: "],
    ]
  ) {
    assert.ok(
      new RegExp(`\\n  ${kind} +\\S`).test(r.stdout) || r.stdout.includes(`\n  ${missing}`),
      `${kind} is neither listed nor reported missing:\n${r.stdout}`,
    );
  }
  assert.match(
    r.stdout,
    /Config snippet \(paste into leaf\.yaml\):\n\nsensors:\n +- type: system\n/,
  );
});

Deno.test({
  name: "leaf sensors without --allow-all says Deno needs it for /sys and /proc",
  async fn() {
    const r = await leafSensors([]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /system: not readable without --allow-all/);
    assert.match(r.stdout, /Deno reads \/sys and \/proc only with --allow-all/);
  },
});

Deno.test("leaf sensors rejects an unknown flag and a missing config file with exit 2", async () => {
  const flag = await leafSensors(["--sysfs", "/sys"]);
  assert.equal(flag.code, 2);
  assert.equal(flag.stderr.trim().split("\n").length, 1, flag.stderr);
  assert.match(flag.stderr, /Unknown option "--sysfs" for `leaf sensors`/);
  await using dir = await tempDir("sensors-missing");
  const path = `${dir.path}/leaf.yaml`;
  const missing = await leafSensors(["--config", path]);
  assert.equal(missing.code, 2);
  assert.ok(missing.stderr.includes(`Config file "${path}" does not exist`), missing.stderr);
});
