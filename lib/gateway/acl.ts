/**
 * What an authenticated client may publish and subscribe to at the dev
 * gateway. Pure functions over topic strings.
 *
 * edgeHub's inbound templates are telemetry on the client's own identity,
 * twin GET / reported PATCH and method responses; its outbound ones are C2D,
 * twin responses, desired patches and method requests (gateway-anchors.md
 * §3.3). Anything else closes the connection here, so a mistake shows at once.
 *
 * @module
 */
import type { DecodedBag } from "../iothub/properties.ts";
import { decodePropertyBag } from "../iothub/properties.ts";
import { type Identity, parseDeviceTopic } from "../iothub/topics.ts";

/** The largest telemetry message edgeHub and IoT Hub accept: topic + payload. */
export const MAX_TELEMETRY_BYTES = 256 * 1024;

/** What a PUBLISH from a device means and what to do with it. */
export type PublishVerdict =
  | { kind: "telemetry"; bag: DecodedBag }
  | { kind: "drop"; reason: string }
  | { kind: "twin-get"; rid: string }
  | { kind: "twin-reported"; rid: string }
  | { kind: "method-response"; status: number; rid: string }
  | { kind: "forbidden"; reason: string };

/** `d` or `d/m`. */
export function identityId(id: Identity): string {
  return id.moduleId ? `${id.deviceId}/${id.moduleId}` : id.deviceId;
}

/**
 * Classifies a PUBLISH of `identity` to `topic` with `payloadBytes` bytes.
 * `forbidden` closes the connection; `drop` is acknowledged and discarded,
 * as edgeHub does with oversize messages and malformed property bags.
 */
export function classifyPublish(
  identity: Identity,
  topic: string,
  payloadBytes: number,
): PublishVerdict {
  const parsed = parseDeviceTopic(topic);
  switch (parsed.kind) {
    case "telemetry": {
      const target = parsed.identity;
      if (target.deviceId !== identity.deviceId || target.moduleId !== identity.moduleId) {
        return {
          kind: "forbidden",
          reason: `publish to "${topic}" is not on its own identity "${identityId(identity)}"`,
        };
      }
      const size = new TextEncoder().encode(topic).length + payloadBytes;
      if (size > MAX_TELEMETRY_BYTES) {
        return { kind: "drop", reason: `message is ${size} bytes, over the 262144-byte limit` };
      }
      try {
        return { kind: "telemetry", bag: decodePropertyBag(parsed.bag) };
      } catch {
        return { kind: "drop", reason: "malformed property bag" };
      }
    }
    case "twin-get":
    case "twin-reported":
    case "method-response":
      return parsed;
    default:
      return { kind: "forbidden", reason: `publish to "${topic}" is not allowed` };
  }
}

/** What a SUBSCRIBE filter asks for. */
export type SubscriptionKind = "c2d" | "twin-response" | "twin-desired" | "methods" | "inputs";

/**
 * The kind of a subscription filter `identity` may hold, or undefined when the
 * filter is refused (SUBACK 128). The filter shapes are edgeHub's
 * SessionStateParser's (gateway-anchors.md §3.3).
 */
export function classifySubscription(
  identity: Identity,
  filter: string,
): SubscriptionKind | undefined {
  if (filter === "$iothub/twin/res/#") return "twin-response";
  if (filter.startsWith("$iothub/twin/PATCH/properties/desired/")) return "twin-desired";
  if (filter.startsWith("$iothub/methods/POST/")) return "methods";
  if (identity.moduleId === undefined) {
    if (filter === `devices/${identity.deviceId}/messages/devicebound/#`) return "c2d";
  } else if (filter === `devices/${identity.deviceId}/modules/${identity.moduleId}/inputs/#`) {
    return "inputs";
  }
  return undefined;
}

/** Whether `topic` matches the MQTT filter `filter` (`+` and `#` wildcards). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
