/**
 * Test certificates in IoT Edge's layout: root CA → intermediate → edge CA →
 * gateway server certificate, plus device certificates for X.509 auth.
 *
 * File names and extensions follow IoT Edge's `certGen.sh` (see
 * `chain_files.ts`); the server certificate follows what aziot-edged issues to
 * edgeHub (CN and SAN = the hostname, SAN `edgeHub`, EKU serverAuth). The
 * certificates are built by `issue_certificate.ts` (node-forge); the dev
 * gateway reads its certificate back with `gateway_cert.ts`, without forge.
 *
 * @example
 * ```ts
 * const chain = await createEdgeTestChain({ hostname: "gw.local", outDir: "./certs" });
 * console.log(`devices pin ${chain.pinFile}`);
 * ```
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import {
  checkHostname,
  exists,
  makeFolders,
  readChainFile,
  ROOT_CERT_FILE,
  writeCertificate,
  type WrittenCertificate,
} from "./chain_files.ts";
import {
  generateRsaKeyPem,
  issueCertificate,
  type IssuedCertificate,
  parseIssuedCertificate,
  wholeSeconds,
} from "./issue_certificate.ts";
import { describeCertificate } from "./pem.ts";

/** CN of certGen.sh's root CA. */
export const TEST_ROOT_CN = "Azure_IoT_Hub_CA_Cert_Test_Only";
/** CN of certGen.sh's intermediate CA. */
export const TEST_INTERMEDIATE_CN = "Azure_IoT_Hub_Intermediate_Cert_Test_Only";

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

const DAY_MS = 86_400_000;
const DEVICE_ID = /^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/;

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

/** Reads a certificate and its key written by {@linkcode createEdgeTestChain}. */
async function readIssued(
  outDir: string,
  prefix: string,
  orElse = "",
): Promise<IssuedCertificate> {
  const certPem = await readChainFile(outDir, `certs/${prefix}.cert.pem`, orElse);
  const keyPem = await readChainFile(outDir, `private/${prefix}.key.pem`, orElse);
  try {
    return parseIssuedCertificate(certPem, keyPem);
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
