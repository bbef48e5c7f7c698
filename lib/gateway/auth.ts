/**
 * CONNECT decisions of the dev gateway, as edgeHub makes them: a CONNACK code
 * and a one-line reason for a CONNECT packet, the TLS client certificate (if
 * any) and the device registry. Pure apart from WebCrypto: no sockets.
 *
 * Sources are the research notes, gateway-anchors.md §2.1 (fields), §2.3
 * (CONNACK codes) and edgeHub's DeviceScopeTokenAuthenticator (audience rule).
 *
 * @example
 * ```ts
 * const decision = await decideConnect(
 *   { protocolVersion: 4, clientId: "pi-01", username: "hub/pi-01/?api-version=2021-04-12", password: token },
 *   { registry, gatewayHostname: "localhost", trustRoots: [] },
 * );
 * if (decision.code !== 0) console.log(describeRefusal(decision));
 * ```
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { parseSasToken, verifySasSignature } from "../iothub/sas.ts";
import type { Identity } from "../iothub/topics.ts";
import { parseUsername } from "../iothub/username.ts";
import type { KeyPair } from "./registry.ts";
import type { DeviceAuthKind, Registry } from "./registry.ts";

/** CONNACK return codes of MQTT 3.1.1 (edgeHub produces 0, 1, 3 and 5). */
export type ConnackCode = 0 | 1 | 2 | 3 | 4 | 5;

/** What a client presented when connecting. */
export interface ConnectRequest {
  /** MQTT protocol level: 4 = 3.1.1, 3 = 3.1, 5 = 5.0. */
  protocolVersion: number;
  clientId: string;
  username?: string;
  /** The SAS token, for symmetric-key identities. */
  password?: Uint8Array | string;
  /** The TLS client certificate chain as presented, leaf first. */
  certificates?: X509Certificate[];
}

/** What the gateway authenticates against. */
export interface AuthPolicy {
  registry: Registry;
  /** The gateway's hostname (edge config `hostname`): always a valid SAS audience host. */
  gatewayHostname: string;
  /**
   * The IoT Hub host name. When set, a SAS audience host must be this or the
   * gateway hostname, as edgeHub checks; when unset any host is accepted.
   */
  hubName?: string;
  /** The gateway's trust bundle (the test root): anchors of CA-signed device certificates. */
  trustRoots: X509Certificate[];
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
}

/** The verdict on one CONNECT. */
export interface ConnectDecision {
  code: ConnackCode;
  /** Why, in words: printed on refusal; never contains a key or token. */
  reason: string;
  /** Who asked: the identity from the username, else the client id. */
  who: string;
  /** The authenticated identity (code 0 only). */
  identity?: Identity;
  /** How it authenticated (code 0 only). */
  auth?: DeviceAuthKind;
  /** When the credential stops being valid (SAS `se`, certificate notAfter), ms since the epoch. */
  expiresAt?: number;
}

const NOT_AUTHORIZED = 5;

/** The log line for a refused CONNECT. */
export function describeRefusal(decision: ConnectDecision): string {
  return `refused ${decision.who}: ${decision.reason} (CONNACK ${decision.code})`;
}

