import assert from "node:assert/strict";
import {
  buildMessage,
  MAX_MESSAGE_BYTES,
  messageSize,
  shapeBody,
} from "../../lib/agent/message.ts";
import { decodePropertyBag } from "../../lib/iothub/properties.ts";
import type { Reading } from "../../lib/sensors/reading.ts";
import { createSimulatedSensor, prng, SIMULATED_DEFAULTS } from "../../lib/sensors/simulated.ts";

const T0 = Date.UTC(2026, 10, 29, 9, 0, 0);
const NOW = T0 + 60_000;

const reading = (name: string, value: number, unit: string, ts: number): Reading => ({
  sensor: "cpu",
  name,
  value,
  unit,
  ts,
});

// ------------------------------------------------------------------ shapeBody

Deno.test("shapeBody() keeps each reading's own timestamp, not now", () => {
  const body = shapeBody("pi-01", 41, [
    reading("temperature", 48.3, "°C", T0 + 2_000),
    reading("load1", 0.25, "", T0),
  ], NOW);
  assert.equal(body.deviceId, "pi-01");
  assert.equal(body.seq, 41);
  assert.equal(body.ts, "2026-11-29T09:00:00.000Z", "the earliest reading's time");
  assert.deepEqual(body.readings, [
    { sensor: "cpu", name: "temperature", value: 48.3, unit: "°C", ts: "2026-11-29T09:00:02.000Z" },
    { sensor: "cpu", name: "load1", value: 0.25, unit: "", ts: "2026-11-29T09:00:00.000Z" },
  ]);
  assert.ok(!JSON.stringify(body).includes(new Date(NOW).toISOString()), "now appears nowhere");
});

Deno.test("shapeBody() carries seq as given", () => {
  for (const seq of [0, 1, 2 ** 40]) {
    assert.equal(shapeBody("d", seq, [reading("x", 1, "", T0)], NOW).seq, seq);
  }
});

Deno.test("shapeBody() uses now only when there are no readings", () => {
  const body = shapeBody("pi-01", 7, [], NOW);
  assert.equal(body.ts, new Date(NOW).toISOString());
  assert.deepEqual(body.readings, []);
});

Deno.test("shapeBody() output survives a JSON round trip unchanged", () => {
  const body = shapeBody("pi-01", 3, [reading("humidity", 45.5, "%RH", T0)], NOW);
  assert.deepEqual(JSON.parse(JSON.stringify(body)), body);
});

// --------------------------------------------------------------- buildMessage

const CREATED = Date.UTC(2026, 10, 29, 9, 0, 5, 123);

Deno.test("buildMessage() publishes to the device's events topic with the system properties", () => {
  const message = buildMessage({
    identity: { deviceId: "pi-01" },
    messageId: "m-1",
    createdAt: CREATED,
    body: '{"seq":1}',
  });
  const prefix = "devices/pi-01/messages/events/";
  assert.ok(message.topic.startsWith(prefix), message.topic);
  const bag = message.topic.slice(prefix.length);
  assert.equal(
    bag,
    "%24.mid=m-1&%24.ct=application%2Fjson&%24.ce=utf-8&%24.ctime=2026-11-29T09%3A00%3A05.123Z",
  );
  assert.deepEqual(decodePropertyBag(bag).system, {
    "$.mid": "m-1",
    "$.ct": "application/json",
    "$.ce": "utf-8",
    "$.ctime": "2026-11-29T09:00:05.123Z",
  });
  assert.equal(message.payload, '{"seq":1}');
  assert.equal(message.messageId, "m-1");
});

Deno.test("buildMessage() appends custom properties after the system ones, encoded", () => {
  const message = buildMessage({
    identity: { deviceId: "pi-01" },
    messageId: "m-2",
    createdAt: CREATED,
    body: "{}",
    properties: { sensor: "cpu temp", "a&b": "x=y" },
  });
  assert.ok(message.topic.endsWith("&sensor=cpu%20temp&a%26b=x%3Dy"), message.topic);
  const bag = decodePropertyBag(message.topic.slice("devices/pi-01/messages/events/".length));
  assert.deepEqual(bag.custom, { sensor: "cpu temp", "a&b": "x=y" });
  assert.equal(bag.system["$.mid"], "m-2");
});

