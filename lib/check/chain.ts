/**
 * Explains a server certificate chain against the pinned CA: does it lead
 * there, is an intermediate missing, does the leaf name the gateway host,
 * and is every certificate valid now. Pure: certificates in, problems out,
 * the clock injected.
 *
 * Deno's TLS reports an expired server certificate as
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, so dates are read here, not inferred
 * from error codes (../shared/guide/FACTS.md).
 *
 * @example
 * ```ts
 * const { problems } = diagnoseChain({ presented, anchors, host: "gw.local", now: new Date() });
 * for (const p of problems) console.log(p.severity, p.finding);
 * ```
 *
 * @module
 */
import type { X509Certificate } from "node:crypto";
import { type CertificateInfo, describeCertificate } from "../trust/pem.ts";
import { hostMatchesSan } from "./san.ts";

/** Warn when a certificate ends within this many ms. @default 7 days */
export const EXPIRY_WARNING_MS = 7 * 86_400_000;

/** What can be wrong with a presented chain. */
export type ChainProblemKind =
  | "empty"
  | "untrusted-root"
  | "missing-intermediate"
  | "unknown-issuer"
  | "same-name-other-key"
  | "expired"
  | "not-yet-valid"
  | "expiring"
  | "hostname";

/** One problem found in the chain. */
export interface ChainProblem {
  kind: ChainProblemKind;
  /** `fail` makes the handshake fail; `warn` does not (yet). */
  severity: "fail" | "warn";
  finding: string;
  fix: string;
}

/** Input of {@linkcode diagnoseChain}. */
export interface ChainInput {
  /** The certificates the server presented, leaf first. */
  presented: X509Certificate[];
  /** The pinned CA certificates (the CA file). */
  anchors: X509Certificate[];
  /** The name the client verifies (GatewayHostName). */
  host: string;
  now: Date;
  /** @default EXPIRY_WARNING_MS */
  warnWithinMs?: number;
}

/** The result of {@linkcode diagnoseChain}. */
export interface ChainDiagnosis {
  /** Fail-severity problems first, in the order that explains the failure best. */
  problems: ChainProblem[];
  /** True when the chain links, signature by signature, to a pinned certificate. */
  leadsToPin: boolean;
}

const HOSTNAME_FIX =
  "the connection string's GatewayHostName must equal the hostname in the gateway's /etc/aziot/config.toml (and its certificate's SAN)";

