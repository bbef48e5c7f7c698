/**
 * Conformance with the official Azure IoT Node SDK (azure-iot-device 1.18.4,
 * azure-iot-device-mqtt 1.16.4), without a network: the SDK's `Mqtt`
 * transport takes its MQTT client as the second constructor argument, so a
 * fake `MqttBase` records what the SDK would put on the wire (CONNECT
 * options, PUBLISH and SUBSCRIBE topics) and delivers "gateway" messages that
 * leaf's builders made.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";
import { endpoint } from "azure-iot-common";
import { Message, SharedAccessKeyAuthenticationProvider } from "azure-iot-device";
import { Mqtt } from "azure-iot-device-mqtt";
import {
  clientIdOf,
  type ConnectionString,
  parseConnectionString,
} from "../../lib/iothub/connection_string.ts";
import { encodePropertyBag, type SystemProperties } from "../../lib/iothub/properties.ts";
import { createSasToken, parseSasToken, sasResourceUri } from "../../lib/iothub/sas.ts";
import {
  c2dFilter,
  c2dTopic,
  type Identity,
  methodRequestTopic,
  methodResponseTopic,
  METHODS_FILTER,
  parseDeviceTopic,
  telemetryTopic,
  TWIN_DESIRED_FILTER,
  TWIN_RESPONSE_FILTER,
  twinDesiredTopic,
  twinGetTopic,
  twinReportedTopic,
  twinResponseTopic,
} from "../../lib/iothub/topics.ts";
import { API_VERSION, buildUsername, parseUsername } from "../../lib/iothub/username.ts";

const KEY = btoa("leaf-test-key-do-not-leak-012345");
const HUB = "hub.azure-devices.net";
const GATEWAY = "edge-01.local";

const DEVICE_CS =
  `HostName=${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=${GATEWAY}`;
const MODULE_CS =
  `HostName=${HUB};DeviceId=pi-01;ModuleId=sensors;SharedAccessKey=${KEY};GatewayHostName=${GATEWAY}`;
/** Every character IoT Hub allows in ids except the MQTT wildcards `#` and `+`. */
const ODD_ID = "a-.%_*?!(),:=@$'Z9";
const ODD_CS =
  `HostName=${HUB};DeviceId=${ODD_ID};ModuleId=m*(1)!;SharedAccessKey=${KEY};GatewayHostName=${GATEWAY}`;

/** Custom properties with spaces, non-ASCII and every character that needs care. */
const CUSTOM: Record<string, string> = {
  "sensor name": "cpu temp",
  "température": "21.5 °C",
  "日本語": "値",
  "a&b": "c=d",
  path: "/sys/class/thermal/thermal_zone0/temp",
  pct: "100%",
  marks: "!'()*~-_.",
  plus: "a+b",
  query: "?x#y[z]@:,;",
  emoji: "😀 ✓",
  "$": "dollar",
  empty: "",
};

// ---------------------------------------------------------------- the seam

/** The options the SDK hands its MQTT client on connect. */
interface SdkConnectConfig {
  uri: string;
  username: string;
  clientId: string;
  sharedAccessSignature?: string;
  x509?: unknown;
}

type Done = (err?: Error | null, result?: unknown) => void;

/** Stands in for azure-iot-mqtt-base's `MqttBase`: records, never dials. */
class FakeMqttBase extends EventEmitter {
  connects: SdkConnectConfig[] = [];
  publishes: { topic: string; payload: string; qos: number }[] = [];
  subscribes: { topic: string; qos: number }[] = [];

  connect(config: SdkConnectConfig, done: Done) {
    this.connects.push(config);
    queueMicrotask(() => done(null, { cmd: "connack", returnCode: 0 }));
  }
  publish(topic: string, payload: unknown, options: { qos: number }, done: Done) {
    this.publishes.push({ topic, payload: String(payload), qos: options.qos });
    queueMicrotask(() => done(null, { cmd: "puback" }));
  }
  subscribe(topic: string, options: { qos: number }, done: Done) {
    this.subscribes.push({ topic, qos: options.qos });
    queueMicrotask(() => done(null, [{ topic, qos: options.qos }]));
  }
  unsubscribe(_topic: string, done: Done) {
    queueMicrotask(() => done(null));
  }
  disconnect(done: Done) {
    queueMicrotask(() => done(null));
  }
  updateSharedAccessSignature(_token: string, done: Done) {
    queueMicrotask(() => done(null));
  }
  setOptions(_options: unknown, done?: Done) {
    done?.(null);
  }
  /** A message from the "gateway", as mqtt.js would emit it. */
  deliver(topic: string, payload: string) {
    this.emit("message", topic, Buffer.from(payload));
  }
}

