import assert from "node:assert/strict";
import {
  DISCONNECT,
  encodeConnect,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  PacketReader,
  PINGREQ,
  ProtocolError,
  topicBytes,
} from "../../lib/transport/mqtt_codec.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

Deno.test("encodeConnect() writes MQTT 3.1.1 with username, password, keep-alive and clean flag", () => {
  const b = encodeConnect({
    clientId: "d1",
    username: "u",
    password: "p",
    keepAlive: 60,
    clean: false,
  });
  assert.equal(
    hex(b),
    // CONNECT, len 20, "MQTT", level 4, flags user+pass, keepalive 60, "d1", "u", "p"
    "10 14 00 04 4d 51 54 54 04 c0 00 3c 00 02 64 31 00 01 75 00 01 70",
  );
  const x509 = encodeConnect({ clientId: "d1", username: "u", keepAlive: 0, clean: true });
  assert.equal(x509[9], 0x82, "username without password, clean session");
});

Deno.test("encodePublish() writes QoS 1 with a packet id and a multi-byte remaining length", () => {
  const payload = new Uint8Array(200).fill(0x41);
  const b = encodePublish(topicBytes("a/b"), payload, 1, 0x1234);
  assert.equal(b[0], 0x32);
  // remaining = 2 + 3 + 2 + 200 = 207 → 0xcf 0x01
  assert.deepEqual([...b.subarray(1, 3)], [0xcf, 0x01]);
  assert.deepEqual([...b.subarray(3, 8)], [0, 3, 0x61, 0x2f, 0x62]);
  assert.deepEqual([...b.subarray(8, 10)], [0x12, 0x34]);
  assert.equal(b.length, 3 + 207);
  assert.equal(encodePublish(topicBytes("t"), new Uint8Array(0), 0)[0], 0x30);
});

Deno.test("encodeSubscribe(), encodePuback(), PINGREQ and DISCONNECT have the fixed headers of the standard", () => {
  assert.equal(
    hex(encodeSubscribe(7, [{ topic: "x/#", qos: 1 }])),
    "82 08 00 07 00 03 78 2f 23 01",
  );
  assert.equal(hex(encodePuback(258)), "40 02 01 02");
  assert.equal(hex(PINGREQ), "c0 00");
  assert.equal(hex(DISCONNECT), "e0 00");
});

Deno.test("PacketReader reassembles packets split at every byte and several in one chunk", () => {
  const stream = new Uint8Array([
    0x20,
    0x02,
    0x00,
    0x00, // CONNACK accepted
    0x40,
    0x02,
    0x00,
    0x05, // PUBACK 5
    0x90,
    0x04,
    0x00,
    0x09,
    0x01,
    0x80, // SUBACK 9: [1, 128]
    0xd0,
    0x00, // PINGRESP
    ...encodePublish(
      topicBytes("$iothub/methods/POST/ping/?$rid=1"),
      new TextEncoder().encode("{}"),
      1,
      77,
    ),
  ]);
  const expected = [
    { type: "connack", sessionPresent: false, returnCode: 0 },
    { type: "puback", packetId: 5 },
    { type: "suback", packetId: 9, granted: [1, 128] },
    { type: "pingresp" },
    {
      type: "publish",
      topic: "$iothub/methods/POST/ping/?$rid=1",
      payload: new TextEncoder().encode("{}"),
      qos: 1,
      packetId: 77,
      dup: false,
      retain: false,
    },
  ];
  assert.deepEqual(new PacketReader().push(stream), expected);
  const reader = new PacketReader();
  const got = [];
  for (const byte of stream) got.push(...reader.push(Uint8Array.of(byte)));
  assert.deepEqual(got, expected);
});

Deno.test("PacketReader handles a payload whose remaining length needs three bytes", () => {
  const payload = new Uint8Array(20_000).fill(7);
  const packet = encodePublish(topicBytes("devices/d/messages/devicebound/"), payload, 0);
  const reader = new PacketReader();
  assert.deepEqual(reader.push(packet.subarray(0, 1000)), []);
  const [p] = reader.push(packet.subarray(1000));
  assert.equal(p.type, "publish");
  assert.equal(p.type === "publish" && p.payload.length, 20_000);
});

Deno.test("PacketReader rejects malformed and oversize packets", () => {
  assert.throws(() => new PacketReader().push(Uint8Array.of(0x20, 0x03, 0, 0, 0)), ProtocolError);
  assert.throws(
    () => new PacketReader().push(Uint8Array.of(0x20, 0xff, 0xff, 0xff, 0xff, 0x01)),
    ProtocolError,
  );
  assert.throws(
    () => new PacketReader().push(Uint8Array.of(0x10, 0x00)),
    /unexpected packet type 1/,
  );
  assert.throws(
    () => new PacketReader(100).push(encodePublish(topicBytes("t"), new Uint8Array(200), 0)),
    /too large/,
  );
  assert.throws(
    () => new PacketReader().push(Uint8Array.of(0x30, 0x04, 0x00, 0x02, 0xff, 0xfe)),
    /not UTF-8/,
  );
});
