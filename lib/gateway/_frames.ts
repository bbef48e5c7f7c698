/**
 * The one MQTT 3.1.1 packet the dev gateway writes itself: PUBLISH to a
 * device. The gateway owns the packet ids of everything it sends, so it can
 * match each PUBACK to its C2D message or method call (aedes keeps no
 * outgoing state for clean sessions and routes by topic, not by client).
 *
 * @module
 */

/** A PUBLISH to encode. */
export interface PublishFrame {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
  /** Packet id, 1-65535; required for QoS 1. */
  messageId?: number;
  /** Redelivery of a message not yet acknowledged. */
  dup?: boolean;
}

/** Encodes a PUBLISH packet (MQTT 3.1.1 §3.3). */
export function encodePublish(frame: PublishFrame): Uint8Array {
  const topic = new TextEncoder().encode(frame.topic);
  if (topic.length > 0xffff) throw new RangeError("topic longer than 65535 bytes");
  if (frame.qos > 0 && !(frame.messageId && frame.messageId <= 0xffff)) {
    throw new RangeError("a QoS 1 PUBLISH needs a packet id from 1 to 65535");
  }
  const remaining = 2 + topic.length + (frame.qos > 0 ? 2 : 0) + frame.payload.length;
  const length = varint(remaining);
  const out = new Uint8Array(1 + length.length + remaining);
  out[0] = 0x30 | (frame.dup ? 0x08 : 0) | (frame.qos << 1);
  out.set(length, 1);
  let at = 1 + length.length;
  out[at++] = topic.length >> 8;
  out[at++] = topic.length & 0xff;
  out.set(topic, at);
  at += topic.length;
  if (frame.qos > 0) {
    out[at++] = frame.messageId! >> 8;
    out[at++] = frame.messageId! & 0xff;
  }
  out.set(frame.payload, at);
  return out;
}

/** MQTT's variable-length "remaining length" encoding. */
function varint(value: number): number[] {
  if (value > 268_435_455) throw new RangeError("packet larger than 256 MB");
  const bytes: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return bytes;
}
