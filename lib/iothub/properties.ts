/**
 * IoT Hub message property bags: the URL-encoded `k=v&k=v` suffix of a topic.
 *
 * System properties (`$.mid`, `$.ct`, ...) are written as the official Node
 * SDK writes them, with the `$` percent-encoded (`%24.mid=...`); IoT Hub and
 * edgeHub read both forms. Custom properties are `enc(key)=enc(value)`.
 *
 * @module
 */

/** System properties leaf sets on telemetry, by wire name. */
export interface SystemProperties {
  /** `$.mid`: message id, unique per message; receivers dedupe on it. */
  messageId?: string;
  /** `$.cid`: correlation id. */
  correlationId?: string;
  /** `$.uid`: user id. */
  userId?: string;
  /** `$.to`: destination. */
  to?: string;
  /** `$.ct`: content type, e.g. `application/json`. */
  contentType?: string;
  /** `$.ce`: content encoding, e.g. `utf-8`. */
  contentEncoding?: string;
  /** `$.ctime`: creation time (ISO 8601). */
  creationTime?: string;
  /** `$.exp`: absolute expiry (ISO 8601). */
  expiryTime?: string;
}

/** Wire names in the order the Node SDK writes them (`$.ctime` after `$.ce`). */
const SYSTEM_WIRE: [keyof SystemProperties, string][] = [
  ["messageId", "$.mid"],
  ["correlationId", "$.cid"],
  ["userId", "$.uid"],
  ["to", "$.to"],
  ["contentType", "$.ct"],
  ["contentEncoding", "$.ce"],
  ["creationTime", "$.ctime"],
  ["expiryTime", "$.exp"],
];

/** Encodes like Node's `querystring.escape` (= encodeURIComponent). */
function enc(text: string): string {
  return encodeURIComponent(text);
}

/**
 * Encodes system and custom properties into a bag.
 *
 * @example
 * ```ts
 * encodePropertyBag({ messageId: "m1", contentType: "application/json" }, { sensor: "cpu temp" });
 * // "%24.mid=m1&%24.ct=application%2Fjson&sensor=cpu%20temp"
 * ```
 */
export function encodePropertyBag(
  system: SystemProperties,
  custom: Record<string, string> = {},
): string {
  const parts: string[] = [];
  for (const [field, wire] of SYSTEM_WIRE) {
    const value = system[field];
    if (value !== undefined) parts.push(`${enc(wire)}=${enc(value)}`);
  }
  for (const [k, v] of Object.entries(custom)) parts.push(`${enc(k)}=${enc(v)}`);
  return parts.join("&");
}

/** A decoded bag: system properties by wire name (`$.mid`) and the rest. */
export interface DecodedBag {
  system: Record<string, string>;
  custom: Record<string, string>;
}

/** Decodes a bag; throws `Error("malformed property bag")` on bad encoding. */
export function decodePropertyBag(bag: string): DecodedBag {
  const system: Record<string, string> = {};
  const custom: Record<string, string> = {};
  if (bag === "") return { system, custom };
  for (const pair of bag.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      value = eq < 0 ? "" : decodeURIComponent(pair.slice(eq + 1));
    } catch (cause) {
      throw new Error("malformed property bag", { cause });
    }
    if (key === "") throw new Error("malformed property bag");
    if (key.startsWith("$.")) system[key] = value;
    else custom[key] = value;
  }
  return { system, custom };
}

/** The decoded bag as one flat object, system keys first (`$.mid`, ...). */
export function flattenBag(bag: DecodedBag): Record<string, string> {
  return { ...bag.system, ...bag.custom };
}

/** Wire name (e.g. `$.mid`) of a system property field. */
export function systemWireName(field: keyof SystemProperties): string {
  return SYSTEM_WIRE.find(([f]) => f === field)![1];
}