/** The parts of the SDK transport these tests drive (its public methods, loosely typed). */
interface SdkTransport extends EventEmitter {
  connect(done: Done): void;
  disconnect(done: Done): void;
  sendEvent(message: Message, done: Done): void;
  getTwin(done: Done): void;
  updateTwinReportedProperties(patch: unknown, done: Done): void;
  enableC2D(done: Done): void;
  enableMethods(done: Done): void;
  enableTwinDesiredPropertiesUpdates(done: Done): void;
  onDeviceMethod(name: string, handler: (request: { requestId: string }) => void): void;
  sendMethodResponse(
    response: { status: number; requestId: string; payload: unknown },
    done: Done,
  ): void;
}

function call<T = unknown>(fn: (done: Done) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    fn((err, result) => err ? reject(err) : resolve(result as T))
  );
}

/** Runs `body` with the SDK's real MQTT transport and SAS provider over a fake MQTT client. */
async function withSdk(
  connectionString: string,
  body: (sdk: SdkTransport, wire: FakeMqttBase) => Promise<void>,
): Promise<void> {
  const auth = SharedAccessKeyAuthenticationProvider.fromConnectionString(connectionString);
  const wire = new FakeMqttBase();
  const sdk = new Mqtt(auth, wire) as unknown as SdkTransport;
  try {
    await body(sdk, wire);
  } finally {
    await call((done) => sdk.disconnect(done));
    auth.stop(); // its token renewal timer
  }
}

/** What the SDK publishes for `message` over `connectionString`. */
async function sdkEventTopic(connectionString: string, message: Message): Promise<string> {
  let topic = "";
  await withSdk(connectionString, async (sdk, wire) => {
    await call((done) => sdk.sendEvent(message, done));
    assert.equal(wire.publishes.length, 1);
    assert.equal(wire.publishes[0].qos, 1, "telemetry is QoS 1");
    topic = wire.publishes[0].topic;
  });
  return topic;
}

function sdkMessage(system: SystemProperties, custom: Record<string, string>): Message {
  const message = new Message(JSON.stringify({ seq: 1 }));
  if (system.messageId !== undefined) message.messageId = system.messageId;
  if (system.correlationId !== undefined) message.correlationId = system.correlationId;
  if (system.userId !== undefined) message.userId = system.userId;
  if (system.to !== undefined) message.to = system.to;
  // The SDK's types allow only "application/json" and utf-*; its code takes any string.
  const loose = message as unknown as { contentType?: string; contentEncoding?: string };
  if (system.contentType !== undefined) loose.contentType = system.contentType;
  if (system.contentEncoding !== undefined) loose.contentEncoding = system.contentEncoding;
  if (system.expiryTime !== undefined) message.expiryTimeUtc = new Date(system.expiryTime);
  for (const [k, v] of Object.entries(custom)) assert.ok(message.properties.add(k, v), k);
  return message;
}

function identityOf(cs: ConnectionString): Identity {
  return { deviceId: cs.deviceId, ...(cs.moduleId ? { moduleId: cs.moduleId } : {}) };
}

// ---------------------------------------------------------------- telemetry topic

interface TopicCase {
  name: string;
  connectionString: string;
  system: SystemProperties;
  custom: Record<string, string>;
}

