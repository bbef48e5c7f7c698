/**
 * `leaf run` under a pretend systemd: NOTIFY_SOCKET names a real unix
 * datagram socket (bound by a child process), WATCHDOG_USEC asks for pings.
 * `deno run main.ts` has the unix datagram API through deno.json's
 * `"unstable": ["net"]`.
 */
import assert from "node:assert/strict";
import { spawnLeaf, tempDir, waitFor } from "../_helpers.ts";
import { freePort, writeRunConfig } from "../e2e/_run_setup.ts";
import { startNotifyListener } from "./_listener.ts";

/** Timer and scheduling slack for a loaded CI machine, ms. */
const SLACK = 100;

const pingTimes = (l: { with(line: string): { t: number }[] }) =>
  l.with("WATCHDOG=1").map((m) => m.t);

Deno.test({
  name:
    "leaf run: READY=1 with the gateway down, STATUS=, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 on SIGTERM",
  async fn() {
    await using dir = await tempDir("run-notify");
    await using listener = await startNotifyListener(`${dir.path}/notify.sock`);
    const config = await writeRunConfig(dir.path, freePort()); // nothing listens there
    await using leaf = spawnLeaf(["run", "--config", config], {
      allowNet: "all",
      env: { NOTIFY_SOCKET: `${dir.path}/notify.sock`, WATCHDOG_USEC: "1000000" },
    });
    await waitFor(() => listener.with("READY=1").length > 0, {
      timeoutMs: 20_000,
      what: `READY=1 (stderr: ${leaf.stderr()})`,
    });
    const readyAt = listener.with("READY=1")[0].t;
    await waitFor(() => listener.messages().some((m) => m.t > readyAt + 3_000), {
      timeoutMs: 10_000,
      what: "3 s of notifications after READY=1",
    });
    assert.equal(await leaf.stop("SIGTERM"), 0, leaf.stderr());
    await waitFor(() => listener.with("STOPPING=1").length > 0, { what: "STOPPING=1" });

    const messages = listener.messages();
    assert.equal(listener.with("READY=1").length, 1, "READY=1 once");
    assert.ok(messages[0].text.split("\n").includes("READY=1"), "READY=1 first");
    assert.ok(
      messages.some((m) => /^STATUS=.*queued=\d+/m.test(m.text)),
      `a STATUS= status line: ${JSON.stringify(messages.map((m) => m.text))}`,
    );
    const pings = pingTimes(listener);
    const shown = pings.map(Math.round).join(", ");
    assert.ok(pings.length >= 5, `pings: ${shown}`);
    // Every WATCHDOG_USEC/2 = 500 ms; never a gap that lets systemd's watchdog fire.
    const gaps = pings.slice(1).map((t, i) => t - pings[i]).sort((a, b) => a - b);
    assert.ok(gaps.every((g) => g < 1_000), `a gap reached WATCHDOG_USEC: ${shown}`);
    const median = gaps[Math.floor(gaps.length / 2)];
    assert.ok(median >= 450 && median <= 500 + SLACK, `median gap ${median} ms: ${shown}`);
    assert.ok(messages.at(-1)!.text.split("\n").includes("STOPPING=1"), "STOPPING=1 last");
  },
});

Deno.test({
  name: "leaf run: WATCHDOG=1 stops when the agent loop wedges (LEAF_TEST_WEDGE_LOOP_AFTER)",
  async fn() {
    await using dir = await tempDir("run-wedge");
    await using listener = await startNotifyListener(`@leaf-test-${crypto.randomUUID()}`);
    const config = await writeRunConfig(dir.path, freePort());
    await using leaf = spawnLeaf(["run", "--config", config], {
      allowNet: "all",
      env: {
        NOTIFY_SOCKET: listener.address,
        WATCHDOG_USEC: "600000",
        LEAF_TEST_WEDGE_LOOP_AFTER: "1500",
      },
    });
    await waitFor(() => listener.with("READY=1").length > 0, {
      timeoutMs: 20_000,
      what: `READY=1 (stderr: ${leaf.stderr()})`,
    });
    await waitFor(() => leaf.stderr().includes("agent loop is not ticking"), {
      timeoutMs: 15_000,
      what: "the watchdog to notice the wedged loop",
    });
    const before = pingTimes(listener).length;
    assert.ok(before >= 3, `pings before the wedge: ${before}`);
    await new Promise((r) => setTimeout(r, 1_500)); // 5 ping periods
    assert.equal(pingTimes(listener).length, before, "no WATCHDOG=1 once the loop is wedged");
    assert.equal(await leaf.stop("SIGTERM"), 0, leaf.stderr());
  },
});
