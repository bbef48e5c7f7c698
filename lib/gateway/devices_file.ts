/**
 * The `--devices` file of the dev gateway: a YAML list of identities, read
 * once at start-up. Every error names the file, the entry and the field.
 *
 * ```yaml
 * - id: pi-01
 *   key: <base64>
 *   secondaryKey: <base64>        # optional
 *   modules: [{ id: collector, key: <base64> }]
 * - id: cam-01
 *   thumbprint: <SHA-1 or SHA-256 hex>   # self-signed X.509
 * - id: cam-02
 *   x509Ca: true                  # CA-signed: chain to the gateway root, CN = id
 *   enabled: false                # refused (CONNACK 5)
 * ```
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../errors.ts";
import { Secret } from "../secret.ts";
import {
  checkId,
  type DeviceAuthKind,
  type DeviceEntry,
  isBase64Key,
  type KeyPair,
  type ModuleEntry,
  normalizeThumbprint,
} from "./registry.ts";

const DEVICE_FIELDS = [
  "id",
  "key",
  "secondaryKey",
  "thumbprint",
  "secondaryThumbprint",
  "x509Ca",
  "enabled",
  "modules",
] as const;
const MODULE_FIELDS = ["id", "key", "secondaryKey"] as const;

/**
 * Parses a devices file: a YAML list of
 * `{id, key?, secondaryKey?, thumbprint?, secondaryThumbprint?, x509Ca?, enabled?, modules?: [{id, key, secondaryKey?}]}`.
 * Errors name `source`, the entry and the field.
 */
export function parseDevicesYaml(text: string, source: string): DeviceEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
    throw new ConfigError(`Devices file "${source}" is not valid YAML (${reason})`, {
      cause,
      hint: "fix the YAML syntax",
    });
  }
  if (!Array.isArray(doc)) {
    throw new ConfigError(`Devices file "${source}" must be a YAML list of devices`, {
      hint: 'write entries like "- id: pi-01" with "key: <base64>"',
    });
  }
  return doc.map((raw, i) => parseDeviceEntry(raw, `Devices file "${source}", entry ${i + 1}`));
}

function parseDeviceEntry(raw: unknown, where: string): DeviceEntry {
  const entry = asRecord(raw, where, DEVICE_FIELDS);
  const id = requireString(entry, "id", where);
  checkId(id, `${where}, field "id"`);
  const at = `${where} ("${id}")`;
  const keys = keyPair(entry, at);
  const thumbprints = ["thumbprint", "secondaryThumbprint"].flatMap((field) => {
    const value = optionalString(entry, field, at);
    if (value === undefined) return [];
    const thumbprint = normalizeThumbprint(value);
    if (!thumbprint) {
      throw new ConfigError(`${at}, field "${field}": not 40 or 64 hex digits`, {
        hint: "use the certificate's SHA-1 or SHA-256 thumbprint",
      });
    }
    return [thumbprint];
  });
  const x509Ca = optionalBoolean(entry, "x509Ca", at) ?? false;
  const kinds = [keys && "key", thumbprints.length > 0 && "thumbprint", x509Ca && "x509Ca"]
    .filter(Boolean);
  if (kinds.length !== 1) {
    throw new ConfigError(
      kinds.length === 0
        ? `${at} has no credentials`
        : `${at} sets ${kinds.map((k) => `"${k}"`).join(" and ")}`,
      { hint: 'give exactly one of "key", "thumbprint" or "x509Ca: true"' },
    );
  }
  if (entry.secondaryThumbprint !== undefined && entry.thumbprint === undefined) {
    throw new ConfigError(`${at}: "secondaryThumbprint" without "thumbprint"`, {
      hint: 'set "thumbprint" first',
    });
  }
  const modules = new Map<string, ModuleEntry>();
  if (entry.modules !== undefined) {
    if (!Array.isArray(entry.modules)) {
      throw new ConfigError(`${at}, field "modules": must be a list`, {
        hint: "write modules as a list of {id, key}",
      });
    }
    entry.modules.forEach((rawModule, j) => {
      const mWhere = `${at}, module ${j + 1}`;
      const m = asRecord(rawModule, mWhere, MODULE_FIELDS);
      const mid = requireString(m, "id", mWhere);
      checkId(mid, `${mWhere}, field "id"`);
      const mKeys = keyPair(m, `${mWhere} ("${mid}")`);
      if (!mKeys) {
        throw new ConfigError(`${mWhere} ("${mid}") has no "key"`, {
          hint: "modules authenticate with symmetric keys only",
        });
      }
      if (modules.has(mid)) {
        throw new ConfigError(`${mWhere}: module "${mid}" appears twice`, { hint: "keep one" });
      }
      modules.set(mid, { id: mid, keys: mKeys });
    });
  }
  const enabled = optionalBoolean(entry, "enabled", at) ?? true;
  const auth: DeviceAuthKind = keys ? "sas" : x509Ca ? "x509-ca" : "x509-thumbprint";
  return {
    id,
    auth,
    enabled,
    modules,
    ...(keys ? { keys } : {}),
    ...(thumbprints.length > 0 ? { thumbprints } : {}),
  };
}

