import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { connect, createServer } from "node:tls";
import type { AddressInfo } from "node:net";
import { ConfigError } from "../../lib/errors.ts";
import { describeCertificate, splitPem } from "../../lib/trust/pem.ts";
import { ROOT_CERT_FILE } from "../../lib/trust/chain_files.ts";
import { loadGatewayServerCert } from "../../lib/trust/gateway_cert.ts";
import { issueCertificate } from "../../lib/trust/issue_certificate.ts";
import {
  createDeviceCertificate,
  createEdgeTestChain,
  TEST_INTERMEDIATE_CN,
  TEST_ROOT_CN,
} from "../../lib/trust/testchain.ts";
import { tempDir } from "../_helpers.ts";

const DAY_MS = 86_400_000;

/** Runs openssl and returns its exit code and combined output. */
async function openssl(...args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
    .output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, output: decode(out.stdout) + decode(out.stderr) };
}

/** `openssl x509 -text` of a certificate file. */
async function certText(path: string): Promise<string> {
  const { code, output } = await openssl("x509", "-in", path, "-noout", "-text");
  assert.equal(code, 0, output);
  return output;
}

function info(pem: string) {
  return describeCertificate(new X509Certificate(pem));
}

async function mode(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

Deno.test("createEdgeTestChain() writes IoT Edge's file names", async () => {
  await using dir = await tempDir("chain");
  const chain = await createEdgeTestChain({
    hostname: "gw.local",
    outDir: dir.path,
    name: "edge1",
  });
  const files = chain.files.map((f) => f.slice(dir.path.length + 1)).sort();
  assert.deepEqual(files, [
    "certs/azure-iot-test-only.intermediate-full-chain.cert.pem",
    "certs/azure-iot-test-only.intermediate.cert.pem",
    "certs/azure-iot-test-only.root.ca.cert.pem",
    "certs/iot-edge-device-ca-edge1-full-chain.cert.pem",
    "certs/iot-edge-device-ca-edge1.cert.pem",
    "certs/iot-edge-server-gw.local-full-chain.cert.pem",
    "certs/iot-edge-server-gw.local.cert.pem",
    "private/azure-iot-test-only.intermediate.key.pem",
    "private/azure-iot-test-only.root.ca.key.pem",
    "private/iot-edge-device-ca-edge1.key.pem",
    "private/iot-edge-server-gw.local.key.pem",
  ]);
  assert.equal(chain.pinFile, join(dir.path, ROOT_CERT_FILE));
  for (const file of chain.files) {
    const text = await Deno.readTextFile(file);
    if (file.includes("/private/")) {
      assert.equal(await mode(file), 0o600, file);
      assert.ok(text.startsWith("-----BEGIN PRIVATE KEY-----"), `${file} is unencrypted PKCS#8`);
    } else {
      assert.ok(text.startsWith("-----BEGIN CERTIFICATE-----"), file);
    }
  }
  assert.equal(await mode(join(dir.path, "private")), 0o700);
});

Deno.test("createEdgeTestChain() builds a chain that openssl verifies", async () => {
  await using dir = await tempDir("chain");
  const chain = await createEdgeTestChain({ hostname: "gw.local", outDir: dir.path });
  const untrusted = join(dir.path, "untrusted.pem");
  await Deno.writeTextFile(untrusted, chain.intermediate.certPem + chain.edgeCa.certPem);
  const verify = await openssl(
    "verify",
    "-CAfile",
    chain.root.certPath,
    "-untrusted",
    untrusted,
    "-purpose",
    "sslserver",
    "-verify_hostname",
    "gw.local",
    chain.server.certPath,
  );
  assert.equal(verify.code, 0, verify.output);
  assert.match(verify.output, /: OK/);
  const subjects = (pem: string) => splitPem(pem).map((b) => info(b.pem).subject);
  assert.deepEqual(subjects(chain.server.fullChainPem!), [
    "CN=gw.local",
    "CN=gw.local.ca",
    `CN=${TEST_INTERMEDIATE_CN}`,
    `CN=${TEST_ROOT_CN}`,
  ]);
  assert.equal(await Deno.readTextFile(chain.server.fullChainPath!), chain.server.fullChainPem);
  assert.deepEqual(subjects(chain.edgeCa.fullChainPem!), [
    "CN=gw.local.ca",
    `CN=${TEST_INTERMEDIATE_CN}`,
    `CN=${TEST_ROOT_CN}`,
  ]);
  assert.deepEqual(subjects(chain.intermediate.fullChainPem!), [
    `CN=${TEST_INTERMEDIATE_CN}`,
    `CN=${TEST_ROOT_CN}`,
  ]);
});

Deno.test("createEdgeTestChain() gives the server certificate SAN hostname and edgeHub", async () => {
  await using dir = await tempDir("chain");
  const chain = await createEdgeTestChain({ hostname: "gw.local", outDir: dir.path });
  const server = info(chain.server.certPem);
  assert.equal(server.subject, "CN=gw.local");
  assert.equal(server.issuer, "CN=gw.local.ca");
  assert.equal(server.isCa, false);
  assert.deepEqual(server.subjectAltNames, ["DNS:gw.local", "DNS:edgeHub"]);
  const text = await certText(chain.server.certPath);
  assert.match(text, /Version: 3 \(0x2\)/);
  assert.match(text, /X509v3 Extended Key Usage: *\n *TLS Web Server Authentication\n/);
  assert.match(text, /X509v3 Key Usage: critical\n *Digital Signature, Key Encipherment\n/);
  assert.match(text, /X509v3 Subject Key Identifier/);
  assert.match(text, /X509v3 Authority Key Identifier/);
});

Deno.test("createEdgeTestChain() puts an IP hostname in an IP SAN", async () => {
  await using dir = await tempDir("chain");
  const chain = await createEdgeTestChain({ hostname: "10.1.2.3", outDir: dir.path });
  assert.deepEqual(info(chain.server.certPem).subjectAltNames, ["IP:10.1.2.3", "DNS:edgeHub"]);
  assert.ok(chain.server.certPath.endsWith("certs/iot-edge-server-10.1.2.3.cert.pem"));
});

Deno.test("createEdgeTestChain() marks CAs with critical basicConstraints and keyUsage", async () => {
  await using dir = await tempDir("chain");
  const chain = await createEdgeTestChain({ hostname: "gw.local", outDir: dir.path });
  const cas = [
    [chain.root, TEST_ROOT_CN],
    [chain.intermediate, TEST_INTERMEDIATE_CN],
    [chain.edgeCa, "gw.local.ca"],
  ] as const;
  for (const [ca, cn] of cas) {
    assert.equal(info(ca.certPem).subject, `CN=${cn}`);
    assert.equal(info(ca.certPem).isCa, true);
    const text = await certText(ca.certPath);
    assert.match(text, /Version: 3 \(0x2\)/, cn);
    assert.match(text, /X509v3 Basic Constraints: critical\n *CA:TRUE\n/, cn);
    assert.match(
      text,
      /X509v3 Key Usage: critical\n *Digital Signature, Certificate Sign, CRL Sign\n/,
      cn,
    );
  }
  assert.equal(info(chain.root.certPem).issuer, `CN=${TEST_ROOT_CN}`);
  assert.equal(info(chain.intermediate.certPem).issuer, `CN=${TEST_ROOT_CN}`);
  assert.equal(info(chain.edgeCa.certPem).issuer, `CN=${TEST_INTERMEDIATE_CN}`);
});

Deno.test("createEdgeTestChain() makes every certificate valid for the given days", async () => {
  await using dir = await tempDir("chain");
  const now = new Date("2030-05-06T07:08:09.500Z");
  const chain = await createEdgeTestChain({ hostname: "gw.local", outDir: dir.path, days: 7, now });
  const start = new Date("2030-05-06T07:08:09Z");
  assert.deepEqual(chain.notAfter, new Date(start.getTime() + 7 * DAY_MS));
  for (const cert of [chain.root, chain.intermediate, chain.edgeCa, chain.server]) {
    const { notBefore, notAfter } = info(cert.certPem);
    assert.deepEqual(notBefore, start);
    assert.equal(notAfter.getTime() - notBefore.getTime(), 7 * DAY_MS);
  }
});

Deno.test("createEdgeTestChain() refuses to replace an existing root unless forced", async () => {
  await using dir = await tempDir("chain");
  const first = await createEdgeTestChain({ hostname: "gw.local", outDir: dir.path });
  await assert.rejects(
    createEdgeTestChain({ hostname: "other.local", outDir: dir.path }),
    (e: unknown) => e instanceof ConfigError && /already has a root CA/.test(e.message),
  );
  assert.equal(await Deno.readTextFile(first.pinFile), first.root.certPem);
  const second = await createEdgeTestChain({ hostname: "gw.local", outDir: dir.path, force: true });
  assert.notEqual(second.root.certPem, first.root.certPem);
  assert.equal(await Deno.readTextFile(second.pinFile), second.root.certPem);
  assert.equal(await mode(second.root.keyPath), 0o600);
});

Deno.test("createEdgeTestChain() rejects a hostname that is not a DNS name or IP", async () => {
  await using dir = await tempDir("chain");
  await assert.rejects(
    createEdgeTestChain({ hostname: "../etc", outDir: dir.path }),
    (e: unknown) => e instanceof ConfigError && /Hostname "\.\.\/etc"/.test(e.message),
  );
});

Deno.test("createDeviceCertificate() signs with the test intermediate, verifiable to the root", async () => {
  await using dir = await tempDir("chain");
  const chain = await createEdgeTestChain({ hostname: "gw.local", outDir: dir.path });
  const device = await createDeviceCertificate({ outDir: dir.path, deviceId: "sensor-01" });
  assert.ok(device.certPath.endsWith("certs/iot-device-sensor-01.cert.pem"));
  assert.ok(device.fullChainPath!.endsWith("certs/iot-device-sensor-01-full-chain.cert.pem"));
  assert.ok(device.keyPath.endsWith("private/iot-device-sensor-01.key.pem"));
  assert.equal(await mode(device.keyPath), 0o600);
  const verify = await openssl(
    "verify",
    "-CAfile",
    chain.root.certPath,
    "-untrusted",
    chain.intermediate.certPath,
    "-purpose",
    "sslclient",
    device.certPath,
  );
  assert.equal(verify.code, 0, verify.output);
  const cert = info(device.certPem);
  assert.equal(cert.subject, "CN=sensor-01");
  assert.equal(cert.issuer, `CN=${TEST_INTERMEDIATE_CN}`);
  assert.equal(
    device.fullChainPem,
    device.certPem + chain.intermediate.certPem + chain.root.certPem,
  );
  assert.match(await certText(device.certPath), /TLS Web Client Authentication/);
  assert.equal(device.sha256Thumbprint, cert.sha256.replaceAll(":", ""));
});

Deno.test("createDeviceCertificate() self-signed thumbprints match openssl's fingerprints", async () => {
  await using dir = await tempDir("chain");
  const device = await createDeviceCertificate({
    outDir: dir.path,
    deviceId: "thumb-01",
    selfSigned: true,
    days: 3,
  });
  const cert = info(device.certPem);
  assert.equal(cert.subject, "CN=thumb-01");
  assert.equal(cert.issuer, "CN=thumb-01");
  assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 3 * DAY_MS);
  for (
    const [digest, thumbprint] of [["-sha1", device.sha1Thumbprint], [
      "-sha256",
      device.sha256Thumbprint,
    ]]
  ) {
    const { code, output } = await openssl(
      "x509",
      "-in",
      device.certPath,
      "-noout",
      "-fingerprint",
      digest,
    );
    assert.equal(code, 0, output);
    const openSslHex = output.trim().split("=")[1].replaceAll(":", "");
    assert.equal(thumbprint, openSslHex);
    assert.match(thumbprint, /^[0-9A-F]+$/);
  }
  assert.equal(device.sha1Thumbprint.length, 40);
  assert.equal(device.sha256Thumbprint.length, 64);
});

