/**
 * The read-only OS trust store lookup, against fixture trees in the layouts
 * Debian and Fedora use (never the machine's own store).
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { findInOsStore, type OsStorePaths } from "../../lib/check/os_store.ts";
import { tempDir } from "../_helpers.ts";
import { createPki } from "../_tls.ts";

const pki = await createPki("Store");
const other = await createPki("Other");
const fingerprint = new X509Certificate(pki.root.certPem).fingerprint256;

async function tree(root: string, files: Record<string, string>): Promise<OsStorePaths> {
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return {
    dirs: [`${root}/usr/local/share/ca-certificates`, `${root}/etc/pki/ca-trust/source/anchors`],
    bundles: [
      `${root}/etc/ssl/certs/ca-certificates.crt`,
      `${root}/etc/pki/tls/certs/ca-bundle.crt`,
    ],
  };
}

Deno.test("findInOsStore() finds the CA in a Debian local dir (one level down) and in the bundle", async () => {
  await using dir = await tempDir("osstore-debian");
  const paths = await tree(dir.path, {
    "usr/local/share/ca-certificates/leaf/gateway.crt": pki.root.certPem,
    "usr/local/share/ca-certificates/other.crt": other.root.certPem,
    "etc/ssl/certs/ca-certificates.crt": other.root.certPem + pki.root.certPem,
  });
  const found = await findInOsStore([fingerprint], paths);
  assert.deepEqual(found.foundIn, [
    `${dir.path}/usr/local/share/ca-certificates/leaf/gateway.crt`,
    `${dir.path}/etc/ssl/certs/ca-certificates.crt`,
  ]);
  assert.deepEqual(
    found.searched,
    [paths.dirs[0], paths.bundles[0]],
    "missing Fedora paths are skipped",
  );
});

Deno.test("findInOsStore() finds the CA in Fedora's anchors, with any fingerprint spelling", async () => {
  await using dir = await tempDir("osstore-fedora");
  const paths = await tree(dir.path, {
    "etc/pki/ca-trust/source/anchors/gw.pem": pki.root.certPem,
    "etc/pki/tls/certs/ca-bundle.crt": other.root.certPem,
  });
  const found = await findInOsStore([fingerprint.replaceAll(":", "").toLowerCase()], paths);
  assert.deepEqual(found.foundIn, [`${dir.path}/etc/pki/ca-trust/source/anchors/gw.pem`]);
});

Deno.test("findInOsStore() reports not installed, ignoring junk and same-name certificates", async () => {
  await using dir = await tempDir("osstore-none");
  const lookalike = await createPki("Store");
  const paths = await tree(dir.path, {
    "usr/local/share/ca-certificates/junk.crt":
      "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
    "usr/local/share/ca-certificates/lookalike.crt": lookalike.root.certPem,
    "usr/local/share/ca-certificates/readme.txt": pki.root.certPem,
    "etc/ssl/certs/ca-certificates.crt": other.root.certPem,
  });
  const found = await findInOsStore([fingerprint], paths);
  assert.deepEqual(found.foundIn, []);
  assert.equal(found.searched.length, 2);
});
