/**
 * IoT Hub shared access signatures (SAS tokens), with WebCrypto HMAC-SHA256.
 *
 * Token: `SharedAccessSignature sr=<enc(resource)>&sig=<enc(base64 hmac)>[&skn=<name>]&se=<expiry>`;
 * the HMAC key is the base64-decoded device key and the signed text is
 * `<enc(resource)>\n<expiry>`. The resource is always the hub's host, never
 * the gateway's: `{HostName}/devices/{DeviceId}[/modules/{ModuleId}]`.
 *
 * @module
 */
import { Secret } from "../secret.ts";
import type { ConnectionString } from "./connection_string.ts";

/**
 * `encodeURIComponent` that also escapes `!'()*`, byte for byte as the official
 * Node SDK does: lower-case hex, so `*` is `%2a`. The signature covers `sr` as
 * sent, so IoT Hub and edgeHub accept either case; matching keeps tokens equal.
 */
export function encodeUriComponentStrict(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

/** The SAS audience (unencoded) for a device or module identity. */
export function sasResourceUri(
  cs: Pick<ConnectionString, "hostName" | "deviceId" | "moduleId">,
): string {
  const device = `${cs.hostName}/devices/${cs.deviceId}`;
  return cs.moduleId ? `${device}/modules/${cs.moduleId}` : device;
}

/** Options of {@linkcode createSasToken}. */
export interface SasTokenOptions {
  /** Unencoded audience, e.g. from {@linkcode sasResourceUri}. */
  resourceUri: string;
  /** Base64 symmetric key. */
  key: Secret | string;
  /** Expiry, seconds since the Unix epoch. */
  expiry: number;
  /** Policy name, only for policy keys. */
  keyName?: string;
}

/** Base64 HMAC-SHA256 of `text` with the base64-decoded `key`. */
export async function hmacSha256Base64(key: string, text: string): Promise<string> {
  const raw = Uint8Array.from(atob(key), (c) => c.charCodeAt(0));
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    raw,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", cryptoKey, new TextEncoder().encode(text));
  let binary = "";
  for (const b of new Uint8Array(mac)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * Creates a SAS token for `resourceUri` valid until `expiry`.
 *
 * @example
 * ```ts
 * const token = await createSasToken({
 *   resourceUri: "hub.azure-devices.net/devices/pi-01",
 *   key: new Secret("c2VjcmV0"),
 *   expiry: 1_900_000_000,
 * });
 * ```
 */
export async function createSasToken(options: SasTokenOptions): Promise<Secret> {
  const key = typeof options.key === "string" ? options.key : options.key.reveal();
  const sr = encodeUriComponentStrict(options.resourceUri);
  const se = String(Math.floor(options.expiry));
  const sig = encodeUriComponentStrict(await hmacSha256Base64(key, `${sr}\n${se}`));
  const skn = options.keyName === undefined
    ? ""
    : `&skn=${encodeUriComponentStrict(options.keyName)}`;
  return new Secret(`SharedAccessSignature sr=${sr}&sig=${sig}${skn}&se=${se}`);
}

/** The fields of a SAS token, URL-decoded. */
export interface ParsedSasToken {
  /** Audience, decoded. */
  sr: string;
  /** Audience exactly as sent (the signed text uses this form). */
  srEncoded: string;
  /** Base64 signature, decoded. */
  sig: string;
  /** Expiry, seconds since the Unix epoch. */
  se: number;
  /** Policy name, when present. */
  skn?: string;
}

/** Parses a token; returns undefined when it is not a SAS token. */
export function parseSasToken(token: string): ParsedSasToken | undefined {
  const prefix = "SharedAccessSignature ";
  if (!token.startsWith(prefix)) return undefined;
  const fields = new Map<string, string>();
  for (const part of token.slice(prefix.length).split("&")) {
    const eq = part.indexOf("=");
    if (eq <= 0) return undefined;
    const name = part.slice(0, eq);
    if (fields.has(name)) return undefined;
    fields.set(name, part.slice(eq + 1));
  }
  const srEncoded = fields.get("sr");
  const sig = fields.get("sig");
  const se = fields.get("se");
  if (!srEncoded || !sig || !se || !/^\d+$/.test(se)) return undefined;
  try {
    const skn = fields.get("skn");
    return {
      sr: decodeURIComponent(srEncoded),
      srEncoded,
      sig: decodeURIComponent(sig),
      se: Number(se),
      ...(skn !== undefined ? { skn: decodeURIComponent(skn) } : {}),
    };
  } catch {
    return undefined;
  }
}

/** True when `token`'s signature was made with `key` (constant-time compare). */
export async function verifySasSignature(
  token: ParsedSasToken,
  key: Secret | string,
): Promise<boolean> {
  const raw = typeof key === "string" ? key : key.reveal();
  let expected: string;
  try {
    expected = await hmacSha256Base64(raw, `${token.srEncoded}\n${token.se}`);
  } catch {
    return false;
  }
  const a = new TextEncoder().encode(expected);
  const b = new TextEncoder().encode(token.sig);
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
