/**
 * `leaf run` against the real dev gateway over TLS, under the faults the
 * durable outbox exists for: gateway down at start, gateway restarts, kill -9
 * of the agent, SIGTERM. Every seq must arrive; duplicates only as the same
 * message (same `$.mid`).
 */
import assert from "node:assert/strict";
import { runLeaf, spawnLeaf, tempDir, waitFor } from "../_helpers.ts";
import {
  assertNoGap,
  delivered,
  freePort,
  RestartableGateway,
  writeRunConfig,
} from "./_run_setup.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("leaf run delivers every reading produced while the gateway was down at start", async () => {
  await using dir = await tempDir("run-down");
  const port = freePort();
  const out = `${dir.path}/out.jsonl`;
  const config = await writeRunConfig(dir.path, port);
  await using agent = spawnLeaf(["run", "--config", config]);
  await sleep(3_000); // ~120 readings queue up; the agent keeps retrying
  await using gw = new RestartableGateway(port, out);
  await gw.start();
  await waitFor(async () => (await delivered(out)).length >= 150, {
    timeoutMs: 20_000,
    what: "150 messages",
  });
  assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());
  const { max } = assertNoGap(await delivered(out));
  assert.ok(max >= 150, `max seq ${max}`);
  assert.match(
    agent.stderr(),
    /Cannot connect to "localhost:\d+": connection refused.*; retrying in/,
  );
  assert.match(agent.stderr(), /connected to localhost/);
});

Deno.test("leaf run loses nothing when the gateway is killed and restarted twice mid-stream", async () => {
  await using dir = await tempDir("run-restart");
  const port = freePort();
  const out = `${dir.path}/out.jsonl`;
  const config = await writeRunConfig(dir.path, port);
  await using gw = new RestartableGateway(port, out);
  await gw.start();
  await using agent = spawnLeaf(["run", "--config", config]);
  for (let i = 0; i < 2; i++) {
    await waitFor(async () => (await delivered(out)).length >= 40 * (i + 1), { timeoutMs: 15_000 });
    await gw.stop();
    await sleep(1_500);
    await gw.start();
    const upAt = performance.now();
    // The gateway says when the device is back; maxDelay is 1 s, so the next
    // attempt comes within about a second (plus a TLS handshake on a busy CI box).
    const reconnectMs = await new Promise<number>((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(Infinity);
      }, 15_000);
      const off = gw.gateway!.on((e) => {
        if (e.type === "connected") {
          off();
          clearTimeout(timer);
          resolve(performance.now() - upAt);
        }
      });
    });
    assert.ok(
      reconnectMs < 1_000 + 4_000,
      `reconnected ${reconnectMs} ms after the gateway came back\n${agent.stderr()}`,
    );
    const before = (await delivered(out)).length;
    await waitFor(async () => (await delivered(out)).length > before, {
      timeoutMs: 10_000,
      what: "delivery",
    });
  }
  await sleep(500);
  assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());
  const { max } = assertNoGap(await delivered(out));
  assert.ok(max >= 80);
  assert.match(agent.stderr(), /connection to localhost:\d+ lost/);
});

Deno.test("leaf run killed with SIGKILL 3 times leaves no seq gap at the gateway", async () => {
  await using dir = await tempDir("run-kill");
  const port = freePort();
  const out = `${dir.path}/out.jsonl`;
  const config = await writeRunConfig(dir.path, port);
  await using gw = new RestartableGateway(port, out);
  await gw.start();
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    const before = (await delivered(out)).length;
    const agent = spawnLeaf(["run", "--config", config]);
    // Kill while it is sending: after the first new delivery, at a random moment.
    await waitFor(async () => (await delivered(out)).length > before, {
      timeoutMs: 15_000,
      what: "sending",
    });
    const delay = Math.round(Math.random() * 1_000);
    delays.push(delay);
    await sleep(delay);
    await agent.stop("SIGKILL");
  }
  await using last = spawnLeaf(["run", "--config", config]);
  await sleep(2_000);
  assert.equal(await last.stop("SIGTERM"), 0, last.stderr());
  const records = await delivered(out);
  const { max, duplicates } = assertNoGap(records);
  assert.ok(max >= 100, `max seq ${max}`);
  // Only messages in flight at a kill may repeat: at most the window (32)
  // plus one uncommitted-ack interval per kill.
  assert.ok(
    duplicates <= 3 * 64,
    `duplicates ${duplicates} (kills ${delays.join(", ")} ms into sending)`,
  );
});

