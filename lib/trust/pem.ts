/**
 * PEM files and the certificates in them, read with `node:crypto`'s
 * `X509Certificate` (built into Deno, so this stays cheap on the send path).
 *
 * @example
 * ```ts
 * const ca = await loadCaFile("/etc/leaf/azure-iot-test-only.root.ca.cert.pem");
 * console.log(describeCertificate(ca.certs[0]).subject);
 * ```
 *
 * @module
 */
import { createHash, X509Certificate } from "node:crypto";
import { ConfigError } from "../errors.ts";

/** One `-----BEGIN TYPE-----` … `-----END TYPE-----` block of a PEM text. */
export interface PemBlock {
  /** The label, e.g. `CERTIFICATE`, `PRIVATE KEY`. */
  type: string;
  /** The decoded base64 body. */
  der: Uint8Array;
  /** The block re-encoded canonically: LF line ends, 64-column base64, trailing newline. */
  pem: string;
}

/** A CA file read by {@linkcode loadCaFile}. */
export interface CaFile {
  /** The path as given. */
  path: string;
  /** Only the CERTIFICATE blocks, concatenated: what `node:tls` takes as `ca`. */
  pem: string;
  /** The parsed certificates, in file order. */
  certs: X509Certificate[];
}

/** The facts about a certificate that leaf prints and checks. */
export interface CertificateInfo {
  /** Distinguished name, e.g. `CN=gw.local, O=Contoso`. */
  subject: string;
  /** Issuer's distinguished name, same format as `subject`. */
  issuer: string;
  /** Serial number as uppercase hex, whole bytes (as `openssl x509 -serial` prints it). */
  serialNumber: string;
  /** Start of validity. */
  notBefore: Date;
  /** End of validity. */
  notAfter: Date;
  /** Whether basicConstraints says CA:TRUE. */
  isCa: boolean;
  /** Subject alternative names, e.g. `["DNS:gw.local", "IP:10.0.0.1"]`. */
  subjectAltNames: string[];
  /** SHA-256 of the DER, uppercase hex bytes joined by colons. */
  sha256: string;
  /** SHA-1 of the DER, uppercase hex bytes joined by colons. */
  sha1: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const CA_HINT =
  "set gateway.caCert or --ca to the gateway's root CA, e.g. azure-iot-test-only.root.ca.cert.pem";

/**
 * Splits a PEM text into its blocks; text outside blocks is ignored.
 * Throws a {@linkcode ConfigError} naming `source` when a body is not base64.
 */
export function splitPem(text: string, source = "PEM text"): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const type = match[1];
    // RFC 1421 headers ("Proc-Type: ...") precede the base64 in legacy encrypted keys.
    const body = match[2].split(/\r?\n/).filter((line) => !line.includes(":")).join("")
      .replace(/\s+/g, "");
    let der: Uint8Array;
    try {
      der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
    } catch (cause) {
      throw new ConfigError(
        `${source}: block ${blocks.length + 1} ("${type}") is not valid base64`,
        { cause, hint: "replace it with an intact copy of the file" },
      );
    }
    blocks.push({ type, der, pem: encodePem(type, der) });
  }
  return blocks;
}

/** Encodes `der` as a PEM block with the label `type`. */
export function encodePem(type: string, der: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < der.length; i += 0x8000) {
    binary += String.fromCharCode(...der.subarray(i, i + 0x8000));
  }
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join("\n")}\n-----END ${type}-----\n`;
}

/**
 * Reads a PEM file of CA certificates (the pinned gateway root, usually).
 * Throws a one-line {@linkcode ConfigError} (exit 2) when the file cannot be
 * read, is not PEM, holds only a private key, or holds a certificate that
 * does not parse. `what` names the file in messages.
 */
export async function loadCaFile(path: string, what = "CA file"): Promise<CaFile> {
  const label = `${what} "${path}"`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (cause) {
    throw new ConfigError(`${label} cannot be read (${ioReason(cause)})`, {
      cause,
      hint: CA_HINT,
    });
  }
  if (bytes.length === 0) throw new ConfigError(`${label} is empty`, { hint: CA_HINT });
  const text = new TextDecoder().decode(bytes);
  const blocks = splitPem(text, label);
  if (blocks.length === 0) {
    const hint = bytes[0] === 0x30
      ? `it looks like DER: convert it with \`openssl x509 -inform der -in ${path} -out ${path}.pem\``
      : CA_HINT;
    throw new ConfigError(`${label} is not PEM (no "-----BEGIN CERTIFICATE-----" line)`, { hint });
  }
  const certBlocks = blocks.filter((b) => b.type === "CERTIFICATE");
  if (certBlocks.length === 0) {
    const types = [...new Set(blocks.map((b) => b.type))].join(", ");
    if (blocks.every((b) => b.type.endsWith("PRIVATE KEY"))) {
      throw new ConfigError(`${label} contains only a private key, not a certificate`, {
        hint: `${CA_HINT}; a device never needs the CA's key`,
      });
    }
    throw new ConfigError(`${label} contains no CERTIFICATE block (found ${types})`, {
      hint: CA_HINT,
    });
  }
  const certs = certBlocks.map((block, i) => {
    try {
      return new X509Certificate(block.der);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new ConfigError(
        `${label}: certificate ${i + 1} of ${certBlocks.length} does not parse (${reason})`,
        { cause, hint: "replace the file with an intact copy of the gateway's root CA" },
      );
    }
  });
  return { path, pem: certBlocks.map((b) => b.pem).join(""), certs };
}

/** Whether the certificate may issue others (basicConstraints CA:TRUE). */
export function isCaCertificate(x: X509Certificate): boolean {
  return x.ca;
}

/** The subject, issuer, validity, SANs and fingerprints of a certificate. */
export function describeCertificate(x: X509Certificate): CertificateInfo {
  const raw = x.raw;
  return {
    subject: x.subject.split("\n").join(", "),
    issuer: x.issuer.split("\n").join(", "),
    serialNumber: evenHex(x.serialNumber.toUpperCase()),
    notBefore: x.validFromDate ?? new Date(x.validFrom),
    notAfter: x.validToDate ?? new Date(x.validTo),
    isCa: isCaCertificate(x),
    subjectAltNames: parseSubjectAltName(x.subjectAltName),
    sha256: fingerprint("sha256", raw),
    sha1: fingerprint("sha1", raw),
  };
}

/** `DNS:a, IP Address:10.0.0.1` (Node's format) → `["DNS:a", "IP:10.0.0.1"]`. */
function parseSubjectAltName(text: string | undefined): string[] {
  if (!text) return [];
  return text.split(/, (?=[A-Za-z ]+:)/).map((entry) => entry.replace(/^IP Address:/, "IP:"));
}

function evenHex(hex: string): string {
  return hex.length % 2 === 1 ? `0${hex}` : hex;
}

function fingerprint(algorithm: "sha1" | "sha256", der: Uint8Array): string {
  const hex = createHash(algorithm).update(der).digest("hex").toUpperCase();
  return hex.match(/../g)!.join(":");
}

/** `No such file or directory (os error 2): readfile '/x'` → `No such file or directory`. */
function ioReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const text = error.message.replace(/ \(os error \d+\).*$/s, "").trim();
  return text || error.name;
}
