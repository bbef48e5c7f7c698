/**
 * The loop under hanging reads: ticks run independently of each other,
 * `stop()` is bounded, the heartbeat follows the scheduler, and
 * `setDefaultInterval()` keeps one schedule.
 */
import assert from "node:assert/strict";
import { startLoop } from "../../lib/agent/loop.ts";
import { createLogger } from "../../lib/log.ts";
import type { Reading } from "../../lib/sensors/reading.ts";
import type { Sensor } from "../../lib/sensors/sensor.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = () => {
  const lines: string[] = [];
  return { lines, log: createLogger({ write: (l) => lines.push(l), level: "debug" }) };
};
const sensor = (name: string, read: (now: number) => Promise<Reading[]>): Sensor => ({
  name,
  type: "test",
  read,
});
const reading = (name: string, ts: number): Reading[] => [
  { sensor: name, name: "v", value: 1, unit: "", ts },
];
const value = (name: string) => (now: number) => Promise.resolve(reading(name, now));
const never = () => new Promise<Reading[]>(() => {});

Deno.test("startLoop() keeps a 50 ms sensor on schedule while another hangs forever", async () => {
  const { log } = quiet();
  const fast: { at: number; late: number }[] = [];
  const loop = startLoop({
    log,
    sensors: [
      { sensor: sensor("fast", value("fast")), interval: 50, timeout: 40 },
      { sensor: sensor("stuck", never), interval: 100, timeout: 1_000 },
    ],
    onTick(readings, at) {
      if (readings.some((r) => r.sensor === "fast")) fast.push({ at, late: Date.now() - at });
    },
  });
  await sleep(1_500);
  await loop.stop();
  // Delivered out of order: the first tick waits for the stuck read's timeout.
  fast.sort((a, b) => a.at - b.at);
  const slots = fast.map((t) => t.at - fast[0].at); // the first tick is at the loop's start
  assert.ok(slots.every((s) => s % 50 === 0), `slots not on start + n × 50 ms: ${slots}`);
  assert.equal(new Set(slots).size, slots.length, `a slot read twice: ${slots}`);
  // 1500 / 50 = 30 slots; a stall of one tick per stuck read would leave 2.
  assert.ok(fast.length >= 26, `${fast.length} fast ticks in 1.5 s: ${slots}`);
  // Only the first tick waits for the stuck read's 1 s timeout; the others are on time.
  const late = fast.slice(1).filter((t) => t.late > 200);
  assert.deepEqual(late, [], "fast ticks delayed by the stuck sensor");
  const stuck = loop.stats.get("stuck")!;
  assert.equal(stuck.reads, 0);
  assert.ok(stuck.timeouts >= 10, `stuck timeouts and skips: ${stuck.timeouts}`);
  assert.equal(loop.stats.get("fast")!.timeouts, 0);
});

Deno.test("startLoop() stop() resolves within stopTimeoutMs while a read hangs, and delivers nothing after", async () => {
  const { log } = quiet();
  let started = false;
  const ticks: number[] = [];
  const loop = startLoop({
    log,
    sensors: [{
      sensor: sensor("stuck", () => (started = true, never())),
      interval: 10_000,
      timeout: 60_000,
    }],
    onTick: (_readings, at) => ticks.push(at),
    stopTimeoutMs: 200,
  });
  while (!started) await sleep(5);
  const t0 = performance.now();
  await loop.stop();
  const took = performance.now() - t0;
  assert.ok(took >= 190 && took < 600, `stop() took ${Math.round(took)} ms`);
  assert.equal(loop.stop(), loop.stop(), "idempotent");
  assert.deepEqual(ticks, []);
  assert.equal(loop.ticks, 0, "a tick cut off by stop() is not counted");
  assert.equal(loop.stats.get("stuck")!.timeouts, 0, "abandoned at stop, not timed out");
});

Deno.test("startLoop() stop() delivers a tick in progress that completes within stopTimeoutMs", async () => {
  const { log } = quiet();
  let started = false;
  const ticks: Reading[][] = [];
  const loop = startLoop({
    log,
    sensors: [
      {
        sensor: sensor("slow", async (now) => {
          started = true;
          await sleep(100);
          return reading("slow", now);
        }),
        interval: 10_000,
        timeout: 5_000,
      },
      { sensor: sensor("quick", value("quick")), interval: 10_000, timeout: 5_000 },
    ],
    onTick: (readings) => ticks.push(readings),
    stopTimeoutMs: 1_000,
  });
  while (!started) await sleep(5);
  const t0 = performance.now();
  await loop.stop();
  const took = performance.now() - t0;
  assert.ok(took < 500, `stop() took ${Math.round(took)} ms, not just the read's 100 ms`);
  assert.deepEqual(ticks.map((t) => t.map((r) => r.sensor).sort()), [["quick", "slow"]]);
});

