import assert from "node:assert/strict";
import {
  c2dFilter,
  c2dTopic,
  type CloudTopic,
  type DeviceTopic,
  identityPrefix,
  methodRequestTopic,
  methodResponseTopic,
  METHODS_FILTER,
  parseCloudTopic,
  parseDeviceTopic,
  telemetryTopic,
  TWIN_DESIRED_FILTER,
  TWIN_RESPONSE_FILTER,
  twinDesiredTopic,
  twinGetTopic,
  twinReportedTopic,
  twinResponseTopic,
} from "../../lib/iothub/topics.ts";
import { encodePropertyBag } from "../../lib/iothub/properties.ts";

const DEVICE = { deviceId: "pi-01" };
const MODULE = { deviceId: "pi-01", moduleId: "sensors" };
const BAG = "%24.mid=m1&%24.ct=application%2Fjson&%24.ce=utf-8&sensor=cpu%20temp";

// ---------------------------------------------------------------- builders

Deno.test("identityPrefix() names a device or a module", () => {
  assert.equal(identityPrefix(DEVICE), "devices/pi-01");
  assert.equal(identityPrefix(MODULE), "devices/pi-01/modules/sensors");
  assert.equal(identityPrefix({ deviceId: "pi-01", moduleId: "" }), "devices/pi-01");
});

Deno.test("telemetryTopic() appends the bag to the device events topic", () => {
  assert.equal(telemetryTopic(DEVICE, BAG), `devices/pi-01/messages/events/${BAG}`);
  assert.equal(telemetryTopic(DEVICE, ""), "devices/pi-01/messages/events/");
});

Deno.test("telemetryTopic() uses the module events topic for a module", () => {
  assert.equal(
    telemetryTopic(MODULE, BAG),
    `devices/pi-01/modules/sensors/messages/events/${BAG}`,
  );
});

Deno.test("c2dFilter() and c2dTopic() use the device's devicebound topic", () => {
  assert.equal(c2dFilter(DEVICE), "devices/pi-01/messages/devicebound/#");
  assert.equal(c2dTopic(DEVICE, "%24.mid=x"), "devices/pi-01/messages/devicebound/%24.mid=x");
  assert.equal(c2dTopic(DEVICE, ""), "devices/pi-01/messages/devicebound/");
});

Deno.test("twin and method filters are IoT Hub's", () => {
  assert.equal(TWIN_RESPONSE_FILTER, "$iothub/twin/res/#");
  assert.equal(TWIN_DESIRED_FILTER, "$iothub/twin/PATCH/properties/desired/#");
  assert.equal(METHODS_FILTER, "$iothub/methods/POST/#");
});

Deno.test("twin builders write IoT Hub's topics", () => {
  assert.equal(twinGetTopic("42"), "$iothub/twin/GET/?$rid=42");
  assert.equal(twinReportedTopic("42"), "$iothub/twin/PATCH/properties/reported/?$rid=42");
  assert.equal(twinResponseTopic(200, "42"), "$iothub/twin/res/200/?$rid=42");
  assert.equal(twinResponseTopic(204, "42", 7), "$iothub/twin/res/204/?$rid=42&$version=7");
  assert.equal(twinDesiredTopic(9), "$iothub/twin/PATCH/properties/desired/?$version=9");
});

Deno.test("twin builders encode a request id that needs it", () => {
  assert.equal(twinGetTopic("a b&c"), "$iothub/twin/GET/?$rid=a%20b%26c");
  assert.equal(twinResponseTopic(200, "a/b"), "$iothub/twin/res/200/?$rid=a%2Fb");
});

Deno.test("method builders write IoT Hub's topics", () => {
  assert.equal(methodRequestTopic("reboot", "1"), "$iothub/methods/POST/reboot/?$rid=1");
  assert.equal(methodResponseTopic(200, "1"), "$iothub/methods/res/200/?$rid=1");
  assert.equal(methodResponseTopic(404, "a b"), "$iothub/methods/res/404/?$rid=a%20b");
});

