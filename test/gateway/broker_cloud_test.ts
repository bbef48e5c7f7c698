/**
 * Twins, direct methods, C2D and the admin API, end to end over real TLS.
 */
import assert from "node:assert/strict";
import { tempDir, waitFor } from "../_helpers.ts";
import { admin, closed, connectWithKey, KEY_A, nextMessage, startTestGateway } from "./_setup.ts";

const SUBSCRIPTIONS = [
  "$iothub/twin/res/#",
  "$iothub/twin/PATCH/properties/desired/#",
  "$iothub/methods/POST/#",
  "devices/dev-1/messages/devicebound/#",
];

Deno.test("startGateway() serves twin GET, reported PATCH and desired pushes", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  await using client = await connectWithKey(gw.gateway);
  await client.subscribeAsync(SUBSCRIPTIONS, { qos: 1 });

  let response = nextMessage(client, "$iothub/twin/res/");
  await client.publishAsync("$iothub/twin/GET/?$rid=1", "", { qos: 0 });
  assert.deepEqual(await response, {
    topic: "$iothub/twin/res/200/?$rid=1",
    payload: JSON.stringify({ desired: { $version: 1 }, reported: { $version: 1 } }),
  });

  response = nextMessage(client, "$iothub/twin/res/");
  await client.publishAsync(
    "$iothub/twin/PATCH/properties/reported/?$rid=2",
    JSON.stringify({ fw: "1.0", ip: "10.0.0.5" }),
    { qos: 1 },
  );
  assert.equal((await response).topic, "$iothub/twin/res/204/?$rid=2&$version=2");
  response = nextMessage(client, "$iothub/twin/res/");
  await client.publishAsync(
    "$iothub/twin/PATCH/properties/reported/?$rid=3",
    JSON.stringify({ ip: null }),
    { qos: 1 },
  );
  assert.equal((await response).topic, "$iothub/twin/res/204/?$rid=3&$version=3");

  response = nextMessage(client, "$iothub/twin/res/");
  await client.publishAsync(
    "$iothub/twin/PATCH/properties/reported/?$rid=4",
    JSON.stringify({ big: "x".repeat(40_000) }),
    { qos: 1 },
  );
  assert.equal((await response).topic, "$iothub/twin/res/400/?$rid=4");

  const desired = nextMessage(client, "$iothub/twin/PATCH/properties/desired/");
  const patched = await admin(gw.gateway, "PATCH", "/twins/dev-1?api-version=2021-04-12", {
    properties: { desired: { interval: 5 } },
  });
  assert.equal(patched.status, 200);
  assert.deepEqual(await desired, {
    topic: "$iothub/twin/PATCH/properties/desired/?$version=2",
    payload: JSON.stringify({ interval: 5, $version: 2 }),
  });

  const twin = await admin(gw.gateway, "GET", "/twins/dev-1");
  assert.equal(twin.status, 200);
  assert.equal(twin.body.deviceId, "dev-1");
  assert.deepEqual(twin.body.properties, {
    desired: { interval: 5, $version: 2 },
    reported: { fw: "1.0", $version: 3 },
  });
  assert.equal((await admin(gw.gateway, "GET", "/twins/ghost")).status, 404);
  assert.equal((await admin(gw.gateway, "PATCH", "/twins/dev-1", { desired: {} })).status, 400);
});

Deno.test("startGateway() keeps twins in --state across restarts", async () => {
  await using state = await tempDir("gw-state");
  {
    await using gw = await startTestGateway({ adminPort: 0, stateDir: state.path });
    await admin(gw.gateway, "PATCH", "/twins/dev-1", { properties: { desired: { mode: "eco" } } });
  }
  await using gw = await startTestGateway({ adminPort: 0, stateDir: state.path });
  const twin = await admin(gw.gateway, "GET", "/twins/dev-1");
  assert.deepEqual(twin.body.properties.desired, { mode: "eco", $version: 2 });
});

Deno.test("startGateway() round-trips a direct method through the admin API", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  await using client = await connectWithKey(gw.gateway);
  await client.subscribeAsync(SUBSCRIPTIONS, { qos: 1 });
  client.on("message", (topic, payload) => {
    const m = /^\$iothub\/methods\/POST\/([^/]+)\/\?\$rid=(.+)$/.exec(topic);
    if (!m) return;
    const request = JSON.parse(new TextDecoder().decode(payload));
    client.publish(
      `$iothub/methods/res/201/?$rid=${m[2]}`,
      JSON.stringify({ method: m[1], echo: request }),
    );
  });
  const result = await admin(gw.gateway, "POST", "/twins/dev-1/methods?api-version=2021-04-12", {
    methodName: "reboot",
    payload: { delay: 3 },
    responseTimeoutInSeconds: 10,
  });
  assert.deepEqual(result, {
    status: 200,
    body: { status: 201, payload: { method: "reboot", echo: { delay: 3 } } },
  });
});

