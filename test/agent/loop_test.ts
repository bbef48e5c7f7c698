import assert from "node:assert/strict";
import { startLoop } from "../../lib/agent/loop.ts";
import { createLogger } from "../../lib/log.ts";
import type { Reading } from "../../lib/sensors/reading.ts";
import type { Sensor } from "../../lib/sensors/sensor.ts";

const quiet = () => {
  const lines: string[] = [];
  return { lines, log: createLogger({ write: (l) => lines.push(l), level: "debug" }) };
};

function sensor(name: string, read: (now: number) => Promise<Reading[]>): Sensor {
  return { name, type: "test", read };
}

const value = (name: string) => (now: number) =>
  Promise.resolve([{ sensor: name, name: "v", value: 1, unit: "", ts: now }]);

Deno.test("startLoop() schedules the n-th tick at start + n × interval, so lateness does not accumulate", async () => {
  const { log } = quiet();
  const scheduled: number[] = [];
  const fired: number[] = [];
  let slow = 0;
  const loop = startLoop({
    log,
    sensors: [{
      sensor: sensor("a", async (now) => {
        // Every read costs ~2 ms: a naive "sleep(interval) after each read" loop drifts.
        await new Promise((r) => setTimeout(r, 2));
        slow++;
        return value("a")(now);
      }),
      interval: 10,
      timeout: 1_000,
    }],
    onTick(_readings, at) {
      scheduled.push(at);
      fired.push(Date.now());
    },
  });
  while (scheduled.length < 150) await new Promise((r) => setTimeout(r, 20));
  await loop.stop();
  const start = scheduled[0];
  const slots = scheduled.map((at) => (at - start) / 10);
  slots.forEach((k, n) =>
    assert.ok(Number.isInteger(k) && (n === 0 || k > slots[n - 1]), `tick ${n} at slot ${k}`)
  );
  // A slot is skipped only when the timer fires a whole interval late (a loaded machine).
  const skipped = slots[149] - 149;
  assert.ok(skipped <= 10, `${skipped} slots skipped before tick 150: ${slots}`);
  const lateness = fired[149] - scheduled[149];
  assert.ok(
    lateness < 150,
    `the 150th tick fired ${lateness} ms after its slot (${slow} reads of 2 ms each)`,
  );
});

Deno.test("startLoop() groups sensors due together into one tick and keeps each reading's own time", async () => {
  const { log } = quiet();
  const ticks: Reading[][] = [];
  const loop = startLoop({
    log,
    sensors: [
      { sensor: sensor("a", value("a")), interval: 20, timeout: 100 },
      { sensor: sensor("b", value("b")), interval: 40, timeout: 100 },
    ],
    onTick: (readings) => ticks.push(readings),
  });
  while (ticks.length < 6) await new Promise((r) => setTimeout(r, 10));
  await loop.stop();
  assert.deepEqual(ticks.slice(0, 4).map((t) => t.map((r) => r.sensor).sort()), [
    ["a", "b"],
    ["a"],
    ["a", "b"],
    ["a"],
  ]);
});

Deno.test("startLoop() abandons a hanging read after its timeout and keeps reading the others", async () => {
  const { log, lines } = quiet();
  const ticks: Reading[][] = [];
  let release: () => void = () => {};
  const hang = new Promise<void>((r) => release = r);
  const loop = startLoop({
    log,
    sensors: [
      { sensor: sensor("stuck", async () => (await hang, [])), interval: 20, timeout: 30 },
      { sensor: sensor("ok", value("ok")), interval: 20, timeout: 30 },
    ],
    onTick: (readings) => ticks.push(readings),
  });
  while (ticks.length < 5) await new Promise((r) => setTimeout(r, 10));
  await loop.stop();
  release();
  assert.ok(ticks.every((t) => t.length === 1 && t[0].sensor === "ok"));
  assert.ok((loop.stats.get("stuck")?.timeouts ?? 0) >= 1);
  assert.equal(
    lines.filter((l) => l.includes(`sensor "stuck" failed`)).length,
    1,
    "logged once, not per tick",
  );
});

Deno.test("startLoop() counts a failing sensor, logs it rate-limited and says when it recovers", async () => {
  const { log, lines } = quiet();
  let fail = true;
  let n = 0;
  const loop = startLoop({
    log,
    sensors: [{
      sensor: sensor("flaky", (now) => {
        n++;
        return fail ? Promise.reject(new Error("EIO")) : value("flaky")(now);
      }),
      interval: 10,
      timeout: 100,
    }],
    onTick: () => {},
  });
  while (n < 5) await new Promise((r) => setTimeout(r, 10));
  fail = false;
  while (n < 8) await new Promise((r) => setTimeout(r, 10));
  await loop.stop();
  assert.ok((loop.stats.get("flaky")?.errors ?? 0) >= 5);
  assert.equal(lines.filter((l) => l.includes("failed: EIO")).length, 1);
  assert.equal(lines.filter((l) => l.includes(`sensor "flaky" recovered`)).length, 1);
});

Deno.test("startLoop() logs a failing onTick (the outbox cannot store) once per errorLogInterval", async () => {
  const { log, lines } = quiet();
  let ticks = 0;
  const loop = startLoop({
    log,
    sensors: [{ sensor: sensor("s", value("s")), interval: 10, timeout: 100 }],
    onTick: () => {
      ticks++;
      throw new Error("disk I/O error");
    },
  });
  while (ticks < 6) await new Promise((r) => setTimeout(r, 10));
  await loop.stop();
  const logged = lines.filter((l) => l.includes("could not store a tick"));
  assert.equal(logged.length, 1, lines.join("\n"));
  assert.match(logged[0], /disk I\/O error/);
});

Deno.test("startLoop() setDefaultInterval() changes only the sensors on the default interval", async () => {
  const { log } = quiet();
  const seen: Record<string, number[]> = { d: [], own: [] };
  const loop = startLoop({
    log,
    sensors: [
      { sensor: sensor("d", value("d")), interval: 500, timeout: 100, usesDefault: true },
      { sensor: sensor("own", value("own")), interval: 500, timeout: 100 },
    ],
    onTick: (readings, at) => {
      for (const r of readings) seen[r.sensor].push(at);
    },
  });
  await new Promise((r) => setTimeout(r, 50));
  loop.setDefaultInterval(20);
  await new Promise((r) => setTimeout(r, 300));
  await loop.stop();
  assert.ok(seen.d.length >= 8, `default sensor read ${seen.d.length} times`);
  assert.ok(seen.own.length <= 2, `own-interval sensor read ${seen.own.length} times`);
});