/** `"CN=a"`, quoted, for messages. */
function q(subject: string): string {
  return `"${subject}"`;
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function selfSigned(x: X509Certificate): boolean {
  return x.subject === x.issuer && issuedBy(x, x);
}

function fingerprintOf(x: X509Certificate): string {
  return x.fingerprint256;
}

function days(ms: number): string {
  const d = Math.floor(Math.abs(ms) / 86_400_000);
  if (d >= 1) return `${d} day${d === 1 ? "" : "s"}`;
  const h = Math.floor(Math.abs(ms) / 3_600_000);
  return h >= 1 ? `${h} hour${h === 1 ? "" : "s"}` : "less than an hour";
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function sameNameOtherKey(name: string, served?: string, pin?: string): ChainProblem {
  const prints = served && pin
    ? ` (served SHA-256 ${served.slice(0, 23)}…, pinned ${pin.slice(0, 23)}…)`
    : "";
  return {
    kind: "same-name-other-key",
    severity: "fail",
    finding: `the chain leads to a root named ${
      q(name)
    } like the pinned root, but it is another certificate with another key${prints}: the CA was regenerated`,
    fix:
      "copy the gateway's current root CA (the file its config.toml trust_bundle_cert names) to this device and pin that",
  };
}

/** Follows the chain from the leaf to a pinned certificate, or says where it breaks. */
function trustProblems(presented: X509Certificate[], anchors: X509Certificate[]): {
  problems: ChainProblem[];
  leadsToPin: boolean;
} {
  const pinned = anchors.map((a) => describeCertificate(a).subject);
  const pinnedText = pinned.map(q).join(", ") || "(none)";
  const pins = new Set(anchors.map(fingerprintOf));
  const seen = new Set<X509Certificate>();
  let cur = presented[0];
  while (!seen.has(cur)) {
    seen.add(cur);
    if (pins.has(fingerprintOf(cur)) || anchors.some((a) => issuedBy(cur, a))) {
      return { problems: [], leadsToPin: true };
    }
    const info = describeCertificate(cur);
    if (selfSigned(cur) && pinned.includes(info.subject)) {
      const pin = anchors.map(describeCertificate).find((a) => a.subject === info.subject)!;
      return {
        leadsToPin: false,
        problems: [sameNameOtherKey(info.subject, info.sha256, pin.sha256)],
      };
    }
    if (selfSigned(cur)) {
      return {
        leadsToPin: false,
        problems: [{
          kind: "untrusted-root",
          severity: "fail",
          finding: `the chain leads to the root ${
            q(info.subject)
          }, not to the pinned root ${pinnedText}`,
          fix:
            "pin the root CA the gateway's certificates were issued under (copy its azure-iot-test-only.root.ca.cert.pem or your production root), or reissue the gateway's certificates under the pinned root",
        }],
      };
    }
    const next = presented.find((p) => !seen.has(p) && issuedBy(cur, p));
    if (next) {
      cur = next;
      continue;
    }
    if (pinned.includes(info.issuer)) {
      return { leadsToPin: false, problems: [sameNameOtherKey(info.issuer)] };
    }
    if (cur === presented[0] && presented.length === 1 && !info.isCa) {
      return {
        leadsToPin: false,
        problems: [{
          kind: "missing-intermediate",
          severity: "fail",
          finding: `intermediate missing: the server sent only its own certificate; its issuer ${
            q(info.issuer)
          } was not sent and is not the pinned CA ${pinnedText}`,
          fix:
            "make the gateway serve the full chain (for IoT Edge, [edge_ca] cert = the …-full-chain.cert.pem), or add the intermediate to the pinned CA file",
        }],
      };
    }
    return {
      leadsToPin: false,
      problems: [{
        kind: cur === presented[0] ? "missing-intermediate" : "unknown-issuer",
        severity: "fail",
        finding: `the chain stops at ${q(info.subject)}: its issuer ${
          q(info.issuer)
        } was not sent and is not the pinned root ${pinnedText}`,
        fix:
          "an intermediate is missing from the gateway's chain (serve the full chain), or the gateway's certificates come from another root: pin that root",
      }],
    };
  }
  return {
    leadsToPin: false,
    problems: [{
      kind: "unknown-issuer",
      severity: "fail",
      finding: "the presented chain loops",
      fix: "reissue the gateway's certificates",
    }],
  };
}

function validityProblems(infos: CertificateInfo[], now: Date, within: number): ChainProblem[] {
  const out: ChainProblem[] = [];
  const t = now.getTime();
  infos.forEach((c, i) => {
    const which = i === 0 ? "the server certificate" : `chain certificate ${i}`;
    if (c.notAfter.getTime() < t) {
      out.push({
        kind: "expired",
        severity: "fail",
        finding: `${which} ${q(c.subject)} expired on ${iso(c.notAfter)} (${
          days(t - c.notAfter.getTime())
        } ago)`,
        fix:
          "renew it on the gateway (IoT Edge test certificates last 30 days) and restart edgeHub; if the date is wrong, fix this device's clock",
      });
    } else if (c.notBefore.getTime() > t) {
      out.push({
        kind: "not-yet-valid",
        severity: "fail",
        finding: `${which} ${q(c.subject)} is not valid until ${iso(c.notBefore)} (in ${
          days(c.notBefore.getTime() - t)
        })`,
        fix: `check this device's clock (it reads ${
          iso(now)
        }); if it is right, the gateway's clock was ahead when it issued the certificate`,
      });
    } else if (c.notAfter.getTime() - t < within) {
      out.push({
        kind: "expiring",
        severity: "warn",
        finding: `${which} ${q(c.subject)} expires on ${iso(c.notAfter)} (in ${
          days(c.notAfter.getTime() - t)
        })`,
        fix:
          "renew it on the gateway before then (edgeHub renews its own server certificate only while the Edge CA is valid)",
      });
    }
  });
  return out;
}

/** Diagnoses a presented chain; see {@linkcode ChainDiagnosis}. */
export function diagnoseChain(input: ChainInput): ChainDiagnosis {
  const { presented, anchors, host, now } = input;
  if (presented.length === 0) {
    return {
      leadsToPin: false,
      problems: [{
        kind: "empty",
        severity: "fail",
        finding: "the server presented no certificate",
        fix: "check that the port is edgeHub's MQTT over TLS port (8883)",
      }],
    };
  }
  const infos = presented.map(describeCertificate);
  const trust = trustProblems(presented, anchors);
  const validity = validityProblems(infos, now, input.warnWithinMs ?? EXPIRY_WARNING_MS);
  const leaf = infos[0];
  const hostname: ChainProblem[] = [];
  if (!hostMatchesSan(host, leaf.subjectAltNames)) {
    hostname.push({
      kind: "hostname",
      severity: "fail",
      finding: leaf.subjectAltNames.length === 0
        ? `the server certificate has no subjectAltName (subject ${
          q(leaf.subject)
        }), and TLS checks only SANs: "${host}" is not in it`
        : `"${host}" is not in the server certificate's SANs: ${leaf.subjectAltNames.join(", ")}`,
      fix: HOSTNAME_FIX,
    });
  }
  const all = [...trust.problems, ...validity, ...hostname];
  return {
    leadsToPin: trust.leadsToPin,
    problems: [
      ...all.filter((p) => p.severity === "fail"),
      ...all.filter((p) => p.severity === "warn"),
    ],
  };
}
