import assert from "node:assert/strict";
import { classifyPublish, classifySubscription, topicMatches } from "../../lib/gateway/acl.ts";
import { encodePublish } from "../../lib/gateway/_frames.ts";

const DEVICE = { deviceId: "dev-1" };
const MODULE = { deviceId: "dev-1", moduleId: "mod-a" };

Deno.test("classifyPublish() accepts telemetry on the client's own identity with its bag", () => {
  const v = classifyPublish(DEVICE, "devices/dev-1/messages/events/%24.mid=m1&a=b%20c", 10);
  assert.equal(v.kind, "telemetry");
  assert.deepEqual(v.kind === "telemetry" && v.bag, {
    system: { "$.mid": "m1" },
    custom: { a: "b c" },
  });
  assert.equal(classifyPublish(DEVICE, "devices/dev-1/messages/events", 1).kind, "telemetry");
  assert.equal(
    classifyPublish(MODULE, "devices/dev-1/modules/mod-a/messages/events/", 1).kind,
    "telemetry",
  );
});

Deno.test("classifyPublish() forbids another identity's topics and unknown topics", () => {
  for (
    const topic of [
      "devices/dev-2/messages/events/",
      "devices/dev-1/modules/mod-a/messages/events/",
      "devices/dev-1/messages/devicebound/x",
      "$iothub/twin/PATCH/properties/desired/?$version=2",
      "$iothub/twin/GET/",
      "hello",
    ]
  ) {
    assert.equal(classifyPublish(DEVICE, topic, 1).kind, "forbidden", topic);
  }
  assert.equal(classifyPublish(MODULE, "devices/dev-1/messages/events/", 1).kind, "forbidden");
});

Deno.test("classifyPublish() drops oversize messages and malformed bags", () => {
  const topic = "devices/dev-1/messages/events/";
  const v = classifyPublish(DEVICE, topic, 256 * 1024 - topic.length + 1);
  assert.equal(v.kind, "drop");
  assert.equal(classifyPublish(DEVICE, topic, 256 * 1024 - topic.length).kind, "telemetry");
  assert.equal(classifyPublish(DEVICE, `${topic}a=%ZZ`, 1).kind, "drop");
});

Deno.test("classifyPublish() recognises twin and method topics", () => {
  assert.deepEqual(classifyPublish(DEVICE, "$iothub/twin/GET/?$rid=7", 0), {
    kind: "twin-get",
    rid: "7",
  });
  assert.deepEqual(
    classifyPublish(DEVICE, "$iothub/twin/PATCH/properties/reported/?$rid=8", 2),
    { kind: "twin-reported", rid: "8" },
  );
  assert.deepEqual(
    classifyPublish(DEVICE, "$iothub/methods/res/200/?$rid=a", 2),
    { kind: "method-response", status: 200, rid: "a" },
  );
});

Deno.test("classifySubscription() allows only the client's own filters", () => {
  assert.equal(classifySubscription(DEVICE, "devices/dev-1/messages/devicebound/#"), "c2d");
  assert.equal(classifySubscription(DEVICE, "$iothub/twin/res/#"), "twin-response");
  assert.equal(
    classifySubscription(DEVICE, "$iothub/twin/PATCH/properties/desired/#"),
    "twin-desired",
  );
  assert.equal(classifySubscription(DEVICE, "$iothub/methods/POST/#"), "methods");
  assert.equal(classifySubscription(MODULE, "devices/dev-1/modules/mod-a/inputs/#"), "inputs");
  for (
    const filter of [
      "#",
      "devices/dev-2/messages/devicebound/#",
      "devices/+/messages/events/#",
      "$iothub/#",
    ]
  ) {
    assert.equal(classifySubscription(DEVICE, filter), undefined, filter);
  }
});

Deno.test("topicMatches() handles + and #", () => {
  assert.ok(topicMatches("a/+/c", "a/b/c"));
  assert.ok(topicMatches("a/#", "a/b/c"));
  assert.ok(!topicMatches("a/+", "a/b/c"));
});

Deno.test("encodePublish() writes an MQTT 3.1.1 PUBLISH", () => {
  const frame = encodePublish({
    topic: "a/b",
    payload: new Uint8Array([1, 2]),
    qos: 1,
    messageId: 258,
    dup: true,
  });
  assert.deepEqual([...frame], [0x3a, 9, 0, 3, 0x61, 0x2f, 0x62, 1, 2, 1, 2]);
  const big = encodePublish({ topic: "t", payload: new Uint8Array(200), qos: 0 });
  assert.deepEqual([...big.slice(0, 3)], [0x30, 0xcb, 0x01]);
  assert.throws(() => encodePublish({ topic: "t", payload: new Uint8Array(), qos: 1 }), RangeError);
});
