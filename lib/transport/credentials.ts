/**
 * Everything a connection attempt needs, prepared once from config: the
 * pinned CA (read and parsed up front), the identity's username and client id,
 * and a fresh SAS token (or the X.509 certificate) for each attempt.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { AuthError, ConfigError } from "../errors.ts";
import type { GatewayTarget } from "../config/target.ts";
import { authMode, clientIdOf } from "../iothub/connection_string.ts";
import { createSasToken, parseSasToken, sasResourceUri } from "../iothub/sas.ts";
import { buildUsername } from "../iothub/username.ts";
import { loadCaFile } from "../trust/pem.ts";
import { Secret } from "../secret.ts";
import { USER_AGENT } from "../version.ts";
import type { SessionOptions } from "./mqtt.ts";

/** Timing knobs for sessions (from config `gateway` and `auth`). */
export interface ConnectionTiming {
  keepAliveMs: number;
  connectTimeoutMs: number;
  ackTimeoutMs: number;
  /** SAS token lifetime in ms. */
  tokenLifetimeMs: number;
}

/** Session options for one attempt, and when its credentials expire. */
export interface Attempt {
  options: SessionOptions;
  /** Token expiry (ms since epoch); undefined for X.509. */
  expiresAt?: number;
  /** True when a fresh token can be made (renewal as a planned reconnect). */
  renewable: boolean;
}

/** Prepares connection attempts to `target`. */
export interface Connector {
  /** The target this connector dials. */
  target: GatewayTarget;
  /** Builds options (with a fresh token) for one connection attempt. */
  attempt(now?: number): Promise<Attempt>;
}

async function readPem(path: string, what: string, flag: string): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    if (!text.includes("-----BEGIN ")) {
      throw new ConfigError(`${what} "${path}" is not PEM`, {
        hint: `set ${flag} to the PEM file`,
      });
    }
    return text;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${what} "${path}" cannot be read (${(error as Error).name})`, {
      hint: `set ${flag} to a readable PEM file`,
      cause: error,
    });
  }
}

/** The connection string's own SAS token, checked: malformed → exit 2, expired → exit 4. */
function fixedToken(target: GatewayTarget, now: number): { token: Secret; expiresAt: number } {
  const token = target.cs.sharedAccessSignature!;
  const parsed = parseSasToken(token.reveal());
  if (!parsed) {
    throw new ConfigError(
      "The connection string's SharedAccessSignature is not a valid SAS token",
      {
        hint:
          "paste the whole token (SharedAccessSignature sr=...&sig=...&se=...), or use SharedAccessKey so leaf makes its own",
      },
    );
  }
  if (parsed.se * 1000 <= now) {
    throw new AuthError(
      `The connection string's SharedAccessSignature expired at ${
        new Date(parsed.se * 1000).toISOString()
      }`,
      {
        code: "token_expired",
        hint: "use SharedAccessKey so leaf renews tokens, or generate a new token",
      },
    );
  }
  return { token, expiresAt: parsed.se * 1000 };
}

/**
 * The device certificate parses, its key parses, and they belong together:
 * each mistake (files swapped, a stale key) is a config error naming the file,
 * not a TLS failure later.
 */
function checkDeviceIdentity(
  certPem: string,
  key: Secret,
  files: { cert: string; key: string },
): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (cause) {
    throw new ConfigError(`Device certificate "${files.cert}" does not hold a certificate`, {
      hint:
        "set auth.x509.cert or --cert to the device's certificate (full chain) PEM, and --key to its private key",
      cause,
    });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key.reveal());
  } catch (cause) {
    throw new ConfigError(`Device key "${files.key}" does not hold a private key`, {
      hint: "set auth.x509.key or --key to the device's private key PEM (not the certificate)",
      cause,
    });
  }
  if (!cert.checkPrivateKey(privateKey)) {
    throw new ConfigError(
      `Device key "${files.key}" does not belong to the certificate "${files.cert}"`,
      {
        hint: "use the key that was generated with this certificate",
      },
    );
  }
}

/** Reads the CA (and X.509 files) now, so bad files fail before any dialling. */
export async function createConnector(
  target: GatewayTarget,
  timing: ConnectionTiming,
): Promise<Connector> {
  const ca = await loadCaFile(target.caFile, "CA file");
  const clientId = clientIdOf(target.cs);
  const username = buildUsername(target.cs.hostName, clientId, USER_AGENT);
  const mode = authMode(target.cs);
  let cert: string | undefined;
  let key: Secret | undefined;
  if (mode === "x509") {
    cert = await readPem(target.x509!.cert, "Device certificate", "auth.x509.cert or --cert");
    key = new Secret(await readPem(target.x509!.key, "Device key", "auth.x509.key or --key"));
    checkDeviceIdentity(cert, key, target.x509!);
  }
  // A fixed token is checked now: a malformed or expired one can never work.
  if (mode === "sas-token") fixedToken(target, Date.now());
  const base: Omit<SessionOptions, "password"> = {
    host: target.host,
    ...(target.address ? { address: target.address } : {}),
    port: target.port,
    ca: ca.pem,
    caFile: target.caFile,
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    clientId,
    username,
    keepAliveSeconds: Math.round(timing.keepAliveMs / 1000),
    connectTimeoutMs: timing.connectTimeoutMs,
    ackTimeoutMs: timing.ackTimeoutMs,
  };
  return {
    target,
    async attempt(now = Date.now()) {
      if (mode === "x509") return { options: { ...base }, renewable: false };
      if (mode === "sas-token") {
        const { token, expiresAt } = fixedToken(target, now);
        // A fixed token cannot be renewed: no planned reconnect before it ends.
        return { options: { ...base, password: token }, expiresAt, renewable: false };
      }
      const expiry = Math.floor((now + timing.tokenLifetimeMs) / 1000);
      const password = await createSasToken({
        resourceUri: sasResourceUri(target.cs),
        key: target.cs.sharedAccessKey!,
        expiry,
        ...(target.cs.sharedAccessKeyName ? { keyName: target.cs.sharedAccessKeyName } : {}),
      });
      return { options: { ...base, password }, expiresAt: expiry * 1000, renewable: true };
    },
  };
}
