/**
 * The MQTT username of IoT Hub's device dialect, built and parsed.
 *
 * Built: `{HostName}/{clientId}/?api-version=2021-04-12&DeviceClientType=<enc(agent)>`.
 * Parsed as edgeHub does: `host/device[/module]/?props` (the legacy form
 * without `?` too); the host segment is not checked; `api-version` is
 * mandatory and non-empty, its value is not checked.
 *
 * @module
 */

/** The service API version the official Node SDK sends. */
export const API_VERSION = "2021-04-12";

/** Builds the username for `hostName` (the hub) and `clientId`. */
export function buildUsername(hostName: string, clientId: string, clientType: string): string {
  return `${hostName}/${clientId}/?api-version=${API_VERSION}&DeviceClientType=${
    encodeURIComponent(clientType)
  }`;
}

/** A username as the gateway reads it. */
export interface ParsedUsername {
  /** First segment (the hub or gateway name; not checked by edgeHub). */
  host: string;
  deviceId: string;
  moduleId?: string;
  /** Query parameters, URL-decoded. */
  params: Record<string, string>;
}

/**
 * Parses a username; returns a reason string when it is not acceptable.
 * A missing `api-version` is reported as `"api-version"`.
 */
export function parseUsername(username: string): ParsedUsername | { error: string } {
  // As edgeHub: split on "/" first, since ids may contain "?". The last segment
  // is the query when it starts with "?", or (legacy) when it has api-version=.
  const segments = username.split("/");
  const last = segments[segments.length - 1];
  let query = "";
  if (last.startsWith("?")) query = segments.pop()!.slice(1);
  else if (segments.length > 1 && last.includes("api-version=")) query = segments.pop()!;
  if (segments.length < 2 || segments.length > 3 || segments.some((s) => s === "")) {
    return { error: "segments" };
  }
  const params: Record<string, string> = {};
  for (const pair of query.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? "" : pair.slice(eq + 1);
    try {
      const key = decodeURIComponent(k);
      if (!Object.hasOwn(params, key)) params[key] = decodeURIComponent(v); // edgeHub keeps the first
    } catch {
      return { error: "encoding" };
    }
  }
  // edgeHub does not check the value, but refuses an empty one.
  if ((params["api-version"] ?? "").trim() === "") return { error: "api-version" };
  const [host, deviceId, moduleId] = segments;
  return { host, deviceId, ...(moduleId !== undefined ? { moduleId } : {}), params };
}
