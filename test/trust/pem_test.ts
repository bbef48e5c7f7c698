import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { ConfigError, EXIT } from "../../lib/errors.ts";
import { describeCertificate, isCaCertificate, loadCaFile, splitPem } from "../../lib/trust/pem.ts";
import { tempDir } from "../_helpers.ts";

// Self-signed P-256 CA made with OpenSSL 3.0.19:
// openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -set_serial 0x1E2F3A
//   -days 36500 -subj "/CN=gw.example.test/O=Leaf Test"
//   -addext "subjectAltName=DNS:gw.example.test,IP:10.0.0.1,DNS:edgeHub"
//   -addext "basicConstraints=critical,CA:TRUE"
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBzTCCAXOgAwIBAgIDHi86MAoGCCqGSM49BAMCMC4xGDAWBgNVBAMMD2d3LmV4
YW1wbGUudGVzdDESMBAGA1UECgwJTGVhZiBUZXN0MCAXDTI2MTEyOTA5MTAzNFoY
DzIxMjYxMTA1MDkxMDM0WjAuMRgwFgYDVQQDDA9ndy5leGFtcGxlLnRlc3QxEjAQ
BgNVBAoMCUxlYWYgVGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHaxWKUV
/A2LWp7t58Cl6jXzK/d+8OVLTVGX/juw+jZRoeyuVHToOe9VGic3ZQ4e/bJ2+csb
0mOvanYQo0aZ6JajfjB8MB0GA1UdDgQWBBRNfmDGSKaUjl77UgFbRMfeaQhUijAf
BgNVHSMEGDAWgBRNfmDGSKaUjl77UgFbRMfeaQhUijApBgNVHREEIjAggg9ndy5l
eGFtcGxlLnRlc3SHBAoAAAGCB2VkZ2VIdWIwDwYDVR0TAQH/BAUwAwEB/zAKBggq
hkjOPQQDAgNIADBFAiByBt89tze2iVaJU7x4rlUw3ePLmJ1XHIItnHTsbS3ySAIh
ANTPyobnTaYZ50wivbgjBb89+r8XH0vEldArsynU8blA
-----END CERTIFICATE-----
`;

// Self-signed P-256 end-entity certificate (CA:FALSE, SAN DNS:leaf.example.test).
const LEAF_PEM = `-----BEGIN CERTIFICATE-----
MIIBpzCCAU2gAwIBAgIUAgxa48pPRM3mHANGxj6JF4qhEjQwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRbGVhZi5leGFtcGxlLnRlc3QwIBcNMjYxMTI5MDkxMDMwWhgP
MjEyNjExMDUwOTEwMzBaMBwxGjAYBgNVBAMMEWxlYWYuZXhhbXBsZS50ZXN0MFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAESgFiTtQOPHizvvBTbQejUZjBX1vmJELd
8wrjrsLu6xB7VGMCFwBsEC3tRwhapS/6qvv2Z+IjvsEkKX3iAXV2rqNrMGkwHQYD
VR0OBBYEFFvpJxSCR+evHdv9dWMTSXgYRPXvMB8GA1UdIwQYMBaAFFvpJxSCR+ev
Hdv9dWMTSXgYRPXvMAkGA1UdEwQCMAAwHAYDVR0RBBUwE4IRbGVhZi5leGFtcGxl
LnRlc3QwCgYIKoZIzj0EAwIDSAAwRQIhANjXEzqXTw7wrjg4x9KWWcE6Us6rFt7D
p37BIP1IS1l/AiBXjHKtpQMSHsguQGNJaE72EM7QfK+ZEK6noR5lJqRv+w==
-----END CERTIFICATE-----
`;

function keyPem(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return privateKey.export({ type: "pkcs8", format: "pem" }) as string;
}

/** Writes `content` to a temp file, runs `loadCaFile` on it and returns the ConfigError. */
async function loadError(content: string | Uint8Array): Promise<ConfigError> {
  await using dir = await tempDir("pem");
  const path = join(dir.path, "ca.pem");
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  const error = await loadCaFile(path).then(() => undefined, (e) => e);
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
  assert.equal(error.exitCode, EXIT.usage);
  assert.ok(!error.oneLine().includes("\n"), "the message is one line");
  assert.ok(error.oneLine().includes(path), "the message names the file");
  return error;
}

Deno.test("splitPem() returns every block with its type, DER and canonical PEM", () => {
  const key = keyPem();
  const text = `junk before\r\n${CA_PEM.replaceAll("\n", "\r\n")}between\n${key}${LEAF_PEM}`;
  const blocks = splitPem(text);
  assert.deepEqual(blocks.map((b) => b.type), ["CERTIFICATE", "PRIVATE KEY", "CERTIFICATE"]);
  assert.equal(blocks[0].pem, CA_PEM);
  assert.equal(blocks[2].pem, LEAF_PEM);
  assert.deepEqual(blocks[0].der, new Uint8Array(new X509Certificate(CA_PEM).raw));
  assert.equal(blocks[0].der[0], 0x30, "DER starts with a SEQUENCE");
});

Deno.test("splitPem() returns nothing for text without PEM blocks", () => {
  assert.deepEqual(splitPem("hello\n"), []);
  assert.deepEqual(splitPem("-----BEGIN CERTIFICATE-----\nMIIB\n"), [], "unterminated block");
});

Deno.test("splitPem() rejects a block whose body is not base64", () => {
  assert.throws(
    () =>
      splitPem("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n", "x.pem"),
    (e: unknown) => e instanceof ConfigError && /x\.pem: block 1 \("CERTIFICATE"\)/.test(e.message),
  );
});

Deno.test("loadCaFile() returns only the certificates, concatenated", async () => {
  await using dir = await tempDir("pem");
  const path = join(dir.path, "bundle.pem");
  await Deno.writeTextFile(path, `# bundle\n${CA_PEM}${keyPem()}${LEAF_PEM}`);
  const ca = await loadCaFile(path);
  assert.equal(ca.path, path);
  assert.equal(ca.pem, CA_PEM + LEAF_PEM);
  assert.equal(ca.certs.length, 2);
  assert.equal(ca.certs[0].subject, "CN=gw.example.test\nO=Leaf Test");
});

