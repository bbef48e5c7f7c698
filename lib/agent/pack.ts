/**
 * Cost-aware packing: IoT Hub meters device-to-cloud messages in 4 KB units
 * and throttles per message, so consecutive ticks can travel in one message
 * whose JSON body is an array of ticks, each keeping its own `seq` and
 * timestamp. Pure: choosing a group and building its body and topic.
 *
 * Each tick stays its own row in the outbox (durability is unchanged); the
 * sender groups rows at send time. A packed message's `$.mid` names its first
 * and last seq, so a resend of the same group is recognisable; receivers
 * dedupe ticks on `seq`.
 *
 * @module
 */
import { encodePropertyBag } from "../iothub/properties.ts";
import { type Identity, telemetryTopic } from "../iothub/topics.ts";
import { MAX_MESSAGE_BYTES } from "./message.ts";
import { utf8Length } from "../utf8.ts";

/** Options of packing (config `telemetry.batch`). */
export interface PackOptions {
  /** Largest message (topic + body bytes). @default 4096 */
  maxBytes: number;
  /** Send a partly filled message once its oldest tick is this old, ms. @default 30000 */
  maxDelay: number;
}

/** Defaults of {@linkcode PackOptions}. */
export const PACK_DEFAULTS: PackOptions = { maxBytes: 4096, maxDelay: 30_000 };

/** A row to pack: its seq, id, creation time and JSON body. */
export interface PackRow {
  seq: number;
  mid: string;
  created: number;
  body: string;
}

/** The topic of a packed message for `rows` (first to last). */
export function packedTopic(identity: Identity, rows: PackRow[]): string {
  const first = rows[0];
  const last = rows[rows.length - 1];
  return telemetryTopic(
    identity,
    encodePropertyBag({
      messageId: rows.length === 1 ? first.mid : `${first.mid}.${last.seq}`,
      contentType: "application/json",
      contentEncoding: "utf-8",
      creationTime: new Date(first.created).toISOString(),
    }),
  );
}

/** The JSON body of a packed message: an array of the ticks' bodies. */
export function packedBody(rows: PackRow[]): string {
  return `[${rows.map((r) => r.body).join(",")}]`;
}

/** A chosen group: how many rows, its size, and whether it is full. */
export interface Group {
  count: number;
  bytes: number;
  /** True when the next row did not fit (so waiting would not fill it more). */
  full: boolean;
}

/**
 * Takes rows greedily from the front while topic + `[` + bodies + commas +
 * `]` stays within `maxBytes` (at least one row, and never over IoT Hub's
 * 256 KB limit). `topicBytes` is the size of the packed topic.
 */
export function chooseGroup(rows: PackRow[], maxBytes: number, topicBytes: number): Group {
  const limit = Math.min(maxBytes, MAX_MESSAGE_BYTES);
  let bytes = topicBytes + 2; // "[" and "]"
  let count = 0;
  for (const row of rows) {
    const add = utf8Length(row.body) + (count > 0 ? 1 : 0);
    if (count > 0 && bytes + add > limit) return { count, bytes, full: true };
    bytes += add;
    count++;
  }
  return { count, bytes, full: false };
}
