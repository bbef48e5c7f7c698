import assert from "node:assert/strict";
import {
  createHeartbeat,
  createWatchdog,
  heartbeatTestHooks,
  staleAfter,
} from "../../lib/systemd/watchdog.ts";
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

Deno.test("staleAfter() allows two periods of the fastest sensor plus the slowest timeout", () => {
  assert.equal(staleAfter([{ interval: 10_000, timeout: 5_000 }]), 31_000);
  assert.equal(
    staleAfter([{ interval: 10_000, timeout: 2_000 }, { interval: 300_000, timeout: 8_000 }]),
    37_000,
  );
  assert.equal(staleAfter([]), Number.POSITIVE_INFINITY);
});

Deno.test("heartbeatTestHooks() reads LEAF_TEST_WEDGE_LOOP_AFTER and nothing else", () => {
  const env = (v?: string) => ({
    get: (k: string) => (k === "LEAF_TEST_WEDGE_LOOP_AFTER" ? v : undefined),
  });
  assert.deepEqual(heartbeatTestHooks(env("1500")), { wedgeAfterMs: 1500 });
  assert.deepEqual(heartbeatTestHooks(env()), {});
  assert.deepEqual(heartbeatTestHooks(env("soon")), {});
});
