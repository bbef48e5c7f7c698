import assert from "node:assert/strict";
import {
  decodePropertyBag,
  encodePropertyBag,
  flattenBag,
  type SystemProperties,
  systemWireName,
} from "../../lib/iothub/properties.ts";

Deno.test("encodePropertyBag() writes %24.mid, %24.ct, %24.ce and custom properties", () => {
  assert.equal(
    encodePropertyBag(
      { messageId: "m1", contentType: "application/json", contentEncoding: "utf-8" },
      { sensor: "cpu temp" },
    ),
    "%24.mid=m1&%24.ct=application%2Fjson&%24.ce=utf-8&sensor=cpu%20temp",
  );
});

Deno.test("encodePropertyBag() writes system properties in the Node SDK's order", () => {
  const all: Required<SystemProperties> = {
    expiryTime: "2030-01-01T00:00:00.000Z",
    creationTime: "2026-01-01T00:00:00.000Z",
    contentEncoding: "utf-8",
    contentType: "application/json",
    to: "/devices/d/messages/deviceBound",
    userId: "u",
    correlationId: "c",
    messageId: "m",
  };
  assert.equal(
    encodePropertyBag(all),
    "%24.mid=m&%24.cid=c&%24.uid=u&%24.to=%2Fdevices%2Fd%2Fmessages%2FdeviceBound" +
      "&%24.ct=application%2Fjson&%24.ce=utf-8&%24.ctime=2026-01-01T00%3A00%3A00.000Z" +
      "&%24.exp=2030-01-01T00%3A00%3A00.000Z",
  );
});

Deno.test("encodePropertyBag() writes an empty bag for no properties", () => {
  assert.equal(encodePropertyBag({}), "");
  assert.equal(encodePropertyBag({}, {}), "");
});

Deno.test("encodePropertyBag() keeps custom properties in insertion order after system ones", () => {
  assert.equal(encodePropertyBag({ messageId: "m" }, { z: "1", a: "2" }), "%24.mid=m&z=1&a=2");
});

Deno.test("systemWireName() names each field's wire key", () => {
  assert.equal(systemWireName("messageId"), "$.mid");
  assert.equal(systemWireName("correlationId"), "$.cid");
  assert.equal(systemWireName("userId"), "$.uid");
  assert.equal(systemWireName("to"), "$.to");
  assert.equal(systemWireName("contentType"), "$.ct");
  assert.equal(systemWireName("contentEncoding"), "$.ce");
  assert.equal(systemWireName("creationTime"), "$.ctime");
  assert.equal(systemWireName("expiryTime"), "$.exp");
});

const AWKWARD = [
  "",
  "plain",
  "with space",
  "a&b",
  "a=b",
  "a/b/c",
  "100%",
  "%24",
  "%E0%A4%A",
  "a+b",
  "température 21.5 °C",
  "日本語",
  "emoji 😀 ✓",
  "!'()*~-_.",
  "?#[]@",
  "tab\tnewline\n",
  "$.mid",
];

Deno.test("decodePropertyBag() round-trips awkward keys and values", () => {
  for (const value of AWKWARD) {
    const custom: Record<string, string> = { [`key ${value}`]: value, [`k=${value}&`]: value };
    const bag = encodePropertyBag({ messageId: value, contentType: value }, custom);
    assert.doesNotMatch(bag, /[ \/]/, "nothing unencoded that would break a topic");
    const decoded = decodePropertyBag(bag);
    assert.deepEqual(decoded.system, { "$.mid": value, "$.ct": value }, JSON.stringify(value));
    assert.deepEqual(decoded.custom, custom, JSON.stringify(value));
  }
});

Deno.test("decodePropertyBag() reads %24.mid and literal $.mid both as system properties", () => {
  for (const bag of ["%24.mid=m1&%24.ct=application%2Fjson", "$.mid=m1&$.ct=application/json"]) {
    assert.deepEqual(decodePropertyBag(bag), {
      system: { "$.mid": "m1", "$.ct": "application/json" },
      custom: {},
    }, bag);
  }
  assert.deepEqual(decodePropertyBag("%24.mid=a&$.ce=utf-8&x=1").system, {
    "$.mid": "a",
    "$.ce": "utf-8",
  });
});

Deno.test("decodePropertyBag() reads the C SDK's default form: %24 keys, values not encoded", () => {
  assert.deepEqual(decodePropertyBag("%24.mid=abc&%24.ct=application/json&temp=21"), {
    system: { "$.mid": "abc", "$.ct": "application/json" },
    custom: { temp: "21" },
  });
});

Deno.test("decodePropertyBag() treats '$' without '.' as a custom key", () => {
  assert.deepEqual(decodePropertyBag("%24mid=1&$x=2"), {
    system: {},
    custom: { $mid: "1", $x: "2" },
  });
});

Deno.test("decodePropertyBag() reads an empty bag, empty pairs and a key without '='", () => {
  assert.deepEqual(decodePropertyBag(""), { system: {}, custom: {} });
  assert.deepEqual(decodePropertyBag("&&a=1&&"), { system: {}, custom: { a: "1" } });
  assert.deepEqual(decodePropertyBag("flag&b="), { system: {}, custom: { flag: "", b: "" } });
});

Deno.test("decodePropertyBag() keeps '=' inside a value", () => {
  assert.deepEqual(decodePropertyBag("a=b=c").custom, { a: "b=c" });
});

for (
  const [name, bag] of [
    ["a truncated escape in a value", "%24.mid=%E0%A4%A"],
    ["a truncated escape in a key", "%E0%A4%A=1"],
    ["a lone '%'", "a=100%"],
    ["an invalid UTF-8 sequence", "a=%C3%28"],
    ["an empty key", "=value"],
    ["an empty key after decoding", "a=1&=2"],
  ]
) {
  Deno.test(`decodePropertyBag() throws on ${name}`, () => {
    assert.throws(() => decodePropertyBag(bag), { message: "malformed property bag" });
  });
}

Deno.test("decodePropertyBag() keeps the cause of a decoding failure", () => {
  try {
    decodePropertyBag("%E0%A4%A");
    assert.fail("expected a throw");
  } catch (e) {
    assert.ok(e instanceof Error);
    assert.ok(e.cause instanceof URIError);
  }
});

Deno.test("flattenBag() puts system keys first", () => {
  const flat = flattenBag(decodePropertyBag("sensor=cpu&%24.mid=m1&%24.ct=application%2Fjson"));
  assert.deepEqual(flat, { "$.mid": "m1", "$.ct": "application/json", sensor: "cpu" });
  assert.deepEqual(Object.keys(flat), ["$.mid", "$.ct", "sensor"]);
});