/** Decides a CONNECT the way edgeHub does (gateway-anchors.md §2.3). */
export async function decideConnect(
  request: ConnectRequest,
  policy: AuthPolicy,
): Promise<ConnectDecision> {
  const now = (policy.now ?? Date.now)();
  const who = request.clientId || "(no client id)";
  const refuse = (code: ConnackCode, reason: string, by = who): ConnectDecision => ({
    code,
    reason,
    who: by,
  });
  // edgeHub's codec accepts protocol level 4 only. (A real edgeHub drops a
  // 3.1 "MQIsdp" CONNECT without any CONNACK; answering 1 is kinder and tells
  // the client the same thing.)
  if (request.protocolVersion !== 4) {
    return refuse(1, `MQTT protocol level ${request.protocolVersion} is not 3.1.1 (level 4)`);
  }
  // Username problems are exceptions inside edgeHub's connect path → 3.
  if (request.username === undefined || request.username === "") {
    return refuse(3, "no username (expected HUB/DEVICE/?api-version=...)");
  }
  const username = parseUsername(request.username);
  if ("error" in username) {
    const reasons: Record<string, string> = {
      "api-version": "the username has no api-version parameter",
      segments: "the username is not HUB/DEVICE[/MODULE]/?api-version=...",
      encoding: "the username's parameters are not URL-encoded",
    };
    return refuse(3, reasons[username.error] ?? "the username does not parse");
  }
  const identity: Identity = {
    deviceId: username.deviceId,
    ...(username.moduleId !== undefined ? { moduleId: username.moduleId } : {}),
  };
  const id = identity.moduleId ? `${identity.deviceId}/${identity.moduleId}` : identity.deviceId;
  // edgeHub compares the client id with the identity ordinally and leaves the
  // client unauthenticated on mismatch: RefusedNotAuthorized (5), not 2.
  if (request.clientId !== id) {
    return refuse(
      NOT_AUTHORIZED,
      `client id "${request.clientId}" is not the username's identity "${id}"`,
      id,
    );
  }
  const device = policy.registry.get(identity.deviceId);
  if (!device) {
    return refuse(NOT_AUTHORIZED, "unknown device (not in the gateway's device list)", id);
  }
  const module = identity.moduleId === undefined
    ? undefined
    : device.modules.get(identity.moduleId);
  if (identity.moduleId !== undefined && !module) {
    return refuse(
      NOT_AUTHORIZED,
      `unknown module "${identity.moduleId}" of device "${device.id}"`,
      id,
    );
  }
  if (!device.enabled) return refuse(NOT_AUTHORIZED, "the device is disabled", id);

  const password = typeof request.password === "string"
    ? request.password
    : request.password && request.password.length > 0
    ? new TextDecoder().decode(request.password)
    : "";
  const accept = (auth: DeviceAuthKind, expiresAt: number): ConnectDecision => ({
    code: 0,
    reason: "accepted",
    who: id,
    identity,
    auth,
    expiresAt,
  });

  if (password !== "") {
    const result = await checkSasToken(password, identity, policy, now);
    return typeof result === "string" ? refuse(NOT_AUTHORIZED, result, id) : accept("sas", result);
  }
  if (request.certificates && request.certificates.length > 0) {
    const result = checkCertificate(request.certificates, identity, policy, now);
    return typeof result === "string"
      ? refuse(NOT_AUTHORIZED, result, id)
      : accept(device.auth, result);
  }
  return refuse(NOT_AUTHORIZED, "no password (SAS token) and no client certificate", id);
}

/** Checks a SAS token; returns its expiry (ms) or the reason it fails. */
async function checkSasToken(
  password: string,
  identity: Identity,
  policy: AuthPolicy,
  now: number,
): Promise<number | string> {
  const device = policy.registry.get(identity.deviceId)!;
  const token = parseSasToken(password);
  if (!token) {
    return "the password is not a SAS token (SharedAccessSignature sr=...&sig=...&se=...)";
  }
  if (token.skn !== undefined) {
    return `the token is signed with the policy "${token.skn}", not the device's own key`;
  }
  const parts = token.sr.split("/");
  const shaped = (parts.length === 3 || parts.length === 5) && parts[1] === "devices" &&
    (parts.length === 3 || parts[3] === "modules") && parts.every((p) => p !== "");
  if (!shaped) return `the token audience "${token.sr}" is not HOST/devices/ID[/modules/ID]`;
  const [host, , audienceDevice, , audienceModule] = parts;
  // A token for the device itself, or (module connections only) for its device:
  // edgeHub lets a module sign with its device's key (allowDeviceAuthForModule).
  let keys: KeyPair | undefined;
  let whose: string;
  if (
    audienceDevice !== identity.deviceId ||
    (audienceModule !== undefined && audienceModule !== identity.moduleId)
  ) {
    const wanted = identity.moduleId
      ? `${identity.deviceId}/${identity.moduleId}`
      : identity.deviceId;
    return `the token was issued for "${
      audienceModule ? `${audienceDevice}/${audienceModule}` : audienceDevice
    }", not "${wanted}"`;
  }
  if (audienceModule !== undefined) {
    keys = device.modules.get(audienceModule)?.keys;
    whose = "module";
  } else {
    keys = device.keys;
    whose = "device";
  }
  const hosts = [policy.gatewayHostname, policy.hubName].filter((h): h is string => !!h);
  if (policy.hubName !== undefined && !hosts.some((h) => h.toLowerCase() === host.toLowerCase())) {
    return `the token audience host "${host}" is neither the hub "${policy.hubName}" nor the gateway "${policy.gatewayHostname}"`;
  }
  if (!keys) return `the ${whose} authenticates with X.509, not a SAS token`;
  const signed = await verifySasSignature(token, keys.primary) ||
    (keys.secondary !== undefined && await verifySasSignature(token, keys.secondary));
  if (!signed) return `signature does not match the ${whose} key`;
  const expiresAt = token.se * 1000;
  if (expiresAt <= now) return `the token expired at ${new Date(expiresAt).toISOString()}`;
  return expiresAt;
}

