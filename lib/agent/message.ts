/**
 * Shapes readings into the telemetry message leaf sends: a JSON body with
 * the device id, `seq` and each reading's own timestamp, plus the system
 * properties IoT Hub routes on.
 *
 * @module
 */
import type { Reading } from "../sensors/reading.ts";
import { encodePropertyBag } from "../iothub/properties.ts";
import { type Identity, telemetryTopic } from "../iothub/topics.ts";

/** IoT Hub's device-to-cloud message limit (topic properties count too). */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** The JSON body of one telemetry message. */
export interface TelemetryBody {
  deviceId: string;
  /** Per-device sequence number: +1 per message, survives restarts. */
  seq: number;
  /** Time of the earliest reading (ISO 8601). */
  ts: string;
  readings: { sensor: string; name: string; value: number; unit: string; ts: string }[];
  [extra: string]: unknown;
}

/** Builds the body for one tick's readings. */
export function shapeBody(
  deviceId: string,
  seq: number,
  readings: Reading[],
  now: number,
): TelemetryBody {
  const first = readings.length > 0 ? Math.min(...readings.map((r) => r.ts)) : now;
  return {
    deviceId,
    seq,
    ts: new Date(first).toISOString(),
    readings: readings.map((r) => ({
      sensor: r.sensor,
      name: r.name,
      value: r.value,
      unit: r.unit,
      ts: new Date(r.ts).toISOString(),
    })),
  };
}

/** A message ready to publish. */
export interface OutgoingMessage {
  topic: string;
  payload: string;
  messageId: string;
}

/** Options of {@linkcode buildMessage}. */
export interface BuildMessageOptions {
  identity: Identity;
  messageId: string;
  /** Creation time, ms since the epoch (`$.ctime`). */
  createdAt: number;
  /** JSON body text. */
  body: string;
  /** Custom application properties. */
  properties?: Record<string, string>;
}

/** Builds topic and payload; the caller checks the size with {@linkcode messageSize}. */
export function buildMessage(options: BuildMessageOptions): OutgoingMessage {
  const bag = encodePropertyBag(
    {
      messageId: options.messageId,
      contentType: "application/json",
      contentEncoding: "utf-8",
      creationTime: new Date(options.createdAt).toISOString(),
    },
    options.properties ?? {},
  );
  return {
    topic: telemetryTopic(options.identity, bag),
    payload: options.body,
    messageId: options.messageId,
  };
}

/** Bytes of topic plus payload, as IoT Hub counts them against its limit. */
export function messageSize(message: Pick<OutgoingMessage, "topic" | "payload">): number {
  const enc = new TextEncoder();
  return enc.encode(message.topic).length + enc.encode(message.payload).length;
}
