/**
 * The dev gateway's device list: who may connect and how they prove it.
 *
 * edgeHub authenticates children against its device-scope identity cache,
 * where each identity has exactly one authentication type (symmetric key,
 * self-signed X.509 by thumbprint, or CA-signed X.509) and a status
 * (gateway-anchors.md §2.1, §2.2). This registry is that cache, filled from
 * `--device` specs and a `--devices` YAML file.
 *
 * @example
 * ```ts
 * const registry = createRegistry([parseDeviceSpec("pi-01:c2VjcmV0c2VjcmV0")]);
 * registry.get("pi-01")?.auth; // "sas"
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { mayHoldSecret, quoteArg } from "../log.ts";
import { Secret } from "../secret.ts";

/** How an identity authenticates. */
export type DeviceAuthKind = "sas" | "x509-thumbprint" | "x509-ca";

/** Primary and optional secondary symmetric key (base64). */
export interface KeyPair {
  primary: Secret;
  secondary?: Secret;
}

/** A module identity under a device (symmetric keys only, as edgeHub requires). */
export interface ModuleEntry {
  id: string;
  keys: KeyPair;
}

/** One device identity. */
export interface DeviceEntry {
  id: string;
  auth: DeviceAuthKind;
  /** Keys, when `auth` is `sas`. */
  keys?: KeyPair;
  /** Uppercase hex SHA-1 (40) or SHA-256 (64) thumbprints, when `auth` is `x509-thumbprint`. */
  thumbprints?: string[];
  /** A disabled identity is refused (CONNACK 5). @default true */
  enabled: boolean;
  /** Module identities by id. */
  modules: ReadonlyMap<string, ModuleEntry>;
}

/** Devices by id. */
export type Registry = ReadonlyMap<string, DeviceEntry>;

/** IoT Hub's device/module id alphabet (up to 128 characters). */
const ID_PATTERN = /^[A-Za-z0-9\-.+%_#*?!(),:=@$']{1,128}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
const ID_HINT = "use 1-128 letters, digits and - . + % _ # * ? ! ( ) , : = @ $ '";
const SPEC_HINT = "use --device ID:KEY, --device ID:x509:THUMBPRINT or --device ID:x509-ca";

/**
 * Normalises a thumbprint (colons and spaces removed, uppercase); undefined
 * when it is not 40 (SHA-1) or 64 (SHA-256) hex digits.
 */
export function normalizeThumbprint(text: string): string | undefined {
  const hex = text.replace(/[:\s]/g, "").toUpperCase();
  return /^(?:[0-9A-F]{40}|[0-9A-F]{64})$/.test(hex) ? hex : undefined;
}

/** Whether `text` is a non-empty, well-formed base64 key. */
export function isBase64Key(text: string): boolean {
  if (text.length % 4 !== 0 || !BASE64_PATTERN.test(text)) return false;
  try {
    return atob(text).length > 0;
  } catch {
    return false;
  }
}

/**
 * Parses one `--device` value: `ID:KEY`, `ID:x509:THUMBPRINT` or
 * `ID:x509-ca`. The id ends at the first colon, so ids containing `:` need
 * the `--devices` file.
 */
export function parseDeviceSpec(spec: string): DeviceEntry {
  const colon = spec.indexOf(":");
  if (colon <= 0 || colon === spec.length - 1) {
    throw new ConfigError(`--device ${redactSpec(spec)} is not ID:KEY`, { hint: SPEC_HINT });
  }
  const id = spec.slice(0, colon);
  const rest = spec.slice(colon + 1);
  checkId(id, mayHoldSecret(id) ? "--device" : `--device "${id}:…"`);
  if (rest === "x509-ca") return device(id, "x509-ca");
  if (rest.startsWith("x509:")) {
    const thumbprint = normalizeThumbprint(rest.slice(5));
    if (!thumbprint) {
      throw new ConfigError(`--device "${id}:x509:…": the thumbprint is not 40 or 64 hex digits`, {
        hint:
          "copy the SHA-1 or SHA-256 thumbprint, e.g. from `leaf certs device --id ID --out DIR`",
      });
    }
    return device(id, "x509-thumbprint", { thumbprints: [thumbprint] });
  }
  if (!isBase64Key(rest)) {
    throw new ConfigError(`--device "${id}:…": the key is not base64`, {
      hint: `${SPEC_HINT}; copy the device's primary key exactly`,
    });
  }
  return device(id, "sas", { keys: { primary: new Secret(rest) } });
}

/** A spec with anything after the id replaced, so keys never reach messages. */
function redactSpec(spec: string): string {
  const colon = spec.indexOf(":");
  const id = colon < 0 ? spec : spec.slice(0, colon);
  if (mayHoldSecret(id)) return "(not shown: it may hold a secret)";
  return colon < 0 ? `"${id}"` : `"${id}:…"`;
}

/** Throws a {@linkcode ConfigError} naming `where` when `id` is not a valid IoT Hub id. */
export function checkId(id: string, where: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new ConfigError(`${where}: ${quoteArg(id, "the id")} is not a valid IoT Hub id`, {
      hint: ID_HINT,
    });
  }
}

function device(
  id: string,
  auth: DeviceAuthKind,
  extra: Partial<DeviceEntry> = {},
): DeviceEntry {
  return { id, auth, enabled: true, modules: new Map(), ...extra };
}

/** Builds the registry; the same device id twice is a {@linkcode ConfigError}. */
export function createRegistry(entries: Iterable<DeviceEntry>): Registry {
  const registry = new Map<string, DeviceEntry>();
  for (const entry of entries) {
    if (registry.has(entry.id)) {
      throw new ConfigError(`Device "${entry.id}" is listed twice`, {
        hint: "keep one entry per device id across --device and --devices",
      });
    }
    registry.set(entry.id, entry);
  }
  return registry;
}
