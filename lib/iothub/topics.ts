/**
 * Topic names of IoT Hub's device MQTT dialect: telemetry, cloud-to-device,
 * twin and direct methods. Pure functions: built on the device, parsed on the
 * dev gateway.
 *
 * @module
 */

/** A device or module identity. */
export interface Identity {
  deviceId: string;
  moduleId?: string;
}

/** `devices/{d}[/modules/{m}]` */
export function identityPrefix(id: Identity): string {
  return id.moduleId ? `devices/${id.deviceId}/modules/${id.moduleId}` : `devices/${id.deviceId}`;
}

/** Telemetry topic with its property bag appended (no trailing slash). */
export function telemetryTopic(id: Identity, bag: string): string {
  return `${identityPrefix(id)}/messages/events/${bag}`;
}

/** Subscription filter for cloud-to-device messages. */
export function c2dFilter(id: Identity): string {
  return `devices/${id.deviceId}/messages/devicebound/#`;
}

/** Topic the gateway publishes a C2D message on. */
export function c2dTopic(id: Identity, bag: string): string {
  return `devices/${id.deviceId}/messages/devicebound/${bag}`;
}

/** Twin and method topics (the same for devices and modules). */
export const TWIN_RESPONSE_FILTER = "$iothub/twin/res/#";
export const TWIN_DESIRED_FILTER = "$iothub/twin/PATCH/properties/desired/#";
export const METHODS_FILTER = "$iothub/methods/POST/#";

/** `$iothub/twin/GET/?$rid=<rid>` */
export function twinGetTopic(rid: string): string {
  return `$iothub/twin/GET/?$rid=${encodeURIComponent(rid)}`;
}

/** `$iothub/twin/PATCH/properties/reported/?$rid=<rid>` */
export function twinReportedTopic(rid: string): string {
  return `$iothub/twin/PATCH/properties/reported/?$rid=${encodeURIComponent(rid)}`;
}

/** `$iothub/twin/res/<status>/?$rid=<rid>[&$version=<v>]` */
export function twinResponseTopic(status: number, rid: string, version?: number): string {
  const v = version === undefined ? "" : `&$version=${version}`;
  return `$iothub/twin/res/${status}/?$rid=${encodeURIComponent(rid)}${v}`;
}

/** `$iothub/twin/PATCH/properties/desired/?$version=<v>` */
export function twinDesiredTopic(version: number): string {
  return `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
}

/** `$iothub/methods/POST/<name>/?$rid=<rid>` */
export function methodRequestTopic(name: string, rid: string): string {
  return `$iothub/methods/POST/${name}/?$rid=${encodeURIComponent(rid)}`;
}

/** `$iothub/methods/res/<status>/?$rid=<rid>` */
export function methodResponseTopic(status: number, rid: string): string {
  return `$iothub/methods/res/${status}/?$rid=${encodeURIComponent(rid)}`;
}

/** What a topic a device publishes to means. */
export type DeviceTopic =
  | { kind: "telemetry"; identity: Identity; bag: string }
  | { kind: "twin-get"; rid: string }
  | { kind: "twin-reported"; rid: string }
  | { kind: "method-response"; status: number; rid: string }
  | { kind: "unknown" };

function queryParam(query: string, name: string): string | undefined {
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(0, eq) === name) {
      try {
        return decodeURIComponent(pair.slice(eq + 1));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Classifies a topic a device published to. */
export function parseDeviceTopic(topic: string): DeviceTopic {
  // edgeHub's templates accept ".../messages/events" with or without the trailing "/".
  const telemetry = /^devices\/([^/]+)(?:\/modules\/([^/]+))?\/messages\/events(?:\/(.*))?$/.exec(
    topic,
  );
  if (telemetry) {
    const [, deviceId, moduleId, bag = ""] = telemetry;
    return {
      kind: "telemetry",
      identity: { deviceId, ...(moduleId ? { moduleId } : {}) },
      bag: bag.endsWith("/") ? bag.slice(0, -1) : bag,
    };
  }
  const twinGet = /^\$iothub\/twin\/GET\/\?(.*)$/.exec(topic);
  if (twinGet) {
    const rid = queryParam(twinGet[1], "$rid");
    return rid === undefined ? { kind: "unknown" } : { kind: "twin-get", rid };
  }
  const reported = /^\$iothub\/twin\/PATCH\/properties\/reported\/\?(.*)$/.exec(topic);
  if (reported) {
    const rid = queryParam(reported[1], "$rid");
    return rid === undefined ? { kind: "unknown" } : { kind: "twin-reported", rid };
  }
  const methodRes = /^\$iothub\/methods\/res\/(\d{3})\/\?(.*)$/.exec(topic);
  if (methodRes) {
    const rid = queryParam(methodRes[2], "$rid");
    return rid === undefined
      ? { kind: "unknown" }
      : { kind: "method-response", status: Number(methodRes[1]), rid };
  }
  return { kind: "unknown" };
}

/** What a topic the gateway publishes to a device means. */
export type CloudTopic =
  | { kind: "twin-response"; status: number; rid: string; version?: number }
  | { kind: "twin-desired"; version?: number }
  | { kind: "method-request"; name: string; rid: string }
  | { kind: "c2d"; bag: string }
  | { kind: "unknown" };

/** Classifies a topic received from the gateway. */
export function parseCloudTopic(topic: string): CloudTopic {
  const res = /^\$iothub\/twin\/res\/(\d{3})\/\?(.*)$/.exec(topic);
  if (res) {
    const rid = queryParam(res[2], "$rid");
    const version = queryParam(res[2], "$version");
    if (rid === undefined) return { kind: "unknown" };
    return {
      kind: "twin-response",
      status: Number(res[1]),
      rid,
      ...(version !== undefined ? { version: Number(version) } : {}),
    };
  }
  const desired = /^\$iothub\/twin\/PATCH\/properties\/desired\/(?:\?(.*))?$/.exec(topic);
  if (desired) {
    const version = queryParam(desired[1] ?? "", "$version");
    return { kind: "twin-desired", ...(version !== undefined ? { version: Number(version) } : {}) };
  }
  const method = /^\$iothub\/methods\/POST\/([^/]+)\/\?(.*)$/.exec(topic);
  if (method) {
    const rid = queryParam(method[2], "$rid");
    return rid === undefined
      ? { kind: "unknown" }
      : { kind: "method-request", name: method[1], rid };
  }
  const c2d = /^devices\/[^/]+\/messages\/devicebound\/(.*)$/.exec(topic);
  if (c2d) return { kind: "c2d", bag: c2d[1] };
  return { kind: "unknown" };
}
