/**
 * The sd_notify protocol against a real unix datagram socket: a child with
 * `--unstable-net` binds the socket systemd would, and runs the real
 * notifier, heartbeat (with its wedge test hook) and watchdog against it.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers.ts";
import { runPeer } from "./_listener.ts";
import { SCENARIO, type ScenarioReport } from "./_notify_peer.ts";

/** Slack for timer lateness and delivery on a busy CI machine, ms. */
const SLACK = 150;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function checkScenario(report: ScenarioReport) {
  const texts = report.received.map((m) => m.text);
  const interval = SCENARIO.watchdogUsec / 2_000;
  assert.equal(report.watchdogInterval, interval, "half of WATCHDOG_USEC, in ms");

  const ready = texts.filter((t) => t.split("\n").includes("READY=1"));
  assert.deepEqual(ready, ["READY=1\nSTATUS=starting"], "READY=1 exactly once, first");
  assert.equal(texts[0], ready[0]);
  assert.ok(texts.includes("STATUS=connected=false sent=0 queued=0"), "STATUS= sent");

  const pings = report.received.filter((m) => m.text === "WATCHDOG=1").map((m) => m.t);
  const shown = pings.map(Math.round).join(", ");
  assert.ok(pings.length >= 5, `pings while healthy: ${shown}`);
  assert.ok(pings[0] <= SLACK, `first ping at start: ${shown}`);
  // While healthy: one ping per WATCHDOG_USEC/2, and never a gap that
  // would let systemd's watchdog (WATCHDOG_USEC) fire.
  const gaps = pings.slice(1).map((t, i) => t - pings[i]);
  const usec = SCENARIO.watchdogUsec / 1_000;
  assert.ok(gaps.every((g) => g < usec), `a gap reached WATCHDOG_USEC: ${shown}`);
  const typical = median(gaps);
  assert.ok(typical >= interval * 0.9 && typical <= interval * 1.2, `median gap ${typical} ms`);
  assert.ok(
    pings.at(-1)! >= report.wedgeAt - interval - SLACK,
    `pinged until the wedge (${Math.round(report.wedgeAt)} ms): ${shown}`,
  );
  // Once the heartbeat is stale, pings stop for good.
  const staleAt = report.wedgeAt + report.staleAfterMs;
  assert.ok(
    pings.every((t) => t <= staleAt + SLACK),
    `no ping after the loop wedged (stale at ${Math.round(staleAt)} ms): ${shown}`,
  );
  assert.ok(report.withheld >= 2, `pings withheld: ${report.withheld}`);
  assert.equal(pings.length, report.pings);

  assert.equal(texts.at(-1), "STOPPING=1\nSTATUS=SIGTERM: stopping", "STOPPING=1 last");
  assert.deepEqual(report.envAfter, {}, "NOTIFY_SOCKET and WATCHDOG_USEC unset for children");
}

Deno.test("sd_notify over a unix socket path: READY once, STATUS, gated WATCHDOG, STOPPING", async () => {
  await using dir = await tempDir("notify");
  checkScenario(await runPeer("scenario", `${dir.path}/notify.sock`) as ScenarioReport);
});

Deno.test("sd_notify over an abstract socket (@name): READY once, STATUS, gated WATCHDOG, STOPPING", async () => {
  const name = `@leaf-test-notify-${crypto.randomUUID()}`;
  checkScenario(await runPeer("scenario", name) as ScenarioReport);
});

Deno.test("createNotifier() without --unstable-net fails at start with what to do", async () => {
  await using dir = await tempDir("notify");
  const result = await runPeer("notifier", `${dir.path}/notify.sock`, { unstable: false }) as {
    error?: string;
    code?: string;
  };
  assert.equal(result.code, "systemd.notify_unavailable");
  assert.match(result.error!, /unstable unix datagram API/);
});