Deno.test("startGateway() answers 404103 for a method on an offline device and 504 on timeout", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  const offline = await admin(gw.gateway, "POST", "/twins/dev-1/methods", { methodName: "ping" });
  assert.deepEqual(offline, {
    status: 404,
    body: { errorCode: 404103, message: "device is not online" },
  });
  await using client = await connectWithKey(gw.gateway);
  await client.subscribeAsync("$iothub/methods/POST/#", { qos: 0 });
  const silent = await admin(gw.gateway, "POST", "/twins/dev-1/methods", {
    methodName: "ping",
    responseTimeoutInSeconds: 1,
  });
  assert.equal(silent.status, 504);
  assert.equal(silent.body.errorCode, 504101);
  const bad = await admin(gw.gateway, "POST", "/twins/dev-1/methods", { methodName: "a/b" });
  assert.equal(bad.status, 400);
});

Deno.test("startGateway() queues C2D for an offline device and delivers it on subscribe", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  const queued = await admin(
    gw.gateway,
    "POST",
    "/devices/dev-1/messages/deviceBound?api-version=2021-04-12",
    {
      body: { command: "blink" },
      properties: { priority: "high" },
    },
  );
  assert.equal(queued.status, 200);
  const raw = await admin(gw.gateway, "POST", "/devices/dev-1/messages/deviceBound", "plain text");
  assert.equal(raw.status, 200);
  assert.equal(gw.gateway.devices().find((d) => d.id === "dev-1")?.c2dPending, 2);

  await using client = await connectWithKey(gw.gateway);
  const received: { topic: string; payload: string }[] = [];
  client.on(
    "message",
    (topic, payload) => received.push({ topic, payload: new TextDecoder().decode(payload) }),
  );
  await client.subscribeAsync("devices/dev-1/messages/devicebound/#", { qos: 1 });
  await waitFor(() => received.length === 2, { what: "two C2D messages" });
  const [first, second] = received;
  assert.equal(first.payload, JSON.stringify({ command: "blink" }));
  assert.match(
    first.topic,
    /^devices\/dev-1\/messages\/devicebound\/%24\.mid=[^&]+&%24\.to=%2Fdevices%2Fdev-1%2Fmessages%2FdeviceBound&priority=high$/,
  );
  assert.ok(first.topic.includes(queued.body.messageId));
  assert.equal(second.payload, "plain text");
  await waitFor(() => gw.gateway.devices().find((d) => d.id === "dev-1")?.c2dPending === 0, {
    what: "C2D acknowledged",
  });
  assert.equal(
    (await admin(gw.gateway, "POST", "/devices/ghost/messages/deviceBound", "x")).status,
    404,
  );
});

Deno.test("startGateway() admin API lists devices, recent telemetry and the live page", async () => {
  await using gw = await startTestGateway({
    adminPort: 0,
    devices: [`dev-1:${KEY_A}`, `dev-2:${KEY_A}`],
  });
  await using client = await connectWithKey(gw.gateway);
  await client.publishAsync("devices/dev-1/messages/events/%24.mid=a", '{"n":1}', { qos: 1 });
  await client.publishAsync("devices/dev-1/messages/events/%24.mid=b", '{"n":2}', { qos: 1 });
  const devices = await admin(gw.gateway, "GET", "/devices");
  assert.deepEqual(
    devices.body.map((
      d: { id: string; connected: boolean; received: number },
    ) => [d.id, d.connected, d.received]),
    [
      ["dev-1", true, 2],
      ["dev-2", false, 0],
    ],
  );
  const all = await admin(gw.gateway, "GET", "/telemetry");
  assert.equal(all.body.last, 2);
  assert.deepEqual(all.body.messages.map((m: { seq: number }) => m.seq), [1, 2]);
  const later = await admin(gw.gateway, "GET", "/telemetry?since=1");
  assert.deepEqual(later.body.messages.map((m: { body: unknown }) => m.body), [{ n: 2 }]);
  const page = await fetch(`http://127.0.0.1:${gw.gateway.adminPort}/`);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  assert.match(await page.text(), /leaf dev gateway/);
  assert.equal((await admin(gw.gateway, "GET", "/nope")).status, 404);
});

Deno.test("startGateway() disconnects a device and simulates outages on request", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  const first = await connectWithKey(gw.gateway);
  const gone = closed(first);
  assert.deepEqual(await admin(gw.gateway, "POST", "/devices/dev-1/disconnect"), {
    status: 200,
    body: { closed: 1 },
  });
  await gone;
  await first.endAsync(true);

  const second = await connectWithKey(gw.gateway);
  const dropped = closed(second);
  assert.equal((await admin(gw.gateway, "POST", "/outage", { mode: "drop" })).status, 200);
  await dropped;
  await second.endAsync(true);
  await assert.rejects(connectWithKey(gw.gateway, "dev-1", KEY_A, { connectTimeout: 2000 }));

  gw.gateway.setOutage("no-connack");
  await assert.rejects(connectWithKey(gw.gateway, "dev-1", KEY_A, { connectTimeout: 500 }));
  gw.gateway.setOutage(null);
  await using third = await connectWithKey(gw.gateway);
  assert.ok(third.connected);
});
