/**
 * MQTT 3.1.1 packets (OASIS standard, the subset a device needs): CONNECT,
 * PUBLISH at QoS 0/1, PUBACK, SUBSCRIBE, PINGREQ and DISCONNECT out; CONNACK,
 * PUBLISH, PUBACK, SUBACK, UNSUBACK and PINGRESP in. Pure: bytes in, bytes
 * out, no I/O.
 *
 * @module
 */
import { utf8Length } from "../utf8.ts";

/** Control packet types (high nibble of the first byte). */
export const PACKET = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  subscribe: 8,
  suback: 9,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Bytes of the "remaining length" varint for `n`. */
function lengthBytes(n: number): number {
  if (n < 128) return 1;
  if (n < 16_384) return 2;
  if (n < 2_097_152) return 3;
  if (n < 268_435_456) return 4;
  throw new RangeError(`MQTT packet of ${n} bytes is over the protocol's limit`);
}

/** A packet writer over one exactly sized buffer. */
class Writer {
  readonly bytes: Uint8Array;
  #at = 0;
  constructor(first: number, remaining: number) {
    this.bytes = new Uint8Array(1 + lengthBytes(remaining) + remaining);
    this.bytes[this.#at++] = first;
    let n = remaining;
    do {
      let b = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      this.bytes[this.#at++] = b;
    } while (n > 0);
  }
  u8(v: number) {
    this.bytes[this.#at++] = v;
  }
  u16(v: number) {
    this.bytes[this.#at++] = v >> 8;
    this.bytes[this.#at++] = v & 0xff;
  }
  get at(): number {
    return this.#at;
  }
  text(t: string, bytes: number) {
    encoder.encodeInto(t, this.bytes.subarray(this.#at, this.#at + bytes));
    this.#at += bytes;
  }
  raw(b: Uint8Array) {
    this.bytes.set(b, this.#at);
    this.#at += b.length;
  }
  str(b: Uint8Array) {
    this.u16(b.length);
    this.raw(b);
  }
}

function utf8(text: string, what: string): Uint8Array {
  const b = encoder.encode(text);
  if (b.length > 0xffff) throw new RangeError(`MQTT ${what} is longer than 65535 bytes`);
  return b;
}

/** Fields of a CONNECT packet. */
export interface ConnectFields {
  clientId: string;
  username?: string;
  password?: string;
  /** Seconds; 0 disables keep-alive. */
  keepAlive: number;
  clean: boolean;
}

/** CONNECT, protocol level 4 (MQTT 3.1.1). */
export function encodeConnect(f: ConnectFields): Uint8Array {
  const protocol = utf8("MQTT", "protocol name");
  const clientId = utf8(f.clientId, "client id");
  const username = f.username === undefined ? undefined : utf8(f.username, "username");
  const password = f.password === undefined ? undefined : utf8(f.password, "password");
  const flags = (username ? 0x80 : 0) | (password ? 0x40 : 0) | (f.clean ? 0x02 : 0);
  const remaining = 2 + protocol.length + 1 + 1 + 2 + 2 + clientId.length +
    (username ? 2 + username.length : 0) + (password ? 2 + password.length : 0);
  const w = new Writer(PACKET.connect << 4, remaining);
  w.str(protocol);
  w.u8(4);
  w.u8(flags);
  w.u16(f.keepAlive);
  w.str(clientId);
  if (username) w.str(username);
  if (password) w.str(password);
  return w.bytes;
}

/** PUBLISH; `packetId` is required for QoS 1. */
export function encodePublish(
  topic: Uint8Array,
  payload: Uint8Array,
  qos: 0 | 1,
  packetId = 0,
  dup = false,
): Uint8Array {
  const w = new Writer(
    (PACKET.publish << 4) | (dup ? 0x08 : 0) | (qos << 1),
    2 + topic.length + (qos > 0 ? 2 : 0) + payload.length,
  );
  w.str(topic);
  if (qos > 0) w.u16(packetId);
  w.raw(payload);
  return w.bytes;
}

/**
 * QoS 1 PUBLISH of text topic and payload, encoded straight into the packet
 * (one allocation per message on the hot path of a drain).
 */
export function encodePublishText(topic: string, payload: string, packetId: number): Uint8Array {
  const topicLength = utf8Length(topic);
  if (topicLength > 0xffff) throw new RangeError("MQTT topic is longer than 65535 bytes");
  const w = new Writer((PACKET.publish << 4) | (1 << 1), 2 + topicLength + 2 + utf8Length(payload));
  w.u16(topicLength);
  w.text(topic, topicLength);
  w.u16(packetId);
  w.text(payload, w.bytes.length - w.at);
  return w.bytes;
}

/** A topic name as UTF-8, checked for MQTT's length limit. */
export function topicBytes(topic: string): Uint8Array {
  return utf8(topic, "topic");
}

/** PUBACK for `packetId`. */
export function encodePuback(packetId: number): Uint8Array {
  const w = new Writer(PACKET.puback << 4, 2);
  w.u16(packetId);
  return w.bytes;
}

/** SUBSCRIBE (fixed flags 0b0010). */
export function encodeSubscribe(
  packetId: number,
  filters: { topic: string; qos: 0 | 1 }[],
): Uint8Array {
  const encoded = filters.map((f) => ({ b: utf8(f.topic, "topic filter"), qos: f.qos }));
  const w = new Writer(
    (PACKET.subscribe << 4) | 0x02,
    2 + encoded.reduce((n, f) => n + 3 + f.b.length, 0),
  );
  w.u16(packetId);
  for (const f of encoded) {
    w.str(f.b);
    w.u8(f.qos);
  }
  return w.bytes;
}

/** PINGREQ. */
export const PINGREQ: Uint8Array = Uint8Array.of(PACKET.pingreq << 4, 0);
/** DISCONNECT. */
export const DISCONNECT: Uint8Array = Uint8Array.of(PACKET.disconnect << 4, 0);

/** A packet received from the server. */
export type Packet =
  | { type: "connack"; sessionPresent: boolean; returnCode: number }
  | {
    type: "publish";
    topic: string;
    payload: Uint8Array;
    qos: number;
    packetId?: number;
    dup: boolean;
    retain: boolean;
  }
  | { type: "puback"; packetId: number }
  | { type: "suback"; packetId: number; granted: number[] }
  | { type: "unsuback"; packetId: number }
  | { type: "pingresp" };

/** Thrown for bytes that are not a valid MQTT 3.1.1 server packet. */
export class ProtocolError extends Error {}

function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

function decodePacket(first: number, body: Uint8Array): Packet {
  const type = first >> 4;
  switch (type) {
    case PACKET.connack:
      if (body.length !== 2) throw new ProtocolError("CONNACK must be 2 bytes");
      return { type: "connack", sessionPresent: (body[0] & 1) === 1, returnCode: body[1] };
    case PACKET.puback:
      if (body.length !== 2) throw new ProtocolError("PUBACK must be 2 bytes");
      return { type: "puback", packetId: u16(body, 0) };
    case PACKET.unsuback:
      if (body.length !== 2) throw new ProtocolError("UNSUBACK must be 2 bytes");
      return { type: "unsuback", packetId: u16(body, 0) };
    case PACKET.suback:
      if (body.length < 3) throw new ProtocolError("SUBACK is too short");
      return { type: "suback", packetId: u16(body, 0), granted: [...body.subarray(2)] };
    case PACKET.pingresp:
      if (body.length !== 0) throw new ProtocolError("PINGRESP must be empty");
      return { type: "pingresp" };
    case PACKET.publish: {
      const qos = (first >> 1) & 3;
      if (qos === 3) throw new ProtocolError("PUBLISH with QoS 3");
      if (body.length < 2) throw new ProtocolError("PUBLISH is too short");
      const topicLength = u16(body, 0);
      let at = 2 + topicLength;
      if (at > body.length) throw new ProtocolError("PUBLISH topic runs past the packet");
      let topic: string;
      try {
        topic = decoder.decode(body.subarray(2, at));
      } catch {
        throw new ProtocolError("PUBLISH topic is not UTF-8");
      }
      let packetId: number | undefined;
      if (qos > 0) {
        if (at + 2 > body.length) throw new ProtocolError("PUBLISH packet id missing");
        packetId = u16(body, at);
        at += 2;
      }
      return {
        type: "publish",
        topic,
        payload: body.slice(at),
        qos,
        ...(packetId !== undefined ? { packetId } : {}),
        dup: (first & 0x08) !== 0,
        retain: (first & 0x01) !== 0,
      };
    }
    default:
      throw new ProtocolError(`unexpected packet type ${type} from the server`);
  }
}

/**
 * Reassembles packets from a byte stream that arrives in arbitrary chunks.
 *
 * @example
 * ```ts
 * const reader = new PacketReader();
 * for (const packet of reader.push(chunk)) handle(packet);
 * ```
 */
export class PacketReader {
  #buffer: Uint8Array = new Uint8Array(0);
  /** Packets larger than this are a protocol error (memory bound). @default 1 MiB */
  constructor(readonly maxPacket = 1024 * 1024) {}

  /** Adds bytes; returns every packet now complete, in order. */
  push(chunk: Uint8Array): Packet[] {
    let data = chunk;
    if (this.#buffer.length > 0) {
      data = new Uint8Array(this.#buffer.length + chunk.length);
      data.set(this.#buffer);
      data.set(chunk, this.#buffer.length);
    }
    const packets: Packet[] = [];
    let at = 0;
    while (at < data.length) {
      // Fixed header: type/flags byte, then 1-4 bytes of remaining length.
      let remaining = 0;
      let multiplier = 1;
      let i = at + 1;
      let complete = false;
      for (let n = 0; n < 4 && i < data.length; n++, i++) {
        remaining += (data[i] & 0x7f) * multiplier;
        multiplier *= 128;
        if ((data[i] & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
        if (n === 3) throw new ProtocolError("malformed remaining length");
      }
      if (!complete) break;
      if (remaining > this.maxPacket) {
        throw new ProtocolError(`a ${remaining}-byte packet is too large`);
      }
      if (i + remaining > data.length) break;
      packets.push(decodePacket(data[at], data.subarray(i, i + remaining)));
      at = i + remaining;
    }
    this.#buffer = at === data.length ? new Uint8Array(0) : data.slice(at);
    return packets;
  }
}
