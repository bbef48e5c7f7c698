/**
 * X.509 v3 certificates built and signed with node-forge: the CA and leaf
 * certificates of the test chain, and the throwaway PKIs of the tests. Keys
 * come from `node:crypto` (fast); node-forge only builds and signs the
 * certificates. This module is the only importer of node-forge, so only the
 * modules that issue certificates load it.
 *
 * @example
 * ```ts
 * const root = await issueCertificate({ commonName: "Test root", isCa: true });
 * const server = await issueCertificate({
 *   commonName: "gw.local",
 *   issuer: root,
 *   altNames: ["gw.local"],
 *   extKeyUsage: ["serverAuth"],
 * });
 * console.log(server.certPem);
 * ```
 *
 * @module
 */
import forge from "node-forge";
import { createPublicKey, generateKeyPair } from "node:crypto";
import { isIP } from "node:net";

/** A node-forge certificate (node-forge ships no types; these are the members leaf uses). */
export interface ForgeCertificate {
  serialNumber: string;
  validity: { notBefore: Date; notAfter: Date };
  subject: { attributes: unknown[] };
  getExtension(name: string): Record<string, unknown> | null;
  generateSubjectKeyIdentifier(): { getBytes(): string };
}

/** A node-forge RSA private key (opaque to leaf). */
export interface ForgePrivateKey {
  sign(md: unknown): string;
}

/** What {@linkcode issueCertificate} needs; all but `commonName` have defaults. */
export interface IssueOptions {
  /** Subject CN. */
  commonName: string;
  /** The signer; omit for a self-signed certificate. */
  issuer?: { cert: ForgeCertificate; key: ForgePrivateKey };
  /** Issue a CA certificate. @default false */
  isCa?: boolean;
  /** basicConstraints pathLenConstraint of a CA. @default none */
  pathLen?: number;
  /** DNS names and IP addresses for the SAN; IPs are detected. @default [] */
  altNames?: string[];
  /** Extended key usages. @default [] */
  extKeyUsage?: ("serverAuth" | "clientAuth")[];
  /** Start of validity (seconds precision). @default now */
  notBefore?: Date;
  /** End of validity. @default notBefore + 30 days */
  notAfter?: Date;
  /** The subject's key as PKCS#8 PEM. @default a new RSA 2048 key */
  keyPem?: string;
}

/** A certificate and its key, as PEM and as node-forge objects. */
export interface IssuedCertificate {
  /** The certificate as PEM. */
  certPem: string;
  /** The unencrypted PKCS#8 private key as PEM. */
  keyPem: string;
  /** The certificate as a node-forge object (to sign others with). */
  cert: ForgeCertificate;
  /** The private key as a node-forge object. */
  key: ForgePrivateKey;
}

const DAY_MS = 86_400_000;

/** A new RSA 2048 private key as unencrypted PKCS#8 PEM, generated off the main thread. */
export function generateRsaKeyPem(): Promise<string> {
  return new Promise((resolve, reject) => {
    generateKeyPair("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    }, (error, _publicKey, privateKey) => error ? reject(error) : resolve(privateKey));
  });
}

/** Builds an X.509 v3 certificate with AKI/SKI and signs it with SHA-256. */
export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const keyPem = options.keyPem ?? await generateRsaKeyPem();
  const key: ForgePrivateKey = forge.pki.privateKeyFromPem(keyPem);
  const publicKeyPem = createPublicKey(keyPem).export({ type: "spki", format: "pem" });
  const cert = forge.pki.createCertificate();
  cert.version = 2; // v3
  cert.serialNumber = randomSerial();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  const notBefore = wholeSeconds(options.notBefore ?? new Date());
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = wholeSeconds(
    options.notAfter ?? new Date(notBefore.getTime() + 30 * DAY_MS),
  );
  const subject = [{
    name: "commonName",
    value: options.commonName,
    valueTagClass: forge.asn1.Type.UTF8,
  }];
  cert.setSubject(subject);
  cert.setIssuer(options.issuer ? options.issuer.cert.subject.attributes : subject);
  const issuerKeyId = options.issuer
    ? keyIdentifier(options.issuer.cert)
    : cert.generateSubjectKeyIdentifier().getBytes();
  const basicConstraints = options.isCa
    ? { name: "basicConstraints", critical: true, cA: true }
    : { name: "basicConstraints", cA: false };
  if (options.isCa && options.pathLen !== undefined) {
    Object.assign(basicConstraints, { pathLenConstraint: options.pathLen });
  }
  const extensions: Record<string, unknown>[] = [
    basicConstraints,
    options.isCa
      ? {
        name: "keyUsage",
        critical: true,
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
      }
      : { name: "keyUsage", critical: true, digitalSignature: true, keyEncipherment: true },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: issuerKeyId },
  ];
  const eku = options.extKeyUsage ?? [];
  if (eku.length > 0) {
    extensions.push({ name: "extKeyUsage", ...Object.fromEntries(eku.map((u) => [u, true])) });
  }
  const altNames = options.altNames ?? [];
  if (altNames.length > 0) {
    extensions.push({
      name: "subjectAltName",
      altNames: altNames.map((n) => isIP(n) ? { type: 7, ip: n } : { type: 2, value: n }),
    });
  }
  cert.setExtensions(extensions);
  cert.sign(options.issuer?.key ?? key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem, cert, key };
}

/**
 * A certificate and its key read back from PEM (to sign others with); throws
 * node-forge's error when either does not parse.
 */
export function parseIssuedCertificate(certPem: string, keyPem: string): IssuedCertificate {
  return {
    certPem,
    keyPem,
    cert: forge.pki.certificateFromPem(certPem),
    key: forge.pki.privateKeyFromPem(keyPem),
  };
}

/** `date` truncated to whole seconds, the precision of X.509 validity. */
export function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** The issuer's own SKI when it has one, else one computed like ours. */
function keyIdentifier(cert: ForgeCertificate): string {
  const ski = cert.getExtension("subjectKeyIdentifier")?.subjectKeyIdentifier;
  return typeof ski === "string"
    ? forge.util.hexToBytes(ski)
    : cert.generateSubjectKeyIdentifier().getBytes();
}

/** 16 random bytes as hex, first byte 0x01-0x7f: positive and minimally DER-encoded. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x7f) || 0x01;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
