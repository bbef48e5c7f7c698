/**
 * Maps what Deno's TLS and mqtt.js report into leaf's failure classes
 * (CLI.md exit codes): unreachable 5, TLS trust 3, auth 4. Pure: no I/O.
 *
 * The codes are the ones measured on this runtime (../shared/guide/FACTS.md):
 * an expired or not-yet-valid server certificate shows up as
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, not `CERT_HAS_EXPIRED`.
 *
 * @module
 */
import { AuthError, type LeafError, TrustError, UnreachableError } from "../errors.ts";
import { RELEASE_DATE } from "../version.ts";

/** What was being dialled, for messages. */
export interface DialContext {
  /** Name verified in TLS (the gateway host name). */
  host: string;
  /** Address dialled when different from `host`. */
  address?: string;
  port: number;
  /** Pinned CA file, for messages. */
  caFile?: string;
  /** Current time, for the clock check. */
  now?: Date;
}

const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_NODATA", "EAI_FAIL"]);
const NET_CODES = new Set([
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "EADDRNOTAVAIL",
  "ENETDOWN",
  "EHOSTDOWN",
]);
const TLS_UNKNOWN_CA = new Set([
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
]);
const TLS_VALIDITY = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * What a TLS client sees when the port speaks something else: plain MQTT
 * (Mosquitto on 1883 closes on the ClientHello), HTTP (answers with a
 * non-TLS record), SSH and so on. Codes that only a real TLS server causes
 * (alerts, weak keys, no common cipher or version) are left out.
 */
const TLS_SERVER_CODES = /_ALERT_|_TOO_SMALL|_TOO_WEAK|CIPHER|UNSUPPORTED_PROTOCOL|VERSION_TOO_LOW/;
const TLS_PROTOCOL_MESSAGE =
  /wrong version number|corrupt message|InvalidContentType|unexpected eof[^\n]*handshake|packet length too long|record layer failure|unknown protocol|before secure TLS connection was established/i;

/** The hint for {@linkcode isTlsProtocolError} failures, shared with `leaf check`. */
export const TLS_PROTOCOL_HINT =
  "is this MQTT over TLS (8883), not plain MQTT (1883) or another service?";

/**
 * True when a failed handshake means the server does not speak TLS (or hung
 * up on the ClientHello), as opposed to a TLS server refusing trust.
 */
export function isTlsProtocolError(code: unknown, message: string): boolean {
  if (typeof code === "string" && /^ERR_SSL_/.test(code)) return !TLS_SERVER_CODES.test(code);
  if (code !== undefined && code !== "ECONNRESET") return false;
  return TLS_PROTOCOL_MESSAGE.test(message);
}

/** MQTT 3.1.1 CONNACK return codes. */
export const CONNACK_REASONS: Record<number, string> = {
  1: "unacceptable protocol version",
  2: "identifier rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
};

/** True when the clock reads earlier than this release was made. */
export function clockIsBeforeRelease(now: Date = new Date()): boolean {
  return now.getTime() < Date.parse(`${RELEASE_DATE}T00:00:00Z`) - 86_400_000;
}

/** A TrustError explaining that the clock, not the gateway, is wrong. */
export function clockError(now: Date = new Date()): TrustError {
  return new TrustError(
    `The system clock reads ${now.toISOString()}, before this leaf release (${RELEASE_DATE})`,
    {
      code: "clock",
      hint:
        "set the time (enable NTP: timedatectl set-ntp true, or check the RTC); certificates and SAS tokens cannot be checked with a wrong clock",
    },
  );
}

function where(ctx: DialContext): string {
  const addr = ctx.address && ctx.address !== ctx.host ? ` (${ctx.address})` : "";
  return `"${ctx.host}:${ctx.port}"${addr}`;
}

/** Extracts `code` from errors of every shape mqtt.js and node:tls produce. */
export function errorCode(error: unknown): string | number | undefined {
  if (error && typeof error === "object" && "code" in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === "string" || typeof code === "number") return code;
  }
  return undefined;
}

/**
 * Classifies a connection failure. Returns undefined when the error is not a
 * known network, TLS or MQTT failure (then it is a bug, not the user's).
 */