// ---------------------------------------------------------------- parseDeviceTopic

const DEVICE_TOPICS: [string, DeviceTopic][] = [
  [
    `devices/pi-01/messages/events/${BAG}`,
    { kind: "telemetry", identity: DEVICE, bag: BAG },
  ],
  [
    `devices/pi-01/modules/sensors/messages/events/${BAG}`,
    { kind: "telemetry", identity: MODULE, bag: BAG },
  ],
  ["devices/pi-01/messages/events/", { kind: "telemetry", identity: DEVICE, bag: "" }],
  // sendOutputEvent (and .NET) append a trailing "/".
  [
    "devices/pi-01/modules/sensors/messages/events/%24.on=out1/",
    { kind: "telemetry", identity: MODULE, bag: "%24.on=out1" },
  ],
  [
    "devices/a-.+%_*!(),:=@$'/messages/events/x=1",
    { kind: "telemetry", identity: { deviceId: "a-.+%_*!(),:=@$'" }, bag: "x=1" },
  ],
  ["$iothub/twin/GET/?$rid=42", { kind: "twin-get", rid: "42" }],
  ["$iothub/twin/GET/?$rid=a%20b", { kind: "twin-get", rid: "a b" }],
  [
    "$iothub/twin/PATCH/properties/reported/?$rid=43",
    { kind: "twin-reported", rid: "43" },
  ],
  [
    "$iothub/twin/PATCH/properties/reported/?$rid=43&$version=4",
    { kind: "twin-reported", rid: "43" },
  ],
  [
    "$iothub/methods/res/200/?$rid=7",
    { kind: "method-response", status: 200, rid: "7" },
  ],
  [
    "$iothub/methods/res/500/?$rid=7",
    { kind: "method-response", status: 500, rid: "7" },
  ],
  // edgeHub also accepts the events topic without its trailing "/".
  ["devices/pi-01/messages/events", { kind: "telemetry", identity: DEVICE, bag: "" }],
  [
    "devices/pi-01/modules/sensors/messages/events",
    { kind: "telemetry", identity: MODULE, bag: "" },
  ],
  // Not something a device may publish.
  ["devices/pi-01/messages/eventsx", { kind: "unknown" }],
  ["devices/pi-01/messages/devicebound/x=1", { kind: "unknown" }],
  ["devices//messages/events/", { kind: "unknown" }],
  ["devices/pi-01/modules//messages/events/", { kind: "unknown" }],
  ["$iothub/twin/GET/", { kind: "unknown" }],
  ["$iothub/twin/GET/?x=1", { kind: "unknown" }],
  ["$iothub/twin/GET/?$rid=%E0%A4%A", { kind: "unknown" }],
  ["$iothub/twin/PATCH/properties/reported/", { kind: "unknown" }],
  ["$iothub/methods/res/20/?$rid=7", { kind: "unknown" }],
  ["$iothub/methods/res/ok/?$rid=7", { kind: "unknown" }],
  ["$iothub/methods/res/200/?x=1", { kind: "unknown" }],
  ["$iothub/methods/POST/reboot/?$rid=1", { kind: "unknown" }],
  ["", { kind: "unknown" }],
];

for (const [topic, expected] of DEVICE_TOPICS) {
  Deno.test(`parseDeviceTopic() reads "${topic}" as ${expected.kind}`, () => {
    assert.deepEqual(parseDeviceTopic(topic), expected);
  });
}