Deno.test("createDeviceCertificate() without a test chain says how to create one", async () => {
  await using dir = await tempDir("chain");
  await assert.rejects(
    createDeviceCertificate({ outDir: dir.path, deviceId: "sensor-01" }),
    (e: unknown) =>
      e instanceof ConfigError && e.oneLine().includes("leaf certs create") &&
      e.oneLine().includes("--self-signed"),
  );
});

Deno.test("loadGatewayServerCert() returns the full chain, its key and the root", async () => {
  await using dir = await tempDir("chain");
  const chain = await createEdgeTestChain({ hostname: "gw.local", outDir: dir.path });
  const loaded = await loadGatewayServerCert(dir.path, "gw.local");
  assert.equal(loaded.certPem, chain.server.fullChainPem);
  assert.equal(loaded.keyPem, chain.server.keyPem);
  assert.equal(loaded.rootPem, chain.root.certPem);
  assert.equal(loaded.path, chain.server.fullChainPath);
});

Deno.test("loadGatewayServerCert() lists the hostnames that do have certificates", async () => {
  await using dir = await tempDir("chain");
  await createEdgeTestChain({ hostname: "gw.local", outDir: dir.path });
  const error = await loadGatewayServerCert(dir.path, "other.local").then(
    () => undefined,
    (e) => e,
  );
  assert.ok(error instanceof ConfigError);
  assert.equal(
    error.oneLine(),
    `No gateway server certificate for "other.local" in "${dir.path}" (it has "gw.local"): ` +
      `run \`leaf certs create --hostname other.local --out ${dir.path}\``,
  );
  const empty = await loadGatewayServerCert(join(dir.path, "none"), "gw.local").then(
    () => undefined,
    (e) => e,
  );
  assert.ok(empty instanceof ConfigError);
  assert.match(empty.message, /\(it has none\)/);
});

