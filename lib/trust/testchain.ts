/**
 * Test certificates in IoT Edge's layout: root CA → intermediate → edge CA →
 * gateway server certificate, plus device certificates for X.509 auth.
 *
 * File names and extensions follow IoT Edge's `certGen.sh`; the server
 * certificate follows what aziot-edged issues to edgeHub (CN and SAN = the
 * hostname, SAN `edgeHub`, EKU serverAuth). Keys come from `node:crypto`
 * (fast); node-forge only builds and signs the certificates. This module is
 * the only importer of node-forge.
 *
 * @example
 * ```ts
 * const chain = await createEdgeTestChain({ hostname: "gw.local", outDir: "./certs" });
 * console.log(`devices pin ${chain.pinFile}`);
 * ```
 *
 * @module
 */
import forge from "node-forge";
import { createPrivateKey, createPublicKey, generateKeyPair, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import { describeCertificate, splitPem } from "./pem.ts";

/** CN of certGen.sh's root CA. */
export const TEST_ROOT_CN = "Azure_IoT_Hub_CA_Cert_Test_Only";
/** CN of certGen.sh's intermediate CA. */
export const TEST_INTERMEDIATE_CN = "Azure_IoT_Hub_Intermediate_Cert_Test_Only";
/** The root CA certificate, relative to the output folder: the file devices pin. */
export const ROOT_CERT_FILE = "certs/azure-iot-test-only.root.ca.cert.pem";

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

/** A certificate written to disk: its paths (under `outDir`) and contents. */
export interface WrittenCertificate {
  /** Path of the certificate. */
  certPath: string;
  /** Path of the certificate followed by its issuers (just itself when self-signed); undefined for the root. */
  fullChainPath?: string;
  /** Path of the private key (mode 0600). */
  keyPath: string;
  /** The certificate as PEM. */
  certPem: string;
  /** The full chain as PEM; undefined for the root. */
  fullChainPem?: string;
  /** The private key as PEM. */
  keyPem: string;
}

/** Options of {@linkcode createEdgeTestChain}. */
export interface EdgeTestChainOptions {
  /** The gateway's hostname (config.toml `hostname`): server cert CN and SAN. */
  hostname: string;
  /** Folder that receives `certs/` and `private/`. */
  outDir: string;
  /** Validity of every certificate, in days. @default 30 */
  days?: number;
  /** Name of the edge CA (`iot-edge-device-ca-<name>`). @default hostname */
  name?: string;
  /** Replace an existing root CA. @default false */
  force?: boolean;
  /** Start of validity. @default now */
  now?: Date;
}

/** What {@linkcode createEdgeTestChain} wrote. */
export interface EdgeTestChain {
  /** The root CA certificate devices must pin. */
  pinFile: string;
  /** Every file written, in order. */
  files: string[];
  /** End of validity of every certificate. */
  notAfter: Date;
  /** Root CA (no full chain). */
  root: WrittenCertificate;
  /** Intermediate CA. */
  intermediate: WrittenCertificate;
  /** Edge CA, as `[edge_ca]` in config.toml expects. */
  edgeCa: WrittenCertificate;
  /** Gateway server certificate (what edgeHub presents). */
  server: WrittenCertificate;
}

/** Options of {@linkcode createDeviceCertificate}. */
export interface DeviceCertificateOptions {
  /** Folder of a test chain (for CA-signed) and that receives the files. */
  outDir: string;
  /** Device id: the certificate CN. */
  deviceId: string;
  /** Self-signed (thumbprint auth) instead of signed by the test intermediate. @default false */
  selfSigned?: boolean;
  /** Validity in days, capped at the intermediate's. @default 30 */
  days?: number;
  /** Start of validity. @default now */
  now?: Date;
}

/** What {@linkcode createDeviceCertificate} wrote. */
export interface DeviceCertificate extends WrittenCertificate {
  /** Every file written, in order. */
  files: string[];
  /** SHA-1 thumbprint as IoT Hub shows it: uppercase hex, no colons. */
  sha1Thumbprint: string;
  /** SHA-256 thumbprint as IoT Hub shows it. */
  sha256Thumbprint: string;
}

/** The gateway's server certificate as the dev gateway loads it. */
export interface GatewayServerCert {
  /** Server certificate followed by its issuers up to the root. */
  certPem: string;
  /** The server's private key. */
  keyPem: string;
  /** The test root CA (what devices pin). */
  rootPem: string;
  /** Path of the full-chain file. */
  path: string;
}

const DAY_MS = 86_400_000;
const HOSTNAME =
  /^(?=.{1,64}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const DEVICE_ID = /^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/;

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

/** Writes root CA, intermediate, edge CA and gateway server certificate in IoT Edge's layout. */
export async function createEdgeTestChain(options: EdgeTestChainOptions): Promise<EdgeTestChain> {
  const { hostname, outDir, days = 30, force = false } = options;
  const name = options.name ?? hostname;
  checkHostname(hostname);
  checkFileName(name, "edge CA name", "--name");
  checkDays(days);
  const rootPath = join(outDir, ROOT_CERT_FILE);
  if (!force && await exists(rootPath)) {
    throw new ConfigError(
      `Test chain folder "${outDir}" already has a root CA (${ROOT_CERT_FILE})`,
      {
        hint:
          "pass --force to replace it (devices pinning the old root will stop trusting the gateway), or choose another --out",
      },
    );
  }
  const notBefore = wholeSeconds(options.now ?? new Date());
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  const validity = { notBefore, notAfter };
  const [rootKey, intermediateKey, edgeCaKey, serverKey] = await Promise.all(
    [0, 1, 2, 3].map(() => generateRsaKeyPem()),
  );
  const root = await issueCertificate({
    commonName: TEST_ROOT_CN,
    isCa: true,
    keyPem: rootKey,
    ...validity,
  });
  const intermediate = await issueCertificate({
    commonName: TEST_INTERMEDIATE_CN,
    isCa: true,
    issuer: root,
    keyPem: intermediateKey,
    ...validity,
  });
  const edgeCa = await issueCertificate({
    commonName: `${name}.ca`,
    isCa: true,
    issuer: intermediate,
    keyPem: edgeCaKey,
    ...validity,
  });
  const server = await issueCertificate({
    commonName: hostname,
    issuer: edgeCa,
    altNames: [hostname, "edgeHub"],
    extKeyUsage: ["serverAuth"],
    keyPem: serverKey,
    ...validity,
  });
  await makeFolders(outDir);
  const files: string[] = [];
  const rootFiles = await writeCertificate(outDir, "azure-iot-test-only.root.ca", root, [], files);
  const intermediateFiles = await writeCertificate(
    outDir,
    "azure-iot-test-only.intermediate",
    intermediate,
    [root],
    files,
  );
  const edgeCaFiles = await writeCertificate(
    outDir,
    `iot-edge-device-ca-${name}`,
    edgeCa,
    [intermediate, root],
    files,
  );
  const serverFiles = await writeCertificate(
    outDir,
    `iot-edge-server-${hostname}`,
    server,
    [edgeCa, intermediate, root],
    files,
  );
  return {
    pinFile: rootFiles.certPath,
    files,
    notAfter,
    root: rootFiles,
    intermediate: intermediateFiles,
    edgeCa: edgeCaFiles,
    server: serverFiles,
  };
}

/**
 * Writes a device certificate (CN = `deviceId`, EKU clientAuth) signed by the
 * test intermediate in `outDir`, or self-signed for thumbprint auth.
 */
export async function createDeviceCertificate(
  options: DeviceCertificateOptions,
): Promise<DeviceCertificate> {
  const { outDir, deviceId, selfSigned = false, days = 30 } = options;
  if (!DEVICE_ID.test(deviceId) || deviceId === "." || deviceId === "..") {
    throw new ConfigError(`Device id "${deviceId}" is not a valid IoT Hub device id`, {
      hint: "use 1-128 letters, digits and - . % _ * ? ! ( ) , : = @ $ '",
    });
  }
  checkDays(days);
  const notBefore = wholeSeconds(options.now ?? new Date());
  let notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  let issuer: IssuedCertificate | undefined;
  const chain: { certPem: string }[] = [];
  if (!selfSigned) {
    const orSelfSigned = ", or pass --self-signed";
    issuer = await readIssued(outDir, "azure-iot-test-only.intermediate", orSelfSigned);
    chain.push(issuer, { certPem: await readChainFile(outDir, ROOT_CERT_FILE, orSelfSigned) });
    const cap = issuer.cert.validity.notAfter;
    if (cap <= notBefore) {
      throw new ConfigError(
        `The test intermediate in "${outDir}" expired on ${cap.toISOString()}`,
        {
          hint:
            `create a new chain with \`leaf certs create --hostname <gateway> --out ${outDir} --force\``,
        },
      );
    }
    if (notAfter > cap) notAfter = cap;
  }
  const device = await issueCertificate({
    commonName: deviceId,
    issuer,
    extKeyUsage: ["clientAuth"],
    notBefore,
    notAfter,
  });
  await makeFolders(outDir);
  const files: string[] = [];
  const written = await writeCertificate(
    outDir,
    `iot-device-${deviceId}`,
    device,
    chain,
    files,
    selfSigned,
  );
  const info = describeCertificate(new X509Certificate(device.certPem));
  return {
    ...written,
    files,
    sha1Thumbprint: info.sha1.replaceAll(":", ""),
    sha256Thumbprint: info.sha256.replaceAll(":", ""),
  };
}

/**
 * Loads `certs/iot-edge-server-<hostname>-full-chain.cert.pem`, its key and
 * the test root from a folder written by {@linkcode createEdgeTestChain}.
 */
export async function loadGatewayServerCert(
  certsDir: string,
  hostname: string,
): Promise<GatewayServerCert> {
  checkHostname(hostname);
  const prefix = `iot-edge-server-${hostname}`;
  const path = join(certsDir, "certs", `${prefix}-full-chain.cert.pem`);
  if (!await exists(path)) {
    const others = await serverHostnames(certsDir);
    const has = others.length > 0
      ? `it has ${others.map((h) => `"${h}"`).join(", ")}`
      : "it has none";
    throw new ConfigError(
      `No gateway server certificate for "${hostname}" in "${certsDir}" (${has})`,
      { hint: `run \`leaf certs create --hostname ${hostname} --out ${certsDir}\`` },
    );
  }
  const certPem = await readChainFile(certsDir, `certs/${prefix}-full-chain.cert.pem`);
  const keyPem = await readChainFile(certsDir, `private/${prefix}.key.pem`);
  const rootPem = await readChainFile(certsDir, ROOT_CERT_FILE);
  let matches = false;
  try {
    matches = new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch (cause) {
    throw new ConfigError(`Gateway server certificate or key in "${certsDir}" does not parse`, {
      cause,
      hint: `run \`leaf certs create --hostname ${hostname} --out ${certsDir} --force\``,
    });
  }
  const chain = splitPem(certPem, path);
  const root = splitPem(rootPem, join(certsDir, ROOT_CERT_FILE))[0];
  if (chain.length < 2 || chain.at(-1)?.pem !== root?.pem) {
    throw new ConfigError(
      `"${path}" does not end with the root CA in "${join(certsDir, ROOT_CERT_FILE)}"`,
      {
        hint:
          `the root was replaced after this certificate was made: run \`leaf certs create --hostname ${hostname} --out ${certsDir} --force\``,
      },
    );
  }
  if (!matches) {
    throw new ConfigError(
      `"${join(certsDir, "private", `${prefix}.key.pem`)}" is not the key of "${path}"`,
      {
        hint: `run \`leaf certs create --hostname ${hostname} --out ${certsDir} --force\``,
      },
    );
  }
  return { certPem, keyPem, rootPem, path };
}

/** Hostnames that have a server certificate in `certsDir`, sorted. */
async function serverHostnames(certsDir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(join(certsDir, "certs"))) {
      const match = /^iot-edge-server-(.+)-full-chain\.cert\.pem$/.exec(entry.name);
      if (match) names.push(match[1]);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** Reads a certificate and its key written by {@linkcode createEdgeTestChain}. */
async function readIssued(
  outDir: string,
  prefix: string,
  orElse = "",
): Promise<IssuedCertificate> {
  const certPem = await readChainFile(outDir, `certs/${prefix}.cert.pem`, orElse);
  const keyPem = await readChainFile(outDir, `private/${prefix}.key.pem`, orElse);
  try {
    return {
      certPem,
      keyPem,
      cert: forge.pki.certificateFromPem(certPem),
      key: forge.pki.privateKeyFromPem(keyPem),
    };
  } catch (cause) {
    throw new ConfigError(
      `"${join(outDir, "certs", `${prefix}.cert.pem`)}" or its key does not parse`,
      {
        cause,
        hint: "create the chain again with `leaf certs create --force`",
      },
    );
  }
}

/** Reads `relative` under `dir`; a missing file is a ConfigError that says how to create it. */
async function readChainFile(dir: string, relative: string, orElse = ""): Promise<string> {
  const path = join(dir, relative);
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    const reason = cause instanceof Deno.errors.NotFound ? "is missing" : "cannot be read";
    throw new ConfigError(`Test chain file "${path}" ${reason}`, {
      cause,
      hint:
        `create the chain with \`leaf certs create --hostname <gateway> --out ${dir}\`${orElse}`,
    });
  }
}

/**
 * Writes `certs/<prefix>.cert.pem`, `certs/<prefix>-full-chain.cert.pem`
 * (the certificate and then `issuers`; skipped when there are none, unless
 * `alwaysChain`) and `private/<prefix>.key.pem` (mode 0600).
 */
async function writeCertificate(
  outDir: string,
  prefix: string,
  issued: IssuedCertificate,
  issuers: Pick<IssuedCertificate, "certPem">[],
  files: string[],
  alwaysChain = false,
): Promise<WrittenCertificate> {
  const certPath = join(outDir, "certs", `${prefix}.cert.pem`);
  const keyPath = join(outDir, "private", `${prefix}.key.pem`);
  await replaceFile(certPath, issued.certPem, 0o644);
  files.push(certPath);
  let fullChainPath: string | undefined;
  let fullChainPem: string | undefined;
  if (issuers.length > 0 || alwaysChain) {
    fullChainPath = join(outDir, "certs", `${prefix}-full-chain.cert.pem`);
    fullChainPem = [issued, ...issuers].map((c) => c.certPem).join("");
    await replaceFile(fullChainPath, fullChainPem, 0o644);
    files.push(fullChainPath);
  }
  await replaceFile(keyPath, issued.keyPem, 0o600);
  files.push(keyPath);
  return {
    certPath,
    fullChainPath,
    keyPath,
    certPem: issued.certPem,
    fullChainPem,
    keyPem: issued.keyPem,
  };
}

/** Creates a new file with `mode` (removing any old one first, so a key is never briefly world-readable). */
async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  await Deno.remove(path).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.writeTextFile(path, text, { createNew: true, mode });
  await Deno.chmod(path, mode);
}

async function makeFolders(outDir: string): Promise<void> {
  await Deno.mkdir(join(outDir, "certs"), { recursive: true });
  await Deno.mkdir(join(outDir, "private"), { recursive: true, mode: 0o700 });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
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

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function checkHostname(hostname: string): void {
  if (isIP(hostname) || HOSTNAME.test(hostname)) return;
  throw new ConfigError(
    `Hostname "${hostname}" is not a DNS name of at most 64 characters or an IP address`,
    {
      hint: "use the `hostname` from the gateway's /etc/aziot/config.toml",
    },
  );
}

function checkFileName(value: string, what: string, flag: string): void {
  if (/^[A-Za-z0-9:][A-Za-z0-9._:-]{0,63}$/.test(value)) return;
  throw new ConfigError(`The ${what} "${value}" cannot be used in a file name`, {
    hint: `pass ${flag} with letters, digits, ".", "-", "_" or ":" only`,
  });
}

function checkDays(days: number): void {
  if (Number.isInteger(days) && days >= 1 && days <= 36500) return;
  throw new ConfigError(`Validity of ${days} days is not a whole number from 1 to 36500`, {
    hint: "pass --days with e.g. 30 (what IoT Edge's certGen.sh uses)",
  });
}