export function classifyConnectError(error: unknown, ctx: DialContext): LeafError | undefined {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  const now = ctx.now ?? new Date();
  const target = where(ctx);

  if (typeof code === "string" && DNS_CODES.has(code)) {
    const name = ctx.address ?? ctx.host;
    return new UnreachableError(`Cannot resolve "${name}" (${code})`, {
      code: "dns",
      hint: `add it to DNS or /etc/hosts, or set gateway.address to the gateway's IP`,
      cause: error,
    });
  }
  if (isTlsProtocolError(code, message)) {
    const what = code === "ECONNRESET"
      ? "the server closed the connection during the TLS handshake"
      : "the server does not speak TLS";
    return new UnreachableError(
      `Cannot connect to ${target}: ${what} (${typeof code === "string" ? code : message})`,
      { code: "tls.protocol", hint: TLS_PROTOCOL_HINT, cause: error },
    );
  }
  if (typeof code === "string" && NET_CODES.has(code)) {
    const what = code === "ECONNREFUSED"
      ? "connection refused"
      : code === "ETIMEDOUT"
      ? "timed out"
      : code === "ECONNRESET"
      ? "connection reset"
      : `network error ${code}`;
    return new UnreachableError(`Cannot connect to ${target}: ${what}`, {
      code: code === "ECONNREFUSED" ? "refused" : "network",
      hint: code === "ECONNREFUSED"
        ? "is edgeHub running and publishing port " + ctx.port +
          "? check the gateway and its firewall"
        : "check the network path and the firewall for port " + ctx.port,
      cause: error,
    });
  }
  if (typeof code === "string" && (TLS_UNKNOWN_CA.has(code) || TLS_VALIDITY.has(code))) {
    if (clockIsBeforeRelease(now)) return clockError(now);
    const ca = ctx.caFile ? ` "${ctx.caFile}"` : "";
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
      const sans = /cert's altnames: (.*)$/.exec(message)?.[1];
      const names = sans
        ? sans.split(/,\s*/).map((n) => `"${n.replace(/^(DNS|IP Address|IP):/, "")}"`).join(", ")
        : undefined;
      return new TrustError(
        `Cannot connect to ${target}: its certificate names ${
          names ?? "other hosts"
        }, not "${ctx.host}"`,
        {
          code: "tls.hostname",
          hint:
            "set GatewayHostName to the hostname in the gateway's /etc/aziot/config.toml (or use gateway.address to dial an IP), or run `leaf check`",
          cause: error,
        },
      );
    }
    if (TLS_UNKNOWN_CA.has(code)) {
      return new TrustError(
        `Cannot connect to ${target}: its certificate chain does not lead to the pinned CA${ca} (${code})`,
        {
          code: "tls.unknown_ca",
          hint:
            "pin the gateway's root (azure-iot-test-only.root.ca.cert.pem or your production root); `leaf check` shows the chain",
          cause: error,
        },
      );
    }
    return new TrustError(
      `Cannot connect to ${target}: its certificate could not be verified with the pinned CA${ca}: expired, not yet valid, or an intermediate is missing (${code})`,
      {
        code: "tls.validity",
        hint: "run `leaf check` to see the presented chain and its dates",
        cause: error,
      },
    );
  }
  if (typeof code === "number" && code >= 1 && code <= 5) {
    if (code === 4 || code === 5) {
      if (clockIsBeforeRelease(now)) return clockError(now);
      return new AuthError(
        `The gateway at ${target} refused the device (CONNACK ${code}: ${CONNACK_REASONS[code]})`,
        {
          code: "auth",
          hint:
            "is this device registered and a child of the gateway? check the device key or certificate",
          cause: error,
        },
      );
    }
    return new AuthError(
      `The gateway at ${target} refused the connection (CONNACK ${code}: ${CONNACK_REASONS[code]})`,
      {
        code: `connack.${code}`,
        hint: code === 1
          ? "the gateway wants MQTT 3.1.1"
          : code === 3
          ? "the gateway's hub connection may be down; retry later"
          : "check the client id and DeviceId",
        cause: error,
      },
    );
  }
  if (/certificate|handshake|x509/i.test(message)) {
    if (clockIsBeforeRelease(now)) return clockError(now);
    return new TrustError(`Cannot connect to ${target}: TLS failed: ${message}`, {
      code: "tls.other",
      hint: "run `leaf check` to see the presented chain",
      cause: error,
    });
  }
  return undefined;
}
