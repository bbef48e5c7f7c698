/**
 * The IoT Hub device connection string, one grammar for every auth mode.
 *
 * `HostName=<hub>;DeviceId=<id>;SharedAccessKey=<base64>;GatewayHostName=<gw>`
 * with optional `ModuleId`, `SharedAccessKeyName`, `SharedAccessSignature`
 * and `x509=true`. Keys are case-sensitive, as IoT Hub writes them. Unlike the
 * official Node SDK, `GatewayHostName` is kept for `x509=true`.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { REDACTED, Secret } from "../secret.ts";

/** A parsed, validated device connection string. */
export interface ConnectionString {
  /** The IoT Hub's host name: goes into the MQTT username and the SAS audience. */
  hostName: string;
  /** The device identity. */
  deviceId: string;
  /** The module identity, when the string names one. */
  moduleId?: string;
  /** Base64 symmetric key (device key, or a policy key with `sharedAccessKeyName`). */
  sharedAccessKey?: Secret;
  /** Name of the shared access policy the key belongs to. */
  sharedAccessKeyName?: string;
  /** A ready-made SAS token (not renewable). */
  sharedAccessSignature?: Secret;
  /** The gateway to connect to (edge config `hostname`), without port. */
  gatewayHostName?: string;
  /** A port given as `GatewayHostName=host:port`. */
  gatewayPort?: number;
  /** True when the device authenticates with an X.509 certificate. */
  x509: boolean;
}

/** How the device proves its identity. */
export type AuthMode = "sas-key" | "sas-token" | "x509";

const KEYS = [
  "HostName",
  "DeviceId",
  "ModuleId",
  "SharedAccessKey",
  "SharedAccessKeyName",
  "SharedAccessSignature",
  "GatewayHostName",
  "x509",
] as const;
type Key = typeof KEYS[number];

const FIX = "use HostName=<hub>;DeviceId=<id>;SharedAccessKey=<key>;GatewayHostName=<gateway>";

/** IoT Hub's device/module id alphabet (up to 128 characters). */
const ID_PATTERN = /^[A-Za-z0-9\-.+%_#*?!(),:=@$']{1,128}$/;
/** A DNS host name or an IPv4 address (IoT Edge hostnames are RFC 1035). */
const HOST_PATTERN =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9_])?)*\.?$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** An unknown key is quoted only when it looks like a key name, not like a pasted secret. */
const KEY_NAME_PATTERN = /^[A-Za-z]{1,24}$/;

/** Values after `SharedAccessKey=`/`SharedAccessSignature=` anywhere, even with mangled separators. */
function secretsIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/SharedAccess(?:Key|Signature)\s*=\s*([^;]*)/gi)) {
    const value = m[1].trim();
    if (value.length >= 8) found.push(value); // shorter is no usable secret, and would mangle the text
  }
  return found;
}

function failer(text: string): (message: string, hint?: string) => never {
  const secrets = secretsIn(text);
  const scrub = (s: string) => secrets.reduce((out, secret) => out.replaceAll(secret, REDACTED), s);
  return (message, hint = FIX) => {
    throw new ConfigError(scrub(`Invalid connection string: ${message}`), { hint: scrub(hint) });
  };
}

/**
 * Parses a device connection string. Throws {@linkcode ConfigError} (exit 2)
 * naming the offending key; secret values never appear in the message.
 *
 * @example
 * ```ts
 * const cs = parseConnectionString(
 *   "HostName=hub.azure-devices.net;DeviceId=pi-01;SharedAccessKey=c2VjcmV0;GatewayHostName=gw.local",
 * );
 * cs.gatewayHostName; // "gw.local"
 * ```
 */
