/**
 * Dead-link detection: a half-open TCP connection (no FIN, no RST, just
 * silence) is torn down by the keep-alive when idle, and by the PUBACK
 * deadline while sending — then the agent reconnects and nothing is lost.
 */
import assert from "node:assert/strict";
import { spawnLeaf, tempDir, waitFor } from "../_helpers.ts";
import { startProxy } from "../_proxy.ts";
import {
  assertNoGap,
  delivered,
  freePort,
  RestartableGateway,
  writeRunConfig,
} from "./_run_setup.ts";

async function configFor(dir: string, proxyPort: number, replace: [string, string][]) {
  const file = await writeRunConfig(dir, proxyPort);
  let text = await Deno.readTextFile(file);
  for (const [from, to] of replace) text = text.replace(from, to);
  await Deno.writeTextFile(file, text);
  return file;
}

Deno.test("leaf run tears down a silent idle link within 2 × keep-alive and reconnects", async () => {
  await using dir = await tempDir("run-halfopen-idle");
  const out = `${dir.path}/out.jsonl`;
  await using gw = new RestartableGateway(freePort(), out);
  await gw.start();
  await using proxy = startProxy(gw.port);
  const config = await configFor(dir.path, proxy.port, [
    ["  ackTimeout: 5s\n", "  ackTimeout: 5s\n  keepAlive: 5s\n"],
    ["  interval: 25ms\n", "  interval: 1h\n"],
  ]);
  await using agent = spawnLeaf(["run", "--config", config]);
  await waitFor(async () => (await delivered(out)).length >= 1, {
    timeoutMs: 15_000,
    what: "first message",
  });
  proxy.freeze();
  const frozenAt = performance.now();
  await waitFor(() => /connection to localhost:\d+ lost/.test(agent.stderr()), {
    timeoutMs: 20_000,
    what: "the agent to notice the dead link",
  });
  const detectedAfter = performance.now() - frozenAt;
  assert.ok(detectedAfter <= 2 * 5_000 + 1_500, `detected after ${Math.round(detectedAfter)} ms`);
  await waitFor(
    () =>
      proxy.accepted >= 2 && /connected to localhost/.test(agent.stderr().split("lost")[1] ?? ""),
    {
      timeoutMs: 10_000,
      what: "a new connection",
    },
  );
  assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());
});

Deno.test("leaf run tears down a silent link at the PUBACK deadline while sending and loses nothing", async () => {
  await using dir = await tempDir("run-halfopen-busy");
  const out = `${dir.path}/out.jsonl`;
  await using gw = new RestartableGateway(freePort(), out);
  await gw.start();
  await using proxy = startProxy(gw.port);
  const config = await configFor(dir.path, proxy.port, [[
    "  ackTimeout: 5s\n",
    "  ackTimeout: 2s\n",
  ]]);
  await using agent = spawnLeaf(["run", "--config", config]);
  await waitFor(async () => (await delivered(out)).length >= 40, {
    timeoutMs: 15_000,
    what: "40 messages",
  });
  proxy.freeze();
  const frozenAt = performance.now();
  await waitFor(() => /No PUBACK .* within 2 s/.test(agent.stderr()), {
    timeoutMs: 15_000,
    what: "PUBACK deadline",
  });
  assert.ok(performance.now() - frozenAt < 2_000 + 2_500);
  const before = (await delivered(out)).length;
  await waitFor(async () => (await delivered(out)).length > before + 40, {
    timeoutMs: 15_000,
    what: "delivery resumed",
  });
  assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());
  assertNoGap(await delivered(out));
});