const TELEMETRY: TopicCase[] = [
  {
    name: "a device message with id, JSON content type, utf-8 and awkward custom properties",
    connectionString: DEVICE_CS,
    system: {
      messageId: "leaf-pi-01-42",
      contentType: "application/json",
      contentEncoding: "utf-8",
    },
    custom: CUSTOM,
  },
  {
    name: "a module message (sendEvent, not sendOutputEvent)",
    connectionString: MODULE_CS,
    system: {
      messageId: "leaf-pi-01-43",
      contentType: "application/json",
      contentEncoding: "utf-8",
    },
    custom: CUSTOM,
  },
  {
    name: "a message id that needs encoding",
    connectionString: DEVICE_CS,
    system: {
      messageId: "m 1/ü&x=y%",
      contentType: "application/json",
      contentEncoding: "utf-8",
    },
    custom: { seq: "42" },
  },
  {
    name: "every system property the SDK writes",
    connectionString: DEVICE_CS,
    system: {
      messageId: "m1",
      correlationId: "corr 1",
      userId: "user/1",
      to: "/devices/pi-01/messages/events",
      contentType: "application/json; charset=utf-8",
      contentEncoding: "utf-8",
      expiryTime: "2030-01-02T03:04:05.678Z",
    },
    custom: { a: "1" },
  },
  {
    name: "ids with every legal special character",
    connectionString: ODD_CS,
    system: { messageId: "m1", contentType: "application/json", contentEncoding: "utf-8" },
    custom: { "k k": "v v" },
  },
  {
    name: "only custom properties",
    connectionString: DEVICE_CS,
    system: {},
    custom: { "sensor name": "cpu temp" },
  },
  {
    name: "no properties at all",
    connectionString: DEVICE_CS,
    system: {},
    custom: {},
  },
];

for (const c of TELEMETRY) {
  Deno.test(`telemetryTopic() equals the SDK's sendEvent topic for ${c.name}`, async () => {
    const cs = parseConnectionString(c.connectionString);
    const theirs = await sdkEventTopic(c.connectionString, sdkMessage(c.system, c.custom));
    const ours = telemetryTopic(identityOf(cs), encodePropertyBag(c.system, c.custom));
    assert.equal(ours, theirs);
    assert.deepEqual(parseDeviceTopic(theirs), {
      kind: "telemetry",
      identity: identityOf(cs),
      bag: encodePropertyBag(c.system, c.custom),
    });
  });
}

Deno.test("telemetryTopic() matches the SDK example in FACTS.md", async () => {
  const system = { messageId: "m1", contentType: "application/json", contentEncoding: "utf-8" };
  const custom = { sensor: "cpu temp" };
  const expected =
    "devices/pi-01/messages/events/%24.mid=m1&%24.ct=application%2Fjson&%24.ce=utf-8&sensor=cpu%20temp";
  assert.equal(telemetryTopic({ deviceId: "pi-01" }, encodePropertyBag(system, custom)), expected);
  assert.equal(await sdkEventTopic(DEVICE_CS, sdkMessage(system, custom)), expected);
});

// A known, deliberate difference: leaf has no dt-subject feature.
Deno.test("telemetryTopic() sends a 'dt-subject' property as written (the SDK rewrites it to $.sub)", async () => {
  const theirs = await sdkEventTopic(
    DEVICE_CS,
    sdkMessage({ messageId: "m1" }, { "dt-subject": "x" }),
  );
  assert.equal(theirs, "devices/pi-01/messages/events/%24.mid=m1&%24.sub=x");
  assert.equal(
    telemetryTopic(
      { deviceId: "pi-01" },
      encodePropertyBag({ messageId: "m1" }, { "dt-subject": "x" }),
    ),
    "devices/pi-01/messages/events/%24.mid=m1&dt-subject=x",
  );
});

// ---------------------------------------------------------------- CONNECT: username, client id, SAS

