/**
 * End to end over real TLS: a raw mqtt.js client that pins the test root
 * connects to `startGateway()` the way devices do.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/errors.ts";
import { parseDevicesYaml } from "../../lib/gateway/devices_file.ts";
import { readJsonLines, tempDir, waitFor } from "../_helpers.ts";
import {
  closed,
  connectDevice,
  connectWithKey,
  HUB,
  KEY_A,
  KEY_B,
  refusal,
  sasToken,
  startTestGateway,
  usernameFor,
} from "./_setup.ts";

Deno.test("startGateway() records telemetry from a valid SAS device in --out", async () => {
  await using dir = await tempDir("gw-out");
  const out = `${dir.path}/telemetry.jsonl`;
  await using gw = await startTestGateway({ outFile: out });
  await using client = await connectWithKey(gw.gateway);
  const bag = "%24.mid=m-1&%24.ct=application%2Fjson&%24.ce=utf-8&sensor=cpu%20temp";
  await client.publishAsync(
    `devices/dev-1/messages/events/${bag}`,
    JSON.stringify({ seq: 1, t: 21.5 }),
    { qos: 1 },
  );
  // The PUBACK came back, so the line must already be on disk.
  const [record] = await readJsonLines(out);
  assert.equal(record.deviceId, "dev-1");
  assert.deepEqual(record.properties, {
    "$.mid": "m-1",
    "$.ct": "application/json",
    "$.ce": "utf-8",
    sensor: "cpu temp",
  });
  assert.deepEqual(record.body, { seq: 1, t: 21.5 });
  assert.ok(!Number.isNaN(Date.parse(record.receivedAt as string)));
  await client.publishAsync("devices/dev-1/messages/events/", "not json", { qos: 1 });
  assert.equal((await readJsonLines(out))[1].body, "not json");
  assert.equal(gw.gateway.counts().received, 2);
  assert.ok(
    gw.lines.some((l) => /dev-1 mid=m-1 \{"seq":1,"t":21.5\}/.test(l)),
    gw.lines.join("\n"),
  );
});

Deno.test("startGateway() refuses a token signed with the wrong key", async () => {
  await using gw = await startTestGateway();
  const code = await refusal(connectWithKey(gw.gateway, "dev-1", KEY_B));
  assert.equal(code, 5);
  assert.ok(
    gw.lines.includes("refused dev-1: signature does not match the device key (CONNACK 5)"),
    gw.lines.join("\n"),
  );
  assert.ok(!gw.lines.join("\n").includes(KEY_B));
});

Deno.test("startGateway() refuses an expired token", async () => {
  await using gw = await startTestGateway();
  const password = await sasToken(`${HUB}/devices/dev-1`, KEY_A, -60);
  const code = await refusal(
    connectDevice({
      gateway: gw.gateway,
      clientId: "dev-1",
      username: usernameFor("dev-1"),
      password,
    }),
  );
  assert.equal(code, 5);
});

Deno.test("startGateway() refuses a token with another device's audience", async () => {
  await using gw = await startTestGateway({ devices: [`dev-1:${KEY_A}`, `dev-2:${KEY_A}`] });
  const password = await sasToken(`${HUB}/devices/dev-2`, KEY_A);
  const code = await refusal(
    connectDevice({
      gateway: gw.gateway,
      clientId: "dev-1",
      username: usernameFor("dev-1"),
      password,
    }),
  );
  assert.equal(code, 5);
});

Deno.test("startGateway() refuses MQTT 3.1 with CONNACK 1", async () => {
  await using gw = await startTestGateway();
  const code = await refusal(
    connectWithKey(gw.gateway, "dev-1", KEY_A, { protocolVersion: 3, protocolId: "MQIsdp" }),
  );
  assert.equal(code, 1);
  assert.ok(gw.lines.some((l) => l.endsWith("(CONNACK 1)")));
});

Deno.test("startGateway() refuses a username without api-version with CONNACK 3", async () => {
  await using gw = await startTestGateway();
  const code = await refusal(connectDevice({
    gateway: gw.gateway,
    clientId: "dev-1",
    username: `${HUB}/dev-1/`,
    password: await sasToken(`${HUB}/devices/dev-1`, KEY_A),
  }));
  assert.equal(code, 3);
});

Deno.test("startGateway() refuses a client id that is not the device", async () => {
  await using gw = await startTestGateway();
  const code = await refusal(connectDevice({
    gateway: gw.gateway,
    clientId: "someone-else",
    username: usernameFor("dev-1"),
    password: await sasToken(`${HUB}/devices/dev-1`, KEY_A),
  }));
  assert.equal(code, 5);
});

Deno.test("startGateway() refuses an unknown device", async () => {
  await using gw = await startTestGateway();
  assert.equal(await refusal(connectWithKey(gw.gateway, "ghost")), 5);
  assert.ok(gw.lines.some((l) => l.startsWith("refused ghost: unknown device")));
});

Deno.test("startGateway() closes a client that publishes to another device's topic", async () => {
  await using dir = await tempDir("gw-spoof");
  const out = `${dir.path}/telemetry.jsonl`;
  await using gw = await startTestGateway({
    outFile: out,
    devices: [`dev-1:${KEY_A}`, `dev-2:${KEY_A}`],
  });
  await using client = await connectWithKey(gw.gateway);
  const gone = closed(client);
  client.publish("devices/dev-2/messages/events/", "{}", { qos: 1 }, () => {});
  await gone;
  assert.deepEqual(await readJsonLines(out), []);
  assert.equal(gw.gateway.counts().received, 0);
  assert.ok(
    gw.lines.some((l) => /^closed dev-1: publish to "devices\/dev-2/.test(l)),
    gw.lines.join("\n"),
  );
});

Deno.test("startGateway() closes the connection when a 2-second token expires", async () => {
  await using gw = await startTestGateway();
  const started = Date.now();
  await using client = await connectDevice({
    gateway: gw.gateway,
    clientId: "dev-1",
    username: usernameFor("dev-1"),
    password: await sasToken(`${HUB}/devices/dev-1`, KEY_A, 2),
  });
  await closed(client);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 900 && elapsed < 4000, `closed after ${elapsed} ms`);
  assert.ok(gw.lines.includes("closed dev-1: its SAS token expired"), gw.lines.join("\n"));
  await waitFor(() => gw.gateway.connected().length === 0, { what: "session cleanup" });
});

Deno.test("startGateway() acknowledges, drops and counts an oversize message", async () => {
  await using dir = await tempDir("gw-big");
  const out = `${dir.path}/telemetry.jsonl`;
  await using gw = await startTestGateway({ outFile: out });
  await using client = await connectWithKey(gw.gateway);
  await client.publishAsync("devices/dev-1/messages/events/", "x".repeat(256 * 1024), { qos: 1 });
  await client.publishAsync("devices/dev-1/messages/events/bad=%E0%A4%A", "{}", { qos: 1 });
  await client.publishAsync("devices/dev-1/messages/events/", "{}", { qos: 1 });
  assert.equal((await readJsonLines(out)).length, 1);
  assert.deepEqual(gw.gateway.counts(), { received: 1, dropped: 2 });
  assert.equal(gw.lines.filter((l) => l.startsWith("DROPPED dev-1:")).length, 2);
  assert.equal(gw.gateway.devices().find((d) => d.id === "dev-1")?.dropped, 2);
  assert.ok(client.connected);
});

Deno.test("startGateway() processes a QoS 2 publish, then closes the connection", async () => {
  await using gw = await startTestGateway();
  await using client = await connectWithKey(gw.gateway);
  const gone = closed(client);
  client.publish("devices/dev-1/messages/events/", '{"q":2}', { qos: 2 }, () => {});
  await gone;
  assert.deepEqual(gw.gateway.telemetry().map((r) => r.body), [{ q: 2 }]);
});

Deno.test("startGateway() grants QoS 1 for QoS 2 requests and 128 for foreign filters", async () => {
  await using gw = await startTestGateway();
  await using client = await connectWithKey(gw.gateway);
  // mqtt.js rejects a SUBACK with any 128 but keeps the packet on the error.
  const error = await client.subscribeAsync({
    "$iothub/twin/res/#": { qos: 2 },
    "devices/dev-1/messages/devicebound/#": { qos: 0 },
    "devices/dev-2/messages/devicebound/#": { qos: 1 },
    "#": { qos: 1 },
  }).then(() => undefined, (e: Error & { packet?: { granted: number[] } }) => e);
  assert.deepEqual(error?.packet?.granted, [1, 0, 128, 128]);
  assert.deepEqual(await client.subscribeAsync("$iothub/methods/POST/#", { qos: 2 }), [
    { topic: "$iothub/methods/POST/#", qos: 1 },
  ]);
});

Deno.test("startGateway() records a module's telemetry with its module id", async () => {
  const KEY_M = btoa("leaf-test-module-key-m-000000000");
  const registry = parseDevicesYaml(
    `- id: dev-1\n  key: ${KEY_A}\n  modules: [{ id: mod-a, key: ${KEY_M} }]\n`,
    "test",
  );
  await using gw = await startTestGateway({ devices: registry });
  await using client = await connectWithKey(gw.gateway, "dev-1/mod-a", KEY_M);
  await client.publishAsync("devices/dev-1/modules/mod-a/messages/events/", '{"m":1}', { qos: 1 });
  assert.deepEqual(gw.gateway.telemetry().map((r) => [r.deviceId, r.moduleId, r.body]), [[
    "dev-1",
    "mod-a",
    { m: 1 },
  ]]);
  assert.deepEqual(gw.gateway.connected(), ["dev-1/mod-a"]);
});

Deno.test("startGateway() reports a port in use as a ConfigError and cleans up", async () => {
  await using first = await startTestGateway();
  await assert.rejects(
    startTestGateway({ port: first.gateway.port }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.oneLine(), /Cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\): .*--port 0/);
      return true;
    },
  );
});
