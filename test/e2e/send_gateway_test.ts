/**
 * `leaf send` through the real dev gateway over TLS: delivery in order with
 * decoded properties, and refused credentials (exit 4) without leaking them.
 */
import assert from "node:assert/strict";
import { readJsonLines, runLeaf, tempDir } from "../_helpers.ts";
import { HUB, KEY_A, KEY_B, startTestGateway, testChainDir } from "../gateway/_setup.ts";

const csFor = (port: number, key = KEY_A, extra = "") =>
  `HostName=${HUB};DeviceId=dev-1${extra};SharedAccessKey=${key};GatewayHostName=localhost:${port}`;

Deno.test("leaf send --count 50 delivers all 50 to leaf gateway, in order, with their properties", async () => {
  await using dir = await tempDir("send-gw");
  const out = `${dir.path}/telemetry.jsonl`;
  await using gw = await startTestGateway({ outFile: out });
  const certs = await testChainDir();
  const result = await runLeaf([
    "send",
    "--connection-string",
    csFor(gw.gateway.port),
    "--ca",
    `${certs}/certs/azure-iot-test-only.root.ca.cert.pem`,
    "--count",
    "50",
    "--property",
    "site=lab 1",
  ]);
  assert.equal(result.code, 0, result.stderr);
  const records = await readJsonLines<{
    deviceId: string;
    properties: Record<string, string>;
    body: { seq: number; deviceId: string; readings: { unit: string }[] };
  }>(out);
  assert.equal(records.length, 50);
  assert.deepEqual(records.map((r) => r.body.seq), Array.from({ length: 50 }, (_, i) => i + 1));
  for (const r of records) {
    assert.equal(r.deviceId, "dev-1");
    assert.equal(r.properties["$.ct"], "application/json");
    assert.equal(r.properties["$.ce"], "utf-8");
    assert.ok(r.properties["$.mid"]);
    assert.ok(r.properties["$.ctime"]);
    assert.equal(r.properties.site, "lab 1");
    assert.deepEqual(r.body.readings.map((x) => x.unit), ["°C", "%RH", "hPa"]);
  }
  assert.equal(new Set(records.map((r) => r.properties["$.mid"])).size, 50);
});

Deno.test("leaf send exits 4 with the parent/child hint when the gateway refuses the key", async () => {
  await using gw = await startTestGateway();
  const certs = await testChainDir();
  const result = await runLeaf([
    "send",
    "--connection-string",
    csFor(gw.gateway.port, KEY_B),
    "--ca",
    `${certs}/certs/azure-iot-test-only.root.ca.cert.pem`,
  ]);
  assert.equal(result.code, 4, result.stderr);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /CONNACK 5: not authorized.*registered and a child of the gateway/);
  assert.ok(!(result.stdout + result.stderr).includes(KEY_B));
  assert.doesNotMatch(result.stdout + result.stderr, /SharedAccessSignature/);
  assert.ok(gw.gateway.telemetry().length === 0);
});

Deno.test("leaf send exits 4 for an expired SharedAccessSignature without dialling", async () => {
  const certs = await testChainDir();
  const token = "SharedAccessSignature sr=hub%2Fdevices%2Fdev-1&sig=abc%3D&se=1000000000";
  const result = await runLeaf([
    "send",
    "--connection-string",
    `HostName=${HUB};DeviceId=dev-1;SharedAccessSignature=${token};GatewayHostName=localhost:1`,
    "--ca",
    `${certs}/certs/azure-iot-test-only.root.ca.cert.pem`,
  ]);
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /SharedAccessSignature expired at 2001-09-09/);
  assert.ok(!result.stderr.includes("sig=abc"));
});

Deno.test("leaf send exits 2 for a SharedAccessSignature that is not a SAS token", async () => {
  const certs = await testChainDir();
  const result = await runLeaf([
    "send",
    "--connection-string",
    `HostName=${HUB};DeviceId=dev-1;SharedAccessSignature=SharedAccessSignature garbage;GatewayHostName=localhost:1`,
    "--ca",
    `${certs}/certs/azure-iot-test-only.root.ca.cert.pem`,
  ]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /SharedAccessSignature is not a valid SAS token/);
});