Deno.test("leaf run exits 0 on SIGTERM within the shutdown timeout and resumes without a gap", async () => {
  await using dir = await tempDir("run-term");
  const port = freePort();
  const out = `${dir.path}/out.jsonl`;
  const config = await writeRunConfig(dir.path, port, ["shutdownTimeout: 2s"]);
  await using gw = new RestartableGateway(port, out);
  await gw.start();
  const first = spawnLeaf(["run", "--config", config]);
  await waitFor(async () => (await delivered(out)).length >= 30, { timeoutMs: 15_000 });
  const t0 = performance.now();
  assert.equal(await first.stop("SIGTERM"), 0, first.stderr());
  assert.ok(performance.now() - t0 < 2_000 + 1_500, "stopped within the shutdown timeout");
  assert.match(first.stderr(), /SIGTERM: stopping/);
  const afterFirst = assertNoGap(await delivered(out)).max;
  await using second = spawnLeaf(["run", "--config", config]);
  await waitFor(async () => assertNoGap(await delivered(out)).max > afterFirst + 20, {
    timeoutMs: 15_000,
  });
  assert.equal(await second.stop("SIGTERM"), 0);
  assertNoGap(await delivered(out));
});

Deno.test("leaf run renews a 5 s SAS token at least 5 times in 30 s without a gap or an error", async () => {
  await using dir = await tempDir("run-renew");
  const port = freePort();
  const out = `${dir.path}/out.jsonl`;
  const config = await writeRunConfig(dir.path, port, ["auth:", "  tokenLifetime: 5s"]);
  await using gw = new RestartableGateway(port, out);
  await gw.start();
  await using agent = spawnLeaf(["run", "--config", config]);
  await sleep(30_000);
  assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());
  const renewals = agent.stderr().match(/renewing SAS token/g)?.length ?? 0;
  assert.ok(renewals >= 5, `renewals: ${renewals}\n${agent.stderr()}`);
  assert.doesNotMatch(agent.stderr(), / ERROR /);
  assert.doesNotMatch(agent.stderr(), /lost/, "no unplanned disconnect");
  const { max } = assertNoGap(await delivered(out));
  assert.ok(max >= 30_000 / 25 * 0.7, `max seq ${max}`);
});

Deno.test("leaf run drops the oldest when outbox.maxBytes is reached and keeps the count across restarts", async () => {
  await using dir = await tempDir("run-bound");
  const port = freePort(); // nothing listens: the gateway stays down
  const config = await writeRunConfig(dir.path, port);
  // outbox.maxBytes is set by rewriting the outbox block of the config.
  await Deno.writeTextFile(
    config,
    (await Deno.readTextFile(config)).replace("outbox:\n", "outbox:\n  maxBytes: 16KiB\n"),
  );
  const first = spawnLeaf(["run", "--config", config]);
  await sleep(4_000);
  assert.equal(await first.stop("SIGTERM"), 0, first.stderr());
  assert.match(first.stderr(), /dropp/i);
  const status = async () => {
    const r = await runLeaf(["outbox", "status", "--config", config, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as {
      dropped: number;
      bytes: number;
      depth: number;
      nextSeq: number;
    };
  };
  const s1 = await status();
  assert.ok(s1.dropped > 0, `dropped ${s1.dropped}`);
  // Nothing was delivered: every message made is either queued or counted as dropped.
  assert.equal(s1.dropped + s1.depth, s1.nextSeq - 1);
  assert.ok(s1.bytes <= 16 * 1024, `bytes ${s1.bytes}`);
  const second = spawnLeaf(["run", "--config", config]);
  await sleep(2_000);
  assert.equal(await second.stop("SIGTERM"), 0, second.stderr());
  const s2 = await status();
  assert.ok(s2.dropped > s1.dropped, "the dropped count persists and grows");
  assert.equal(s2.dropped + s2.depth, s2.nextSeq - 1);
});

Deno.test("leaf run moves a corrupt outbox aside, says so, and runs", async () => {
  await using dir = await tempDir("run-corrupt");
  const port = freePort();
  const out = `${dir.path}/out.jsonl`;
  const config = await writeRunConfig(dir.path, port);
  await Deno.mkdir(`${dir.path}/state`, { recursive: true });
  await Deno.writeFile(`${dir.path}/state/outbox.db`, crypto.getRandomValues(new Uint8Array(8192)));
  await using gw = new RestartableGateway(port, out);
  await gw.start();
  await using agent = spawnLeaf(["run", "--config", config]);
  await waitFor(async () => (await delivered(out)).length >= 10, { timeoutMs: 15_000 });
  assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());
  assert.match(agent.stderr(), /outbox\.db\.corrupt-/);
  const moved = [...Deno.readDirSync(`${dir.path}/state`)].filter((e) =>
    e.name.startsWith("outbox.db.corrupt-")
  );
  assert.equal(moved.length, 1);
  assertNoGap(await delivered(out));
});