Deno.test("loadGatewayServerCert() refuses a server certificate from a replaced root", async () => {
  await using dir = await tempDir("chain");
  await createEdgeTestChain({ hostname: "gw.local", outDir: dir.path });
  await createEdgeTestChain({ hostname: "other.local", outDir: dir.path, force: true });
  await loadGatewayServerCert(dir.path, "other.local");
  await assert.rejects(
    loadGatewayServerCert(dir.path, "gw.local"),
    (e: unknown) =>
      e instanceof ConfigError && /does not end with the root CA/.test(e.message) &&
      e.oneLine().includes("--hostname gw.local"),
  );
});

Deno.test("issueCertificate() makes v3 certificates with a positive 16-byte serial", async () => {
  const ca = await issueCertificate({ commonName: "Test CA", isCa: true, pathLen: 0 });
  const leaf = await issueCertificate({
    commonName: "client",
    issuer: ca,
    extKeyUsage: ["clientAuth", "serverAuth"],
    altNames: ["::1", "host.test"],
  });
  for (const pem of [ca.certPem, leaf.certPem]) {
    const serial = info(pem).serialNumber;
    assert.equal(serial.length, 32, serial);
    assert.ok(Number.parseInt(serial.slice(0, 2), 16) < 0x80, "positive");
    assert.ok(serial.slice(0, 2) !== "00", "minimal DER");
  }
  assert.deepEqual(info(leaf.certPem).subjectAltNames, ["IP:::1", "DNS:host.test"]);
  assert.ok(new X509Certificate(leaf.certPem).verify(new X509Certificate(ca.certPem).publicKey));
  assert.ok(new X509Certificate(leaf.certPem).checkIssued(new X509Certificate(ca.certPem)));
});

