/**
 * The files of a test chain folder: `certs/<prefix>.cert.pem`,
 * `certs/<prefix>-full-chain.cert.pem` and `private/<prefix>.key.pem`, named
 * as IoT Edge's `certGen.sh` names them. Shared by the writers
 * (`testchain.ts`) and the dev gateway's loader (`gateway_cert.ts`); it must
 * not import node-forge, so the dev gateway can read its certificate without
 * loading it.
 *
 * @example
 * ```ts
 * const rootPem = await readChainFile("./certs", ROOT_CERT_FILE);
 * ```
 *
 * @module
 */
import { isIP } from "node:net";
import { join } from "node:path";
import { ConfigError } from "../errors.ts";

/** The root CA certificate, relative to the output folder: the file devices pin. */
export const ROOT_CERT_FILE = "certs/azure-iot-test-only.root.ca.cert.pem";

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

const HOSTNAME =
  /^(?=.{1,64}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Throws a ConfigError unless `hostname` is a DNS name of at most 64 characters or an IP. */
export function checkHostname(hostname: string): void {
  if (isIP(hostname) || HOSTNAME.test(hostname)) return;
  throw new ConfigError(
    `Hostname "${hostname}" is not a DNS name of at most 64 characters or an IP address`,
    {
      hint: "use the `hostname` from the gateway's /etc/aziot/config.toml",
    },
  );
}

/** Reads `relative` under `dir`; a missing file is a ConfigError that says how to create it. */
export async function readChainFile(dir: string, relative: string, orElse = ""): Promise<string> {
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
export async function writeCertificate(
  outDir: string,
  prefix: string,
  issued: { certPem: string; keyPem: string },
  issuers: { certPem: string }[],
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

/** Creates `certs/` and `private/` (mode 0700) under `outDir`. */
export async function makeFolders(outDir: string): Promise<void> {
  await Deno.mkdir(join(outDir, "certs"), { recursive: true });
  await Deno.mkdir(join(outDir, "private"), { recursive: true, mode: 0o700 });
}

/** Whether anything (a dangling symlink included) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Creates a new file with `mode` (removing any old one first, so a key is never briefly world-readable). */
async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  await Deno.remove(path).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.writeTextFile(path, text, { createNew: true, mode });
  await Deno.chmod(path, mode);
}