Deno.test("startLoop() stop() drops a tick that completes after stopTimeoutMs", async () => {
  const { log } = quiet();
  let started = false;
  const ticks: Reading[][] = [];
  const loop = startLoop({
    log,
    sensors: [{
      sensor: sensor("slow", async (now) => {
        started = true;
        await sleep(300);
        return reading("slow", now);
      }),
      interval: 10_000,
      timeout: 5_000,
    }],
    onTick: (readings) => ticks.push(readings),
    stopTimeoutMs: 50,
  });
  while (!started) await sleep(5);
  await loop.stop();
  await sleep(400); // the read completes now
  assert.deepEqual(ticks, []);
});

Deno.test("startLoop() setDefaultInterval() during a read, from onTick and repeated never double-schedules", async () => {
  const { log } = quiet();
  const at: number[] = [];
  let reads = 0;
  let inRead = 0;
  const beats: number[] = [];
  let loop: ReturnType<typeof startLoop> | undefined = undefined;
  loop = startLoop({
    log,
    sensors: [{
      sensor: sensor("d", async (now) => {
        reads++;
        inRead++;
        if (reads === 2) loop!.setDefaultInterval(50); // during a tick
        await sleep(20);
        inRead--;
        return reading("d", now);
      }),
      interval: 100,
      timeout: 40,
      usesDefault: true,
    }],
    onTick(_readings, scheduledAt) {
      at.push(scheduledAt);
      loop!.setDefaultInterval(50); // no-op: unchanged
    },
    onHeartbeat() {
      beats.push(Date.now());
      loop?.setDefaultInterval(50);
    },
  });
  while (reads < 2) await sleep(5);
  for (let i = 0; i < 20; i++) loop.setDefaultInterval(i % 2 ? 50 : 70);
  loop.setDefaultInterval(50);
  const from = Date.now();
  await sleep(600);
  const n = at.filter((t) => t >= from).length;
  const woke = beats.filter((t) => t >= from).length;
  await loop.stop();
  assert.ok(n >= 9 && n <= 13, `${n} ticks in 600 ms at 50 ms`);
  assert.ok(woke <= n + 2, `the scheduler woke ${woke} times for ${n} ticks`);
  const gaps = at.slice(1).map((t, i) => t - at[i]);
  assert.ok(gaps.every((g) => g >= 50), `ticks closer than the interval: ${gaps}`);
  assert.equal(loop.stats.get("d")!.timeouts, 0, "no overlapping reads");
  assert.equal(inRead, 0);
  assert.deepEqual(loop.timings(), [{ name: "d", interval: 50, timeout: 40 }]);
});

Deno.test("startLoop() beats every heartbeatIntervalMs whatever the interval, and not after stop()", async () => {
  const { log } = quiet();
  const beats: number[] = [];
  const loop = startLoop({
    log,
    sensors: [{ sensor: sensor("d", value("d")), interval: 20, timeout: 10, usesDefault: true }],
    onTick: () => {},
    onHeartbeat: () => beats.push(performance.now()),
    heartbeatIntervalMs: 30,
  });
  await sleep(50);
  loop.setDefaultInterval(3_600_000);
  const from = performance.now();
  await sleep(400);
  await loop.stop();
  const after = beats.filter((t) => t >= from);
  const gaps = after.slice(1).map((t, i) => Math.round(t - after[i]));
  assert.ok(after.length >= 8, `${after.length} beats in 400 ms: ${gaps}`);
  assert.ok(gaps.every((g) => g < 150), `a gap between beats: ${gaps}`);
  const n = beats.length;
  await sleep(60);
  assert.equal(beats.length, n, "no beat after stop()");
});

Deno.test("startLoop() keeps reading when the wall clock steps back", async () => {
  const { log } = quiet();
  let offset = 0;
  const ticks: number[] = [];
  const loop = startLoop({
    log,
    now: () => Date.now() + offset,
    sensors: [{ sensor: sensor("d", value("d")), interval: 20, timeout: 10 }],
    onTick: (_readings, at) => ticks.push(at),
  });
  await sleep(60);
  offset = -3_600_000;
  const before = ticks.length;
  await sleep(200);
  await loop.stop();
  assert.ok(ticks.length - before >= 5, `${ticks.length - before} ticks after the step`);
});

Deno.test("startLoop() counts a read that throws instead of rejecting as an error", async () => {
  const { log, lines } = quiet();
  const loop = startLoop({
    log,
    sensors: [{
      sensor: sensor("sync", () => {
        throw new Error("EBADF");
      }),
      interval: 10,
      timeout: 100,
    }],
    onTick: () => {},
  });
  while ((loop.stats.get("sync")?.errors ?? 0) < 3) await sleep(5);
  await loop.stop();
  assert.equal(lines.filter((l) => l.includes('sensor "sync" failed: EBADF')).length, 1);
});

Deno.test("startLoop() rejects an interval that is not a positive number", () => {
  const { log } = quiet();
  const options = { log, onTick: () => {} };
  assert.throws(
    () =>
      startLoop({ ...options, sensors: [{ sensor: sensor("z", never), interval: 0, timeout: 1 }] }),
    /the interval of "z" must be a positive number of ms, not 0/,
  );
});
