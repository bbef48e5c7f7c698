/**
 * `leaf run` on a Raspberry Pi 4 fixture tree (BME280 on I2C, the SoC
 * thermal zone, the firmware voltage monitor) against the dev gateway: the
 * delivered bodies carry the kernel's values in normalised units.
 */
import assert from "node:assert/strict";
import { ROOT, spawnLeaf, tempDir, waitFor } from "../_helpers.ts";
import { delivered, freePort, RestartableGateway, writeRunConfig } from "./_run_setup.ts";

interface Body {
  seq: number;
  deviceId: string;
  readings: { sensor: string; name: string; value: number; unit: string; ts: string }[];
}

Deno.test("leaf run on the Pi 4 fixture tree delivers the kernel's values with their units", async () => {
  await using dir = await tempDir("run-pi4");
  const port = freePort();
  const out = `${dir.path}/out.jsonl`;
  const config = await writeRunConfig(dir.path, port);
  const text = (await Deno.readTextFile(config))
    .replace("  interval: 25ms\n", "  interval: 100ms\n")
    .replace(
      "sensors:\n  - type: simulated\n",
      [
        `sysfsRoot: ${ROOT}test/fixtures/sysfs/rpi4-bme280`,
        `procfsRoot: ${ROOT}test/fixtures/proc`,
        "sensors:",
        "  - type: system",
        "  - type: thermal",
        "    zone: cpu-thermal",
        "  - type: hwmon",
        "    chip: rpi_volt",
        "  - type: iio",
        "    device: bme280",
        "    name: env",
        "",
      ].join("\n"),
    );
  await Deno.writeTextFile(config, text);
  await using gw = new RestartableGateway(port, out);
  await gw.start();
  await using agent = spawnLeaf(["run", "--config", config]);
  await waitFor(async () => (await delivered(out)).length >= 3, {
    timeoutMs: 15_000,
    what: "3 messages",
  });
  assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());

  const body = (await delivered(out))[1].body as unknown as Body;
  const value = (sensor: string, name: string) => {
    const r = body.readings.find((x) => x.sensor === sensor && x.name === name);
    assert.ok(
      r,
      `reading ${sensor}/${name} in ${
        JSON.stringify(body.readings.map((x) => `${x.sensor}/${x.name}`))
      }`,
    );
    return { value: r.value, unit: r.unit };
  };
  assert.deepEqual(value("env", "temperature"), { value: 23.45, unit: "°C" });
  assert.deepEqual(value("env", "humidity"), { value: 45.23, unit: "%RH" });
  assert.deepEqual(value("env", "pressure"), { value: 1008.69140625, unit: "hPa" });
  assert.deepEqual(value("cpu-thermal", "temperature"), { value: 48.686, unit: "°C" });
  assert.deepEqual(value("rpi_volt", "voltage_core"), { value: 0.88, unit: "V" });
  assert.deepEqual(value("system", "load1"), { value: 0.52, unit: "" });
  assert.deepEqual(value("system", "undervoltage"), { value: 0, unit: "" });
  for (const r of body.readings) {
    assert.ok(!Number.isNaN(Date.parse(r.ts)), "each reading keeps its own time");
  }
});
