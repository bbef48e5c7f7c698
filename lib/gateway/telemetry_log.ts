/**
 * The dev gateway's telemetry record: one JSON object per accepted message,
 * appended synchronously to `--out` before the PUBACK goes out (edgeHub acks
 * only after storing, gateway-anchors.md §3.2), plus a readable stdout line.
 *
 * @example
 * ```ts
 * using log = await TelemetryLog.open("/tmp/telemetry.jsonl");
 * log.append(toRecord({ deviceId: "pi-01" }, bag, payload, new Date()));
 * ```
 *
 * @module
 */
import { type DecodedBag, flattenBag } from "../iothub/properties.ts";
import type { Identity } from "../iothub/topics.ts";
import { ConfigError } from "../errors.ts";

/** One accepted telemetry message as written to `--out`. */
export interface TelemetryRecord {
  deviceId: string;
  moduleId?: string;
  /** ISO 8601 time the gateway received it. */
  receivedAt: string;
  /** Decoded property bag, system properties (`$.mid`, `$.ct`, ...) first. */
  properties: Record<string, string>;
  /** The body parsed as JSON, or the body as a string when it is not JSON. */
  body: unknown;
}

/** Extra application properties edgeHub adds for MQTT flags (gateway-anchors.md §3.2). */
export interface PublishFlags {
  retain?: boolean;
  dup?: boolean;
}

/** Builds the record of a message. */
export function toRecord(
  identity: Identity,
  bag: DecodedBag,
  payload: Uint8Array,
  receivedAt: Date,
  flags: PublishFlags = {},
): TelemetryRecord {
  const properties = flattenBag(bag);
  if (flags.retain) properties["mqtt-retain"] = "true";
  if (flags.dup) properties["mqtt-dup"] = "true";
  return {
    deviceId: identity.deviceId,
    ...(identity.moduleId !== undefined ? { moduleId: identity.moduleId } : {}),
    receivedAt: receivedAt.toISOString(),
    properties,
    body: parseBody(payload),
  };
}

/** A body as JSON when it parses, else as text. */
export function parseBody(payload: Uint8Array): unknown {
  const text = new TextDecoder().decode(payload);
  if (text.trim() === "") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Shortens `text` to `max` characters with an ellipsis. */
export function truncate(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The stdout line of a message: time, identity, `$.mid`, body (about 120 characters). */
export function formatTelemetryLine(record: TelemetryRecord): string {
  const time = record.receivedAt.slice(11, 23);
  const who = record.moduleId ? `${record.deviceId}/${record.moduleId}` : record.deviceId;
  const mid = record.properties["$.mid"] ?? "-";
  const body = typeof record.body === "string" ? record.body : JSON.stringify(record.body);
  return `${time} ${who} mid=${mid} ${truncate(body.replace(/\s+/g, " "))}`;
}

/** The loud line of a dropped message. */
export function formatDroppedLine(who: string, topic: string, reason: string): string {
  return `DROPPED ${who}: ${reason} (acknowledged, not recorded; topic ${truncate(topic, 80)})`;
}

/** An append-only JSON-lines file, written synchronously so a PUBACK follows the write. */
export class TelemetryLog implements Disposable {
  #file: Deno.FsFile;
  readonly path: string;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /** Opens (creates) `path` for appending. Unwritable paths are a {@linkcode ConfigError}. */
  static async open(path: string): Promise<TelemetryLog> {
    try {
      const file = await Deno.open(path, { append: true, create: true });
      return new TelemetryLog(path, file);
    } catch (cause) {
      const reason = cause instanceof Error
        ? cause.message.replace(/ \(os error \d+\).*$/s, "")
        : "";
      throw new ConfigError(`Cannot open --out file "${path}" for appending (${reason})`, {
        cause,
        hint: "choose a writable path; its folder must exist",
      });
    }
  }

  /** Appends one record as a line; returns after the bytes are handed to the OS. */
  append(record: TelemetryRecord): void {
    const bytes = new TextEncoder().encode(`${JSON.stringify(record)}\n`);
    let written = 0;
    while (written < bytes.length) written += this.#file.writeSync(bytes.subarray(written));
  }

  /** Closes the file. */
  close(): void {
    try {
      this.#file.close();
    } catch { /* already closed */ }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