/** Checks a client certificate; returns its notAfter (ms) or the reason it fails. */
function checkCertificate(
  chain: X509Certificate[],
  identity: Identity,
  policy: AuthPolicy,
  now: number,
): number | string {
  const device = policy.registry.get(identity.deviceId)!;
  if (identity.moduleId !== undefined) {
    return "modules cannot authenticate with X.509 at an IoT Edge gateway (use a SAS token)";
  }
  if (device.auth === "sas") {
    return "the device has symmetric keys: send a SAS token as the password";
  }
  const leaf = chain[0];
  const validity = checkValidity(leaf, now, "the client certificate");
  if (validity) return validity;
  if (device.auth === "x509-thumbprint") {
    // Self-signed: SHA-1 or SHA-256 thumbprint must match; the CN is not checked.
    const sha1 = leaf.fingerprint.replaceAll(":", "").toUpperCase();
    const sha256 = leaf.fingerprint256.replaceAll(":", "").toUpperCase();
    const ok = (device.thumbprints ?? []).some((t) => t === sha1 || t === sha256);
    return ok
      ? validTo(leaf)
      : `the certificate thumbprint ${sha1} matches no registered thumbprint`;
  }
  // CA-signed: CN must equal the device id exactly, and the chain must lead to
  // the gateway's trust bundle (not to CAs registered in IoT Hub).
  const cn = commonName(leaf);
  if (cn !== identity.deviceId) {
    return `the certificate CN ${
      cn === undefined ? "is missing" : `"${cn}"`
    } is not the device id "${identity.deviceId}"`;
  }
  const chainError = verifyChain(chain, policy.trustRoots, now);
  return chainError ?? validTo(leaf);
}

/** The subject CN of a certificate, or undefined. */
export function commonName(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split("\n")) {
    if (line.startsWith("CN=")) return line.slice(3);
  }
  return undefined;
}

function validTo(cert: X509Certificate): number {
  return (cert.validToDate ?? new Date(cert.validTo)).getTime();
}

function checkValidity(cert: X509Certificate, now: number, what: string): string | undefined {
  const from = (cert.validFromDate ?? new Date(cert.validFrom)).getTime();
  const to = validTo(cert);
  if (now < from) return `${what} is not valid before ${new Date(from).toISOString()}`;
  if (now > to) return `${what} expired at ${new Date(to).toISOString()}`;
  return undefined;
}

/**
 * Verifies that `chain` (leaf first, then what the client sent) leads to one
 * of `roots` through valid CA certificates; returns the reason it does not.
 * Only certificates the client sent are used as intermediates, as .NET does
 * for edgeHub: a device must send its intermediates.
 */
export function verifyChain(
  chain: X509Certificate[],
  roots: X509Certificate[],
  now: number,
): string | undefined {
  const signedBy = (cert: X509Certificate, issuer: X509Certificate) => {
    try {
      return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
    } catch {
      return false;
    }
  };
  let current = chain[0];
  const pool = chain.slice(1);
  for (let depth = 0; depth < 8; depth++) {
    const root = roots.find((r) => signedBy(current, r));
    if (root) return checkValidity(root, now, "the gateway's root CA");
    const next = pool.find((c) => c !== current && c.ca && signedBy(current, c));
    if (!next) {
      const issuer = current.issuer.split("\n").join(", ");
      return `the certificate chain does not lead to the gateway's root CA ("${issuer}" was not sent or is not trusted)`;
    }
    const expired = checkValidity(next, now, `the intermediate "${commonName(next) ?? "?"}"`);
    if (expired) return expired;
    current = next;
  }
  return "the certificate chain is longer than 8";
}