Deno.test("buildMessage() publishes a module identity under devices/<id>/modules/<id>", () => {
  const message = buildMessage({
    identity: { deviceId: "pi-01", moduleId: "sensors" },
    messageId: "m-3",
    createdAt: CREATED,
    body: "{}",
  });
  assert.ok(
    message.topic.startsWith("devices/pi-01/modules/sensors/messages/events/%24.mid=m-3&"),
    message.topic,
  );
});

// ---------------------------------------------------------------- messageSize

Deno.test("messageSize() counts UTF-8 bytes of topic and payload", () => {
  assert.equal(messageSize({ topic: "t", payload: "" }), 1);
  assert.equal(messageSize({ topic: "ab", payload: "°C" }), 2 + 3, "° is two bytes");
  assert.equal(messageSize({ topic: "", payload: "€" }), 3);
  assert.equal(messageSize({ topic: "", payload: "🌡" }), 4, "not its UTF-16 length 2");
});

Deno.test("messageSize() of a built message is its topic and body length in bytes", () => {
  const body = JSON.stringify(shapeBody("pi-01", 1, [reading("t", 21.5, "°C", T0)], NOW));
  const message = buildMessage({
    identity: { deviceId: "pi-01" },
    messageId: "m",
    createdAt: CREATED,
    body,
  });
  assert.equal(messageSize(message), message.topic.length + body.length + 1, "one ° in the body");
  assert.ok(messageSize(message) < MAX_MESSAGE_BYTES);
  assert.equal(MAX_MESSAGE_BYTES, 262_144);
});

// ------------------------------------------------------------ simulated sensor

async function series(seed: number | undefined, n: number): Promise<Reading[][]> {
  const sensor = createSimulatedSensor(seed === undefined ? {} : { seed });
  const out: Reading[][] = [];
  for (let i = 0; i < n; i++) out.push(await sensor.read(T0 + i * 10_000));
  return out;
}

Deno.test("createSimulatedSensor() gives the same series for the same seed", async () => {
  assert.deepEqual(await series(42, 20), await series(42, 20));
  assert.deepEqual(await series(undefined, 5), await series(SIMULATED_DEFAULTS.seed, 5));
});

Deno.test("createSimulatedSensor() gives different series for different seeds", async () => {
  assert.notDeepEqual(await series(1, 5), await series(2, 5));
});

Deno.test("createSimulatedSensor() does not depend on the wall clock", async () => {
  const a = createSimulatedSensor({ seed: 9 });
  const b = createSimulatedSensor({ seed: 9 });
  const ra = await a.read(T0);
  const rb = await b.read(T0 + 86_400_000);
  assert.deepEqual(ra.map((r) => r.value), rb.map((r) => r.value));
});

Deno.test("createSimulatedSensor() reads temperature °C, humidity %RH and pressure hPa with the tick's time", async () => {
  const sensor = createSimulatedSensor({ name: "env", seed: 3 });
  assert.equal(sensor.name, "env");
  assert.equal(sensor.type, "simulated");
  const readings = await sensor.read(T0);
  assert.deepEqual(
    readings.map((r) => [r.sensor, r.name, r.unit, r.ts]),
    [
      ["env", "temperature", "°C", T0],
      ["env", "humidity", "%RH", T0],
      ["env", "pressure", "hPa", T0],
    ],
  );
});

Deno.test("createSimulatedSensor() stays within plausible bounds over a long run", async () => {
  for (const ticks of await series(7, 2_000)) {
    const [t, h, p] = ticks.map((r) => r.value);
    assert.ok(t >= -20 && t <= 60, `temperature ${t}`);
    assert.ok(h >= 5 && h <= 95, `humidity ${h}`);
    assert.ok(p >= 950 && p <= 1050, `pressure ${p}`);
  }
});

Deno.test("prng() is deterministic and yields values in [0, 1)", () => {
  const a = prng(123);
  const b = prng(123);
  for (let i = 0; i < 1_000; i++) {
    const x = a();
    assert.equal(x, b());
    assert.ok(x >= 0 && x < 1, String(x));
  }
});