function keyPair(entry: Record<string, unknown>, where: string): KeyPair | undefined {
  const primary = optionalString(entry, "key", where);
  const secondary = optionalString(entry, "secondaryKey", where);
  if (secondary !== undefined && primary === undefined) {
    throw new ConfigError(`${where}: "secondaryKey" without "key"`, { hint: 'set "key" first' });
  }
  for (const [field, value] of [["key", primary], ["secondaryKey", secondary]] as const) {
    if (value !== undefined && !isBase64Key(value)) {
      throw new ConfigError(`${where}, field "${field}": not base64`, {
        hint: "copy the key exactly as IoT Hub shows it",
      });
    }
  }
  if (primary === undefined) return undefined;
  return {
    primary: new Secret(primary),
    ...(secondary !== undefined ? { secondary: new Secret(secondary) } : {}),
  };
}

function asRecord(
  raw: unknown,
  where: string,
  fields: readonly string[],
): Record<string, unknown> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(`${where} is not a mapping`, { hint: 'write it as "- id: <device id>"' });
  }
  const record = raw as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!fields.includes(key)) {
      const id = typeof record.id === "string" ? ` ("${record.id}")` : "";
      throw new ConfigError(`${where}${id}: unknown field "${key}"`, {
        hint: `known fields are ${fields.join(", ")}`,
      });
    }
  }
  return record;
}

function requireString(entry: Record<string, unknown>, field: string, where: string): string {
  const value = optionalString(entry, field, where);
  if (value === undefined) {
    throw new ConfigError(`${where}: field "${field}" is missing`, { hint: `add "${field}"` });
  }
  return value;
}

function optionalString(
  entry: Record<string, unknown>,
  field: string,
  where: string,
): string | undefined {
  const value = entry[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value.trim() === "") {
    throw new ConfigError(`${where}, field "${field}": must be a non-empty string`, {
      hint: "quote the value if YAML reads it as a number or boolean",
    });
  }
  return value.trim();
}

function optionalBoolean(
  entry: Record<string, unknown>,
  field: string,
  where: string,
): boolean | undefined {
  const value = entry[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") {
    throw new ConfigError(`${where}, field "${field}": must be true or false`, {
      hint: `write "${field}: true"`,
    });
  }
  return value;
}

/** Reads and parses a devices file; unreadable files are a {@linkcode ConfigError}. */
export async function loadDevicesFile(path: string): Promise<DeviceEntry[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    const reason = cause instanceof Deno.errors.NotFound ? "does not exist" : "cannot be read";
    throw new ConfigError(`Devices file "${path}" ${reason}`, {
      cause,
      hint: "pass --devices with the path of a YAML list of devices",
    });
  }
  return parseDevicesYaml(text, path);
}
