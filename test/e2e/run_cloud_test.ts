/**
 * The agent answers the cloud through the dev gateway: device twin (reported
 * properties, a desired telemetry interval), direct methods and
 * cloud-to-device messages — while telemetry keeps flowing.
 */
import assert from "node:assert/strict";
import { VERSION } from "../../lib/version.ts";
import { spawnLeaf, tempDir, waitFor } from "../_helpers.ts";
import { admin } from "../gateway/_setup.ts";
import { delivered, freePort, RestartableGateway, writeRunConfig } from "./_run_setup.ts";

Deno.test("leaf run reports its twin, applies a desired interval, answers methods and logs C2D", async () => {
  await using dir = await tempDir("run-cloud");
  const out = `${dir.path}/out.jsonl`;
  await using gw = new RestartableGateway(freePort(), out, { adminPort: 0 });
  await gw.start();
  const config = await writeRunConfig(dir.path, gw.port);
  await using agent = spawnLeaf(["run", "--config", config]);
  const gateway = gw.gateway!;

  const reported = async () =>
    (await admin(gateway, "GET", "/twins/dev-1")).body.properties.reported;
  await waitFor(async () => (await reported()).leaf?.version === VERSION, {
    timeoutMs: 15_000,
    what: "reported",
  });
  assert.equal((await reported()).telemetryInterval, "25ms");

  const patched = await admin(gateway, "PATCH", "/twins/dev-1", {
    properties: { desired: { telemetryInterval: "1s" } },
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  await waitFor(async () => (await reported()).telemetryInterval === "1s", {
    timeoutMs: 10_000,
    what: "1s applied",
  });
  assert.ok((await reported()).desiredVersion >= 2);
  // Let what was queued at the old 25 ms interval drain, then count.
  await new Promise((r) => setTimeout(r, 1_000));
  const before = (await delivered(out)).length;
  await new Promise((r) => setTimeout(r, 3_000));
  const during = (await delivered(out)).length - before;
  assert.ok(
    during >= 1 && during <= 5,
    `${during} messages in 3 s at a 1 s interval (40 ms before)`,
  );

  const ping = await admin(gateway, "POST", "/twins/dev-1/methods", {
    methodName: "ping",
    payload: {},
    responseTimeoutInSeconds: 10,
  });
  assert.equal(ping.status, 200, JSON.stringify(ping.body));
  assert.equal(ping.body.status, 200);
  assert.equal(ping.body.payload.pong, true);
  const status = await admin(gateway, "POST", "/twins/dev-1/methods", {
    methodName: "getStatus",
    responseTimeoutInSeconds: 10,
  });
  assert.equal(status.body.status, 200);
  assert.equal(status.body.payload.connected, true);
  const unknown = await admin(gateway, "POST", "/twins/dev-1/methods", {
    methodName: "reboot",
    responseTimeoutInSeconds: 10,
  });
  assert.equal(unknown.body.status, 404);

  const c2d = await admin(gateway, "POST", "/devices/dev-1/messages/deviceBound", {
    body: { command: "blink" },
    properties: { urgency: "low" },
  });
  assert.ok(c2d.status < 300, JSON.stringify(c2d.body));
  await waitFor(() => /cloud-to-device message .*blink/.test(agent.stderr()), {
    timeoutMs: 10_000,
    what: "C2D",
  });

  assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());
  assert.doesNotMatch(agent.stderr(), / ERROR /);
});
