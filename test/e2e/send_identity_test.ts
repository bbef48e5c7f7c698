/**
 * Every supported identity through the dev gateway over TLS: X.509
 * (CA-signed and self-signed by thumbprint) and a module with a SAS key.
 */
import assert from "node:assert/strict";
import { parseDevicesYaml } from "../../lib/gateway/devices_file.ts";
import { parseDeviceSpec } from "../../lib/gateway/registry.ts";
import { createDeviceCertificate } from "../../lib/trust/testchain.ts";
import { runLeaf, tempDir } from "../_helpers.ts";
import { HUB, KEY_A, startTestGateway, testChainDir } from "../gateway/_setup.ts";

const root = async () => `${await testChainDir()}/certs/azure-iot-test-only.root.ca.cert.pem`;

/** `leaf send` as X.509 device `id` (through the gateway on `port`) with `cert` and `key`. */
const sendX509 = async (
  id: string,
  port: number,
  cert: string,
  key: string,
  extra: string[] = [],
) =>
  runLeaf([
    "send",
    "--connection-string",
    `HostName=${HUB};DeviceId=${id};x509=true;GatewayHostName=localhost:${port}`,
    "--ca",
    await root(),
    "--cert",
    cert,
    "--key",
    key,
    ...extra,
  ]);

Deno.test("leaf send authenticates with a CA-signed and with a self-signed X.509 certificate", async () => {
  await using dir = await tempDir("send-x509");
  const chain = await testChainDir();
  const caSigned = await createDeviceCertificate({ outDir: chain, deviceId: "pi-ca" });
  const selfSigned = await createDeviceCertificate({
    outDir: dir.path,
    deviceId: "pi-self",
    selfSigned: true,
  });
  await using gw = await startTestGateway({
    devices: ["pi-ca:x509-ca", `pi-self:x509:${selfSigned.sha256Thumbprint}`],
  });
  const port = gw.gateway.port;
  for (const [id, cert] of [["pi-ca", caSigned], ["pi-self", selfSigned]] as const) {
    const result = await sendX509(id, port, cert.fullChainPath!, cert.keyPath, ["--count", "3"]);
    assert.equal(result.code, 0, `${id}: ${result.stderr}`);
    assert.ok(!(result.stdout + result.stderr).includes("PRIVATE KEY"));
  }
  const byDevice = Object.groupBy(gw.gateway.telemetry(), (r) => r.deviceId);
  assert.equal(byDevice["pi-ca"]?.length, 3);
  assert.equal(byDevice["pi-self"]?.length, 3);
});

Deno.test("leaf send exits 4 for a certificate with the wrong CN and for an unregistered thumbprint", async () => {
  await using dir = await tempDir("send-x509-bad");
  const chain = await testChainDir();
  const other = await createDeviceCertificate({ outDir: chain, deviceId: "someone-else" });
  const stranger = await createDeviceCertificate({
    outDir: dir.path,
    deviceId: "pi-self",
    selfSigned: true,
  });
  const registered = await createDeviceCertificate({
    outDir: `${dir.path}`,
    deviceId: "pi-other",
    selfSigned: true,
  });
  await using gw = await startTestGateway({
    devices: ["pi-ca:x509-ca", `pi-self:x509:${registered.sha1Thumbprint}`],
  });
  const port = gw.gateway.port;
  for (const [id, cert] of [["pi-ca", other], ["pi-self", stranger]] as const) {
    const result = await sendX509(id, port, cert.fullChainPath!, cert.keyPath);
    assert.equal(result.code, 4, `${id}: ${result.stderr}`);
    assert.equal(result.stderr.trim().split("\n").length, 1);
    assert.match(result.stderr, /CONNACK 5/);
  }
  assert.equal(gw.gateway.telemetry().length, 0);
});

Deno.test("leaf send as a module: client id device/module, module topic, SAS audience with /modules/", async () => {
  const devices = parseDevicesYaml(
    `- id: dev-1\n  key: ${KEY_A}\n  modules:\n    - id: mod-a\n      key: ${
      btoa("leaf-test-module-key-a-00000000")
    }\n`,
    "inline",
  );
  await using gw = await startTestGateway({
    devices: [...devices, parseDeviceSpec(`dev-2:${KEY_A}`)],
  });
  const moduleKey = btoa("leaf-test-module-key-a-00000000");
  const result = await runLeaf([
    "send",
    "--connection-string",
    `HostName=${HUB};DeviceId=dev-1;ModuleId=mod-a;SharedAccessKey=${moduleKey};GatewayHostName=localhost:${gw.gateway.port}`,
    "--ca",
    await root(),
    "--count",
    "2",
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /as dev-1\/mod-a/);
  const records = gw.gateway.telemetry();
  assert.equal(records.length, 2);
  for (const r of records) {
    assert.equal(r.deviceId, "dev-1");
    assert.equal(r.moduleId, "mod-a");
  }
  assert.ok(gw.lines.some((l) => /connected dev-1\/mod-a/.test(l)), gw.lines.join("\n"));
});

Deno.test("leaf send exits 2 naming the file when the X.509 certificate and key are swapped or do not match", async () => {
  await using dir = await tempDir("send-x509-files");
  const a = await createDeviceCertificate({ outDir: dir.path, deviceId: "pi-a", selfSigned: true });
  const b = await createDeviceCertificate({ outDir: dir.path, deviceId: "pi-b", selfSigned: true });
  const cases: [string, string, RegExp][] = [
    [a.keyPath, a.certPath, /Device certificate ".*pi-a\.key\.pem" does not hold a certificate/],
    [a.certPath, a.certPath, /Device key ".*pi-a\.cert\.pem" does not hold a private key/],
    [a.certPath, b.keyPath, /Device key ".*pi-b\.key\.pem" does not belong to the certificate/],
  ];
  for (const [cert, key, pattern] of cases) {
    const result = await sendX509("pi-a", 1, cert, key);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr.trim().split("\n").length, 1);
    assert.match(result.stderr, pattern);
    assert.ok(!result.stderr.includes("PRIVATE KEY"));
  }
});
