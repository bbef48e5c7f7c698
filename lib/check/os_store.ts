/**
 * Is the pinned CA also in the OS trust store? A read-only look for the same
 * certificate (SHA-256 of its DER) in the places Debian/Ubuntu/Alpine and
 * Fedora/RHEL keep local anchors and their generated bundles. leaf pins its
 * CA itself and does not need this; other tools on the device (openssl,
 * curl) do. Changing the store is `leaf ca`'s job, not this module's.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { splitPem } from "../trust/pem.ts";

/** Where to look. @default OS_STORE_PATHS */
export interface OsStorePaths {
  /** Directories of single-certificate files (`*.crt`, `*.pem`), searched two levels deep. */
  dirs: string[];
  /** Bundle files of concatenated PEM certificates. */
  bundles: string[];
}

/** The Debian/Ubuntu/Alpine and Fedora/RHEL locations. */
export const OS_STORE_PATHS: OsStorePaths = {
  dirs: ["/usr/local/share/ca-certificates", "/etc/pki/ca-trust/source/anchors"],
  bundles: ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"],
};

/** What {@linkcode findInOsStore} found. */
export interface OsStoreResult {
  /** Files that hold a certificate with one of the fingerprints. */
  foundIn: string[];
  /** Locations that exist and were read. */
  searched: string[];
}

/** SHA-256 of a DER certificate as lowercase hex. */
export function derSha256(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

async function fileHolds(path: string, wanted: Set<string>): Promise<boolean> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return false;
  }
  try {
    return splitPem(text, path).some((b) =>
      b.type === "CERTIFICATE" && wanted.has(derSha256(b.der))
    );
  } catch {
    return false;
  }
}

async function filesUnder(dir: string, depth: number): Promise<string[] | undefined> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory && depth > 0) out.push(...(await filesUnder(path, depth - 1)) ?? []);
      else if (!entry.isDirectory && /\.(crt|pem|cer)$/i.test(entry.name)) out.push(path);
    }
  } catch {
    return undefined;
  }
  return out.sort();
}

/** Looks for certificates with the given SHA-256 fingerprints (hex, any case, colons allowed). */
export async function findInOsStore(
  fingerprints: string[],
  paths: OsStorePaths = OS_STORE_PATHS,
): Promise<OsStoreResult> {
  const wanted = new Set(fingerprints.map((f) => f.replaceAll(":", "").toLowerCase()));
  const foundIn: string[] = [];
  const searched: string[] = [];
  for (const dir of paths.dirs) {
    const files = await filesUnder(dir, 1);
    if (files === undefined) continue;
    searched.push(dir);
    for (const file of files) if (await fileHolds(file, wanted)) foundIn.push(file);
  }
  for (const bundle of paths.bundles) {
    try {
      await Deno.stat(bundle);
    } catch {
      continue;
    }
    searched.push(bundle);
    if (await fileHolds(bundle, wanted)) foundIn.push(bundle);
  }
  return { foundIn, searched };
}