/** Connects to a TLS server on 127.0.0.1 and resolves to what the client saw. */
function handshake(
  port: number,
  servername: string,
  ca: string,
): Promise<{ authorized: boolean; data: string; code?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, servername, ca });
    let data = "";
    socket.on("error", (error: Error & { code?: string }) => {
      socket.destroy();
      resolve({ authorized: false, data, code: error.code });
    });
    socket.on("data", (chunk) => data += chunk);
    socket.on("end", () => {
      resolve({ authorized: socket.authorized, data });
      socket.destroy();
    });
  });
}

Deno.test("createEdgeTestChain() output completes a TLS handshake pinned to the root", async () => {
  await using dir = await tempDir("chain");
  await createEdgeTestChain({ hostname: "localhost", outDir: dir.path });
  const { certPem, keyPem, rootPem } = await loadGatewayServerCert(dir.path, "localhost");
  const otherRoot = await issueCertificate({ commonName: TEST_ROOT_CN, isCa: true });
  const sockets = new Set<{ destroy(): void }>();
  const server = createServer({ cert: certPem, key: keyPem }, (socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    socket.end("hello");
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    assert.deepEqual(await handshake(port, "localhost", rootPem), {
      authorized: true,
      data: "hello",
    });
    assert.deepEqual(await handshake(port, "edgeHub", rootPem), {
      authorized: true,
      data: "hello",
    });
    const stranger = await handshake(port, "localhost", otherRoot.certPem);
    assert.equal(stranger.authorized, false);
    assert.equal(stranger.data, "");
    assert.ok(stranger.code, "a root that is not ours is refused");
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