Deno.test("parseDeviceTopic() reads back every topic a device builds", () => {
  const bag = encodePropertyBag(
    { messageId: "m/1 ü", contentType: "application/json" },
    { "a/b": "c/d" },
  );
  assert.deepEqual(parseDeviceTopic(telemetryTopic(DEVICE, bag)), {
    kind: "telemetry",
    identity: DEVICE,
    bag,
  });
  assert.deepEqual(parseDeviceTopic(telemetryTopic(MODULE, bag)), {
    kind: "telemetry",
    identity: MODULE,
    bag,
  });
  for (const rid of ["1", "6f1d2b1e-7a40-4d8e-9d0c-1b2f3a4b5c6d", "a b&c=d/e"]) {
    assert.deepEqual(parseDeviceTopic(twinGetTopic(rid)), { kind: "twin-get", rid });
    assert.deepEqual(parseDeviceTopic(twinReportedTopic(rid)), { kind: "twin-reported", rid });
    assert.deepEqual(parseDeviceTopic(methodResponseTopic(200, rid)), {
      kind: "method-response",
      status: 200,
      rid,
    });
  }
});

// ---------------------------------------------------------------- parseCloudTopic

const CLOUD_TOPICS: [string, CloudTopic][] = [
  [
    "$iothub/twin/res/200/?$rid=42&$version=7",
    { kind: "twin-response", status: 200, rid: "42", version: 7 },
  ],
  ["$iothub/twin/res/200/?$rid=42", { kind: "twin-response", status: 200, rid: "42" }],
  [
    "$iothub/twin/res/204/?$version=8&$rid=43",
    { kind: "twin-response", status: 204, rid: "43", version: 8 },
  ],
  [
    "$iothub/twin/res/400/?$rid=a%20b",
    { kind: "twin-response", status: 400, rid: "a b" },
  ],
  [
    "$iothub/twin/PATCH/properties/desired/?$version=9",
    { kind: "twin-desired", version: 9 },
  ],
  ["$iothub/twin/PATCH/properties/desired/", { kind: "twin-desired" }],
  [
    "$iothub/methods/POST/reboot/?$rid=1",
    { kind: "method-request", name: "reboot", rid: "1" },
  ],
  [
    "$iothub/methods/POST/set-interval/?$rid=ab%26c",
    { kind: "method-request", name: "set-interval", rid: "ab&c" },
  ],
  [
    "devices/pi-01/messages/devicebound/%24.mid=c1&cmd=blink",
    { kind: "c2d", bag: "%24.mid=c1&cmd=blink" },
  ],
  ["devices/pi-01/messages/devicebound/", { kind: "c2d", bag: "" }],
  ["$iothub/twin/res/200/", { kind: "unknown" }],
  ["$iothub/twin/res/200/?$version=1", { kind: "unknown" }],
  ["$iothub/twin/res/2000/?$rid=1", { kind: "unknown" }],
  ["$iothub/methods/POST/reboot/", { kind: "unknown" }],
  ["$iothub/methods/POST//?$rid=1", { kind: "unknown" }],
  ["devices/pi-01/messages/events/x=1", { kind: "unknown" }],
  ["", { kind: "unknown" }],
];

for (const [topic, expected] of CLOUD_TOPICS) {
  Deno.test(`parseCloudTopic() reads "${topic}" as ${expected.kind}`, () => {
    assert.deepEqual(parseCloudTopic(topic), expected);
  });
}

Deno.test("parseCloudTopic() reads back every topic the gateway builds", () => {
  for (const rid of ["1", "6f1d2b1e-7a40-4d8e-9d0c-1b2f3a4b5c6d", "a b&c=d/e"]) {
    assert.deepEqual(parseCloudTopic(twinResponseTopic(200, rid, 12)), {
      kind: "twin-response",
      status: 200,
      rid,
      version: 12,
    });
    assert.deepEqual(parseCloudTopic(twinResponseTopic(204, rid)), {
      kind: "twin-response",
      status: 204,
      rid,
    });
    assert.deepEqual(parseCloudTopic(methodRequestTopic("reboot", rid)), {
      kind: "method-request",
      name: "reboot",
      rid,
    });
  }
  assert.deepEqual(parseCloudTopic(twinDesiredTopic(0)), { kind: "twin-desired", version: 0 });
  const bag = encodePropertyBag({ messageId: "c2d 1" }, { "x/y": "1" });
  assert.deepEqual(parseCloudTopic(c2dTopic(DEVICE, bag)), { kind: "c2d", bag });
});
