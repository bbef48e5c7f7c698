import assert from "node:assert/strict";
import {
  createHeartbeat,
  createWatchdog,
  heartbeatTestHooks,
  staleAfter,
} from "../../lib/systemd/watchdog.ts";
import { startLoop } from "../../lib/agent/loop.ts";
import { createLogger } from "../../lib/log.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function counter() {
  let pings = 0;
  return {
    notifier: {
      ping() {
        pings++;
        return Promise.resolve();
      },
    },
    count: () => pings,
  };
}

Deno.test("createWatchdog() pings at start and every interval while healthy", async () => {
  const c = counter();
  using watchdog = createWatchdog({ notifier: c.notifier, intervalMs: 20, isHealthy: () => true });
  watchdog.start();
  watchdog.start(); // idempotent: one timer
  assert.equal(c.count(), 1, "first ping at once");
  await sleep(200);
  watchdog.stop();
  const n = c.count();
  assert.ok(n >= 3 && n <= 11, `pings in 200 ms at 20 ms: ${n}`);
  assert.equal(watchdog.pings, n);
  await sleep(50);
  assert.equal(c.count(), n, "no ping after stop");
});

Deno.test("createWatchdog() withholds pings while unhealthy, logs once, and resumes", async () => {
  const c = counter();
  const lines: string[] = [];
  let healthy = true;
  using watchdog = createWatchdog({
    notifier: c.notifier,
    intervalMs: 10,
    isHealthy: () => healthy,
    log: createLogger({ write: (l) => lines.push(l) }),
    describe: () => ({ heartbeatAge: "99 ms" }),
  });
  watchdog.start();
  await sleep(35);
  healthy = false;
  const before = c.count();
  await sleep(60);
  assert.equal(c.count(), before, "no ping while unhealthy");
  assert.ok(watchdog.withheld >= 2, `withheld ${watchdog.withheld}`);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /ERROR agent loop is not ticking: withholding .* heartbeatAge="99 ms"/);
  healthy = true;
  await sleep(40);
  assert.ok(c.count() > before, "pings resume");
  assert.match(lines[1], /healthy again/);
});

Deno.test("createWatchdog() does nothing without an interval", async () => {
  const c = counter();
  const watchdog = createWatchdog({
    notifier: c.notifier,
    intervalMs: undefined,
    isHealthy: () => true,
  });
  assert.equal(watchdog.enabled, false);
  watchdog.start();
  await sleep(20);
  watchdog.stop();
  assert.equal(c.count(), 0);
});

Deno.test("createHeartbeat() is healthy while beats are recent", () => {
  let t = 1_000;
  const hb = createHeartbeat({ staleAfterMs: 100, now: () => t });
  assert.equal(hb.isHealthy(), true, "fresh at creation");
  t += 100;
  assert.equal(hb.isHealthy(), true);
  t += 1;
  assert.equal(hb.isHealthy(), false);
  hb.beat();
  assert.equal(hb.isHealthy(), true);
  assert.equal(hb.age(), 0);
});

Deno.test("createHeartbeat() wedge hook ignores beats after wedgeAfterMs", () => {
  let t = 0;
  const lines: string[] = [];
  const hb = createHeartbeat({
    staleAfterMs: 50,
    wedgeAfterMs: 200,
    now: () => t,
    log: createLogger({ write: (l) => lines.push(l) }),
  });
  for (; t < 200; t += 10) hb.beat();
  assert.equal(hb.isHealthy(), true);
  for (; t < 400; t += 10) hb.beat();
  assert.equal(hb.isHealthy(), false);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /test hook LEAF_TEST_WEDGE_LOOP_AFTER/);
});

Deno.test("staleAfter() allows two beat periods (fastest interval, at most the 5 s pulse) plus 5 s", () => {
  assert.equal(staleAfter([{ interval: 1_000 }]), 7_000);
  assert.equal(staleAfter([{ interval: 10_000 }]), 15_000);
  assert.equal(staleAfter([{ interval: 30_000 }, { interval: 86_400_000 }]), 15_000);
  assert.equal(staleAfter([{ interval: 60_000 }], 100), 5_200);
  assert.equal(staleAfter([]), Number.POSITIVE_INFINITY);
});

Deno.test("createHeartbeat() setStaleAfter() replaces the threshold and rejects nonsense", () => {
  let t = 0;
  const hb = createHeartbeat({ staleAfterMs: 100, now: () => t });
  t = 150;
  assert.equal(hb.isHealthy(), false);
  hb.setStaleAfter(200);
  assert.equal(hb.isHealthy(), true);
  assert.throws(() => hb.setStaleAfter(Number.NaN), RangeError);
  assert.throws(() => createHeartbeat({ staleAfterMs: 0 }), /positive number of ms, not 0/);
});

Deno.test("createWatchdog() keeps pinging after the loop's default interval grows far past staleAfterMs", async () => {
  const c = counter();
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  const sensors = [{
    sensor: {
      name: "d",
      type: "test",
      read: (now: number) =>
        Promise.resolve([{ sensor: "d", name: "v", value: 1, unit: "", ts: now }]),
    },
    interval: 20,
    timeout: 10,
    usesDefault: true,
  }];
  // A 40 ms pulse stands in for the 5 s one: stale after two pulses plus 20 ms of slack.
  const heartbeat = createHeartbeat({ staleAfterMs: 100 });
  assert.equal(heartbeat.isHealthy(), true);
  const loop = startLoop({
    sensors,
    log,
    onTick: () => {},
    onHeartbeat: heartbeat.beat,
    heartbeatIntervalMs: 40,
  });
  using watchdog = createWatchdog({
    notifier: c.notifier,
    intervalMs: 10,
    isHealthy: heartbeat.isHealthy,
    log,
  });
  watchdog.start();
  await sleep(50);
  loop.setDefaultInterval(3_600_000); // a twin update: one read an hour
  let unhealthy = 0;
  for (let i = 0; i < 40; i++) {
    await sleep(10);
    if (!heartbeat.isHealthy()) unhealthy++;
  }
  watchdog.stop();
  await loop.stop();
  assert.equal(unhealthy, 0, `stale ${unhealthy} times (age ${heartbeat.age()} ms)`);
  assert.equal(watchdog.withheld, 0);
  assert.deepEqual(lines, []);
  assert.deepEqual(loop.timings(), [{ name: "d", interval: 3_600_000, timeout: 10 }]);
  assert.equal(staleAfter(loop.timings()), 15_000, "capped by the loop's 5 s pulse");
});

Deno.test("heartbeatTestHooks() reads LEAF_TEST_WEDGE_LOOP_AFTER and nothing else", () => {
  const env = (v?: string) => ({
    get: (k: string) => (k === "LEAF_TEST_WEDGE_LOOP_AFTER" ? v : undefined),
  });
  assert.deepEqual(heartbeatTestHooks(env("1500")), { wedgeAfterMs: 1500 });
  assert.deepEqual(heartbeatTestHooks(env()), {});
  assert.deepEqual(heartbeatTestHooks(env("soon")), {});
});