export function parseConnectionString(text: string): ConnectionString {
  const trimmed = text.trim();
  // Messages quote values, and a mangled string can hide a key in any of them.
  const fail: (message: string, hint?: string) => never = failer(trimmed);
  if (trimmed === "") fail("it is empty");
  const values = new Map<Key, string>();
  for (const [index, segment] of trimmed.split(";").entries()) {
    if (segment.trim() === "") continue; // tolerate a trailing ";"
    const eq = segment.indexOf("=");
    if (eq <= 0) {
      // Never echo the segment itself: a mangled string may put a key there.
      fail(
        eq === 0
          ? `segment ${index + 1} has a value but no key`
          : `segment ${index + 1} is not key=value`,
      );
    }
    const key = segment.slice(0, eq).trim();
    const value = segment.slice(eq + 1).trim();
    if (!(KEYS as readonly string[]).includes(key)) {
      const near = KEYS.find((k) => k.toLowerCase() === key.toLowerCase());
      fail(
        near
          ? `unknown key "${key}" (keys are case-sensitive: use "${near}")`
          : KEY_NAME_PATTERN.test(key)
          ? `unknown key "${key}"`
          : `segment ${index + 1} has an unknown key`, // never quote what may be a pasted key
        `known keys are ${KEYS.join(", ")}`,
      );
    }
    if (values.has(key as Key)) fail(`"${key}" appears twice`, "keep one of them");
    if (value === "") fail(`"${key}" is empty`);
    values.set(key as Key, value);
  }

  const hostName = values.get("HostName");
  const deviceId = values.get("DeviceId");
  if (!hostName) fail(`"HostName" is missing`, "add HostName=<your-hub>.azure-devices.net");
  if (!deviceId) fail(`"DeviceId" is missing`, "add DeviceId=<device id>");
  if (!HOST_PATTERN.test(hostName)) {
    fail(
      `"HostName" "${hostName}" is not a host name`,
      "use the hub's name, e.g. myhub.azure-devices.net, without scheme or port",
    );
  }
  if (!ID_PATTERN.test(deviceId)) {
    fail(
      `"DeviceId" "${deviceId}" has characters IoT Hub does not allow`,
      "use letters, digits and - . + % _ # * ? ! ( ) , : = @ $ '",
    );
  }
  const moduleId = values.get("ModuleId");
  if (moduleId !== undefined && !ID_PATTERN.test(moduleId)) {
    fail(
      `"ModuleId" "${moduleId}" has characters IoT Hub does not allow`,
      "use letters, digits and - . + % _ # * ? ! ( ) , : = @ $ '",
    );
  }

  const x509Text = values.get("x509");
  if (x509Text !== undefined && x509Text !== "true" && x509Text !== "false") {
    fail(
      `"x509" must be true or false, not "${x509Text}"`,
      "write x509=true for certificate authentication",
    );
  }
  const x509 = x509Text === "true";
  const key = values.get("SharedAccessKey");
  const keyName = values.get("SharedAccessKeyName");
  const signature = values.get("SharedAccessSignature");

  if (x509 && (key !== undefined || signature !== undefined)) {
    fail(
      `x509=true contradicts "${key !== undefined ? "SharedAccessKey" : "SharedAccessSignature"}"`,
      "remove the key for certificate authentication, or remove x509=true for key authentication",
    );
  }
  if (key !== undefined && signature !== undefined) {
    fail(
      `"SharedAccessKey" and "SharedAccessSignature" are both set`,
      "keep the key (leaf renews tokens from it) and remove the signature",
    );
  }
  if (keyName !== undefined && key === undefined) {
    fail(
      `"SharedAccessKeyName" is set without "SharedAccessKey"`,
      "add the policy's key, or remove SharedAccessKeyName",
    );
  }
  if (!x509 && key === undefined && signature === undefined) {
    fail(
      "it has no credentials",
      "add SharedAccessKey=<device key>, or x509=true with a device certificate",
    );
  }
  if (x509 && moduleId !== undefined) {
    fail(
      `"ModuleId" with x509=true`,
      "IoT Edge gateways accept modules with symmetric keys only: use SharedAccessKey",
    );
  }
  if (key !== undefined && (!BASE64_PATTERN.test(key) || atobLength(key) === 0)) {
    fail(
      `"SharedAccessKey" is not base64`,
      "copy the device's primary key from IoT Hub exactly as shown",
    );
  }
  if (signature !== undefined && !signature.startsWith("SharedAccessSignature ")) {
    fail(
      `"SharedAccessSignature" does not start with "SharedAccessSignature "`,
      "paste the whole token, e.g. SharedAccessSignature sr=...&sig=...&se=...",
    );
  }

  let gatewayHostName = values.get("GatewayHostName");
  let gatewayPort: number | undefined;
  if (gatewayHostName !== undefined) {
    const m = /^(.*):(\d{1,5})$/.exec(gatewayHostName);
    if (m) {
      gatewayPort = Number(m[2]);
      gatewayHostName = m[1];
      if (gatewayPort < 1 || gatewayPort > 65535) {
        fail(
          `"GatewayHostName" port ${gatewayPort} is out of range`,
          "use a port from 1 to 65535 or leave it out for 8883",
        );
      }
    }
    if (!HOST_PATTERN.test(gatewayHostName)) {
      fail(
        `"GatewayHostName" "${gatewayHostName}" is not a host name`,
        "use the hostname from the gateway's /etc/aziot/config.toml, without scheme",
      );
    }
  }

  return {
    hostName,
    deviceId,
    ...(moduleId !== undefined ? { moduleId } : {}),
    ...(key !== undefined ? { sharedAccessKey: new Secret(key) } : {}),
    ...(keyName !== undefined ? { sharedAccessKeyName: keyName } : {}),
    ...(signature !== undefined ? { sharedAccessSignature: new Secret(signature) } : {}),
    ...(gatewayHostName !== undefined ? { gatewayHostName } : {}),
    ...(gatewayPort !== undefined ? { gatewayPort } : {}),
    x509,
  };
}

function atobLength(b64: string): number {
  try {
    return atob(b64).length;
  } catch {
    return 0;
  }
}

/** The auth mode a connection string selects. */
export function authMode(cs: ConnectionString): AuthMode {
  if (cs.x509) return "x509";
  return cs.sharedAccessKey ? "sas-key" : "sas-token";
}

/** The MQTT client id: `deviceId` or `deviceId/moduleId`. */
export function clientIdOf(cs: Pick<ConnectionString, "deviceId" | "moduleId">): string {
  return cs.moduleId ? `${cs.deviceId}/${cs.moduleId}` : cs.deviceId;
}

/** The connection string with every secret replaced by `[redacted]`. */
export function redactConnectionString(cs: ConnectionString): string {
  const parts = [`HostName=${cs.hostName}`, `DeviceId=${cs.deviceId}`];
  if (cs.moduleId) parts.push(`ModuleId=${cs.moduleId}`);
  if (cs.sharedAccessKeyName) parts.push(`SharedAccessKeyName=${cs.sharedAccessKeyName}`);
  if (cs.sharedAccessKey) parts.push(`SharedAccessKey=${cs.sharedAccessKey}`);
  if (cs.sharedAccessSignature) parts.push(`SharedAccessSignature=${cs.sharedAccessSignature}`);
  if (cs.gatewayHostName) {
    parts.push(
      `GatewayHostName=${cs.gatewayHostName}${cs.gatewayPort ? `:${cs.gatewayPort}` : ""}`,
    );
  }
  if (cs.x509) parts.push("x509=true");
  return parts.join(";");
}
