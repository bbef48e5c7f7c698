/**
 * X.509 device authentication over real TLS: the device presents its
 * certificate in the handshake and the gateway decides at CONNECT.
 */
import assert from "node:assert/strict";
import { createDeviceCertificate, type DeviceCertificate } from "../../lib/trust/testchain.ts";
import { connectDevice, refusal, startTestGateway, testChainDir, usernameFor } from "./_setup.ts";

let made: Promise<Record<string, DeviceCertificate>> | undefined;
/** Device certificates made once, on first use. */
function deviceCerts() {
  return made ??= (async () => {
    const outDir = await testChainDir();
    const [thumb, other, ca, wrongCn] = await Promise.all([
      createDeviceCertificate({ outDir, deviceId: "cam-thumb", selfSigned: true }),
      createDeviceCertificate({ outDir, deviceId: "cam-impostor", selfSigned: true }),
      createDeviceCertificate({ outDir, deviceId: "cam-ca" }),
      createDeviceCertificate({ outDir, deviceId: "cam-wrong" }),
    ]);
    return { thumb, other, ca, wrongCn };
  })();
}

async function x509Gateway() {
  const certs = await deviceCerts();
  return startTestGateway({
    devices: [`cam-thumb:x509:${certs.thumb.sha1Thumbprint}`, "cam-ca:x509-ca"],
  });
}

Deno.test("startGateway() accepts a self-signed device certificate by thumbprint", async () => {
  const { thumb } = await deviceCerts();
  await using gw = await x509Gateway();
  await using client = await connectDevice({
    gateway: gw.gateway,
    clientId: "cam-thumb",
    username: usernameFor("cam-thumb"),
    cert: thumb.certPem,
    key: thumb.keyPem,
  });
  await client.publishAsync("devices/cam-thumb/messages/events/", '{"x509":true}', { qos: 1 });
  assert.deepEqual(gw.gateway.telemetry().map((r) => r.body), [{ x509: true }]);
  assert.equal(gw.gateway.devices().find((d) => d.id === "cam-thumb")?.auth, "x509-thumbprint");
});

Deno.test("startGateway() refuses a self-signed certificate with the wrong thumbprint", async () => {
  const { other } = await deviceCerts();
  await using gw = await x509Gateway();
  const code = await refusal(connectDevice({
    gateway: gw.gateway,
    clientId: "cam-thumb",
    username: usernameFor("cam-thumb"),
    cert: other.certPem,
    key: other.keyPem,
  }));
  assert.equal(code, 5);
  assert.ok(
    gw.lines.some((l) => /^refused cam-thumb: the certificate thumbprint/.test(l)),
    gw.lines.join("\n"),
  );
});

Deno.test("startGateway() accepts a CA-signed certificate whose CN is the device id", async () => {
  const { ca } = await deviceCerts();
  await using gw = await x509Gateway();
  await using client = await connectDevice({
    gateway: gw.gateway,
    clientId: "cam-ca",
    username: usernameFor("cam-ca"),
    cert: ca.fullChainPem,
    key: ca.keyPem,
  });
  assert.ok(client.connected);
  assert.deepEqual(gw.gateway.connected(), ["cam-ca"]);
});

Deno.test("startGateway() refuses a CA-signed certificate with another CN", async () => {
  const { wrongCn } = await deviceCerts();
  await using gw = await x509Gateway();
  const code = await refusal(connectDevice({
    gateway: gw.gateway,
    clientId: "cam-ca",
    username: usernameFor("cam-ca"),
    cert: wrongCn.fullChainPem,
    key: wrongCn.keyPem,
  }));
  assert.equal(code, 5);
  assert.ok(
    gw.lines.some((l) => l.includes('CN "cam-wrong" is not the device id "cam-ca"')),
    gw.lines.join("\n"),
  );
});