Deno.test("loadCaFile() explains a missing file and how to fix it", async () => {
  await using dir = await tempDir("pem");
  const path = join(dir.path, "nope", "y.pem");
  const error = await loadCaFile(path).then(() => undefined, (e) => e);
  assert.ok(error instanceof ConfigError);
  assert.equal(
    error.oneLine(),
    `CA file "${path}" cannot be read (No such file or directory): set gateway.caCert or --ca ` +
      "to the gateway's root CA, e.g. azure-iot-test-only.root.ca.cert.pem",
  );
});

Deno.test("loadCaFile() names the file with the caller's label", async () => {
  const error = await loadCaFile("/nonexistent/leaf/ca.pem", "gateway.caCert").then(
    () => undefined,
    (e) => e,
  );
  assert.ok(error instanceof ConfigError);
  assert.match(error.message, /^gateway\.caCert "\/nonexistent\/leaf\/ca\.pem" cannot be read/);
});

Deno.test("loadCaFile() rejects a file that is not PEM", async () => {
  const error = await loadError("this is not a certificate\n");
  assert.match(error.message, /is not PEM/);
});

Deno.test("loadCaFile() recognises a DER file and says how to convert it", async () => {
  const error = await loadError(new Uint8Array(new X509Certificate(CA_PEM).raw));
  assert.match(error.message, /is not PEM/);
  assert.match(error.hint ?? "", /openssl x509 -inform der/);
});

Deno.test("loadCaFile() rejects an empty file", async () => {
  const error = await loadError("");
  assert.match(error.message, /is empty/);
});

Deno.test("loadCaFile() says so when the file holds only a private key", async () => {
  const error = await loadError(keyPem());
  assert.match(error.message, /contains only a private key, not a certificate/);
});

Deno.test("loadCaFile() rejects garbage in a CERTIFICATE block", async () => {
  const notBase64 = await loadError(
    "-----BEGIN CERTIFICATE-----\nhello, world!\n-----END CERTIFICATE-----\n",
  );
  assert.match(notBase64.message, /block 1 \("CERTIFICATE"\) is not valid base64/);
  const notDer = await loadError(
    `${CA_PEM}-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n`,
  );
  assert.match(notDer.message, /certificate 2 of 2 does not parse/);
});

Deno.test("describeCertificate() reports subject, validity, SANs and fingerprints", () => {
  const info = describeCertificate(new X509Certificate(CA_PEM));
  assert.deepEqual(info, {
    subject: "CN=gw.example.test, O=Leaf Test",
    issuer: "CN=gw.example.test, O=Leaf Test",
    serialNumber: "1E2F3A",
    notBefore: new Date("2026-11-29T09:10:34Z"),
    notAfter: new Date("2126-11-05T09:10:34Z"),
    isCa: true,
    subjectAltNames: ["DNS:gw.example.test", "IP:10.0.0.1", "DNS:edgeHub"],
    // openssl x509 -noout -fingerprint -sha256 / -sha1
    sha256:
      "02:7D:32:6B:6E:C9:54:D7:FE:B0:7A:83:FC:E7:73:3F:58:41:A9:F9:D6:F3:31:C5:81:55:6A:4A:D0:DA:BA:F8",
    sha1: "6D:ED:7E:71:C5:E0:01:87:B6:7C:C7:0D:48:52:D9:50:4A:96:87:CC",
  });
});

Deno.test("isCaCertificate() tells a CA from an end-entity certificate", () => {
  assert.equal(isCaCertificate(new X509Certificate(CA_PEM)), true);
  assert.equal(isCaCertificate(new X509Certificate(LEAF_PEM)), false);
  const leaf = describeCertificate(new X509Certificate(LEAF_PEM));
  assert.equal(leaf.isCa, false);
  assert.deepEqual(leaf.subjectAltNames, ["DNS:leaf.example.test"]);
  assert.equal(leaf.serialNumber, "020C5AE3CA4F44CDE61C0346C63E89178AA11234");
});
