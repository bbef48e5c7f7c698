/**
 * The dev gateway's server certificate, read from a folder written by
 * `leaf certs create`: the full chain, its key and the test root, checked to
 * belong together. Reads with `node:crypto` only (no node-forge), so starting
 * the dev gateway does not load the certificate builder.
 *
 * @example
 * ```ts
 * const { certPem, keyPem } = await loadGatewayServerCert("./certs", "gw.local");
 * ```
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import { checkHostname, exists, readChainFile, ROOT_CERT_FILE } from "./chain_files.ts";
import { splitPem } from "./pem.ts";

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

/**
 * Loads `certs/iot-edge-server-<hostname>-full-chain.cert.pem`, its key and
 * the test root from a folder written by `createEdgeTestChain()`.
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