for (
  const [name, connectionString] of [["device", DEVICE_CS], ["module", MODULE_CS], [
    "odd-id module",
    ODD_CS,
  ]]
) {
  Deno.test(`buildUsername() and clientIdOf() equal the SDK's CONNECT for a ${name} identity`, async () => {
    const cs = parseConnectionString(connectionString);
    await withSdk(connectionString, async (sdk, wire) => {
      await call((done) => sdk.connect(done));
      assert.equal(wire.connects.length, 1);
      const config = wire.connects[0];

      assert.equal(config.clientId, clientIdOf(cs));
      assert.equal(config.uri, `mqtts://${cs.gatewayHostName}`, "dials the gateway");

      // Equal apart from the DeviceClientType value...
      const [theirPrefix, theirType] = config.username.split("&DeviceClientType=");
      const ours = buildUsername(cs.hostName, clientIdOf(cs), "leaf/0.1.0");
      assert.equal(theirPrefix, ours.split("&DeviceClientType=")[0]);
      assert.match(decodeURIComponent(theirType), /^azure-iot-device\/1\.18\.4 \(/);
      // ...and equal outright when given the SDK's own client type.
      assert.equal(
        buildUsername(cs.hostName, clientIdOf(cs), decodeURIComponent(theirType)),
        config.username,
      );

      const parsed = parseUsername(config.username);
      assert.ok(!("error" in parsed), JSON.stringify(parsed));
      assert.equal(parsed.host, HUB, "the hub, not the gateway, goes in the username");
      assert.equal(parsed.deviceId, cs.deviceId);
      assert.equal(parsed.moduleId, cs.moduleId);
      assert.equal(parsed.params["api-version"], API_VERSION);
    });
  });

  Deno.test(`createSasToken() equals the SAS token the SDK sends for a ${name} identity`, async () => {
    const cs = parseConnectionString(connectionString);
    await withSdk(connectionString, async (sdk, wire) => {
      await call((done) => sdk.connect(done));
      const theirs = wire.connects[0].sharedAccessSignature;
      assert.ok(theirs);
      const se = parseSasToken(theirs)?.se;
      assert.ok(se);
      const ours = await createSasToken({ resourceUri: sasResourceUri(cs), key: KEY, expiry: se });
      assert.equal(ours.reveal(), theirs);
      assert.equal(
        parseSasToken(theirs)?.sr,
        `${HUB}/devices/${clientIdOf(cs).replace("/", "/modules/")}`,
      );
    });
  });
}

Deno.test("API_VERSION equals the SDK's endpoint.apiVersion", () => {
  assert.equal(API_VERSION, endpoint.apiVersion);
  assert.equal(endpoint.versionQueryString(), `?api-version=${API_VERSION}`);
});

// ---------------------------------------------------------------- subscriptions, twin, methods

Deno.test("c2dFilter() and the twin/method filters equal what the SDK subscribes to", async () => {
  await withSdk(DEVICE_CS, async (sdk, wire) => {
    await call((done) => sdk.enableC2D(done));
    await call((done) => sdk.enableMethods(done));
    await call((done) => sdk.enableTwinDesiredPropertiesUpdates(done));
    assert.deepEqual(wire.subscribes, [
      { topic: c2dFilter({ deviceId: "pi-01" }), qos: 1 },
      { topic: METHODS_FILTER, qos: 0 },
      { topic: TWIN_DESIRED_FILTER, qos: 0 },
    ]);
  });
});

Deno.test("twinGetTopic() equals the SDK's, and the SDK accepts twinResponseTopic() with $version", async () => {
  await withSdk(DEVICE_CS, async (sdk, wire) => {
    const twin = { desired: { interval: "5s", $version: 3 }, reported: { $version: 1 } };
    const pending = call((done) => sdk.getTwin(done));
    const published = await waitForPublish(wire, 0);
    const request = parseDeviceTopic(published.topic);
    assert.equal(request.kind, "twin-get");
    assert.ok(request.kind === "twin-get");
    assert.equal(published.topic, twinGetTopic(request.rid));
    assert.deepEqual(wire.subscribes.map((s) => s.topic), [TWIN_RESPONSE_FILTER]);
    wire.deliver(twinResponseTopic(200, request.rid, 3), JSON.stringify(twin));
    assert.deepEqual(await pending, twin);
  });
});

Deno.test("twinReportedTopic() equals the SDK's, and the SDK accepts a 204 twinResponseTopic()", async () => {
  await withSdk(DEVICE_CS, async (sdk, wire) => {
    const patch = { firmware: "1.2.3", "température": 21.5 };
    const pending = call((done) => sdk.updateTwinReportedProperties(patch, done));
    const published = await waitForPublish(wire, 0);
    const request = parseDeviceTopic(published.topic);
    assert.ok(request.kind === "twin-reported", published.topic);
    assert.equal(published.topic, twinReportedTopic(request.rid));
    assert.deepEqual(JSON.parse(published.payload), patch);
    wire.deliver(twinResponseTopic(204, request.rid, 4), "");
    await pending;
  });
});

Deno.test("the SDK reads a desired-properties patch on twinDesiredTopic()", async () => {
  await withSdk(DEVICE_CS, async (sdk, wire) => {
    await call((done) => sdk.enableTwinDesiredPropertiesUpdates(done));
    const received = new Promise((resolve) => sdk.once("twinDesiredPropertiesUpdate", resolve));
    const patch = { telemetry: { interval: "5s" }, $version: 5 };
    wire.deliver(twinDesiredTopic(5), JSON.stringify(patch));
    assert.deepEqual(await received, patch);
  });
});

Deno.test("the SDK reads methodRequestTopic() and answers on methodResponseTopic()", async () => {
  await withSdk(DEVICE_CS, async (sdk, wire) => {
    await call((done) => sdk.enableMethods(done));
    const request = new Promise<{ requestId: string; methods: { methodName: string } }>((resolve) =>
      sdk.onDeviceMethod("reboot", resolve as (r: { requestId: string }) => void)
    );
    wire.deliver(methodRequestTopic("reboot", "7"), JSON.stringify({ delay: 1 }));
    const { requestId, methods } = await request;
    assert.equal(requestId, "7");
    assert.equal(methods.methodName, "reboot");
    await call((done) =>
      sdk.sendMethodResponse({ status: 200, requestId, payload: { ok: true } }, done)
    );
    const published = wire.publishes.at(-1)!;
    assert.equal(published.topic, methodResponseTopic(200, "7"));
    assert.deepEqual(parseDeviceTopic(published.topic), {
      kind: "method-response",
      status: 200,
      rid: "7",
    });
  });
});

Deno.test("the SDK reads system and custom properties of a c2dTopic() bag", async () => {
  await withSdk(DEVICE_CS, async (sdk, wire) => {
    await call((done) => sdk.enableC2D(done));
    const received = new Promise<Message>((resolve) => sdk.once("message", resolve));
    const custom = { "cmd name": "blink & beep", "x=y": "1/2", "température": "°C" };
    const bag = encodePropertyBag({
      messageId: "c2d 1/ü",
      correlationId: "corr&1",
      userId: "ops",
      contentType: "application/json",
      contentEncoding: "utf-8",
    }, custom);
    wire.deliver(c2dTopic({ deviceId: "pi-01" }, bag), JSON.stringify({ cmd: "blink" }));
    const message = await received;
    assert.equal(message.messageId, "c2d 1/ü");
    assert.equal(message.correlationId, "corr&1");
    assert.equal(message.userId, "ops");
    assert.equal(message.contentType, "application/json");
    assert.equal(message.contentEncoding, "utf-8");
    for (const [k, v] of Object.entries(custom)) assert.equal(message.properties.getValue(k), v, k);
    assert.equal(message.properties.count(), Object.keys(custom).length);
    assert.deepEqual(JSON.parse(String(message.getData())), { cmd: "blink" });
  });
});

/** Waits (a few microtask turns) until the fake client has seen publish number `index`. */
async function waitForPublish(wire: FakeMqttBase, index: number) {
  for (let i = 0; i < 100 && wire.publishes.length <= index; i++) {
    await new Promise((r) => queueMicrotask(() => r(undefined)));
  }
  assert.ok(wire.publishes.length > index, "the SDK published nothing");
  return wire.publishes[index];
}

Deno.test("the SDK's ModuleClient publishes the topic and connects with the username and client id leaf builds", async () => {
  const { ModuleClient } = await import("azure-iot-device");
  const cs = parseConnectionString(MODULE_CS);
  const auth = SharedAccessKeyAuthenticationProvider.fromConnectionString(MODULE_CS);
  const wire = new FakeMqttBase();
  const transport = new Mqtt(auth, wire);
  // The public ModuleClient API over the real MQTT transport; only the socket is fake.
  const client = new (ModuleClient as unknown as new (t: unknown) => {
    open(): Promise<unknown>;
    sendEvent(m: Message): Promise<unknown>;
    close(): Promise<unknown>;
  })(transport);
  try {
    await client.open();
    await client.sendEvent(
      sdkMessage({ messageId: "m-7", contentType: "application/json", contentEncoding: "utf-8" }, {
        sensor: "cpu temp",
      }),
    );
    const config = wire.connects[0];
    assert.equal(config.clientId, `${cs.deviceId}/${cs.moduleId}`);
    assert.equal(config.clientId, clientIdOf(cs));
    const [theirPrefix] = config.username.split("&DeviceClientType=");
    assert.equal(
      theirPrefix,
      buildUsername(cs.hostName, clientIdOf(cs), "x").split("&DeviceClientType=")[0],
    );
    assert.equal(
      wire.publishes[0].topic,
      telemetryTopic(
        { deviceId: cs.deviceId, moduleId: cs.moduleId },
        encodePropertyBag({
          messageId: "m-7",
          contentType: "application/json",
          contentEncoding: "utf-8",
        }, {
          sensor: "cpu temp",
        }),
      ),
    );
  } finally {
    await client.close();
    auth.stop();
  }
});
