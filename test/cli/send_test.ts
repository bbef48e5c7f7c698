/**
 * `leaf send` end to end over real TLS: against Mosquitto (a broker no one
 * here wrote) and against purpose-made TLS endpoints for each failure class
 * and its exit code.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { createEdgeTestChain } from "../../lib/trust/testchain.ts";
import { runLeaf, tempDir, waitFor } from "../_helpers.ts";
import { haveMosquitto, startMosquitto } from "../../tasks/_mosquitto.ts";
import { createPki, serveTls } from "../_tls.ts";
import { type Endpoint, serveHttp, serveReadAndClose, startPlainMosquitto } from "./_not_tls.ts";

const KEY = "bGVhZi10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDAwMDA=";
const cs = (gateway: string, key = KEY) =>
  `HostName=hub.example.net;DeviceId=pi-01;SharedAccessKey=${key};GatewayHostName=${gateway}`;

/** Asserts a failure is one line on stderr, with the exit code, and no secret. */
function assertOneLineFailure(
  result: { code: number; stdout: string; stderr: string },
  code: number,
  pattern: RegExp,
) {
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one stderr line, got:\n${result.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(result.stderr + result.stdout, /at .*\.ts:\d+/, "no stack trace");
  assert.ok(!(result.stderr + result.stdout).includes(KEY), "the key never appears");
  assert.doesNotMatch(
    result.stderr + result.stdout,
    /SharedAccessSignature sr=/,
    "no token appears",
  );
}

Deno.test({
  name:
    "leaf send delivers to Mosquitto over TLS with the test chain, in order, with IoT Hub properties",
  ignore: !(await haveMosquitto()),
  async fn() {
    await using dir = await tempDir("send-mosquitto");
    const chain = await createEdgeTestChain({ hostname: "localhost", outDir: dir.path });
    await using broker = await startMosquitto({
      dir: dir.path,
      tls: { certFile: chain.server.fullChainPath!, keyFile: chain.server.keyPath },
    });
    const received: { topic: string; body: Record<string, unknown> }[] = [];
    const sub = await mqtt.connectAsync({
      protocol: "mqtts",
      host: "localhost",
      port: broker.port,
      ca: chain.root.certPem,
      clientId: "observer",
      reconnectPeriod: 0,
    });
    try {
      sub.on(
        "message",
        (topic, payload) => received.push({ topic, body: JSON.parse(String(payload)) }),
      );
      await sub.subscribeAsync("devices/#", { qos: 1 });
      const result = await runLeaf([
        "send",
        "--connection-string",
        cs("localhost"),
        "--ca",
        chain.pinFile,
        "--port",
        String(broker.port),
        "--count",
        "25",
        "--property",
        "sensor=cpu temp",
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Sent 25 messages .* 25 acknowledged/);
      await waitFor(() => received.length >= 25, { what: "25 messages at the observer" });
      assert.deepEqual(
        received.map((m) => m.body.seq),
        Array.from({ length: 25 }, (_, i) => i + 1),
      );
      const mids = new Set<string>();
      for (const { topic, body } of received) {
        assert.match(
          topic,
          /^devices\/pi-01\/messages\/events\/%24\.mid=[^&]+&%24\.ct=application%2Fjson&%24\.ce=utf-8&%24\.ctime=[^&]+&sensor=cpu%20temp$/,
        );
        mids.add(/%24\.mid=([^&]+)/.exec(topic)![1]);
        assert.equal(body.deviceId, "pi-01");
        assert.equal(typeof body.ts, "string");
      }
      assert.equal(mids.size, 25, "every $.mid is unique");
    } finally {
      await sub.endAsync(true);
    }
  },
});

Deno.test("leaf send exits 3 when the server chain does not lead to the pinned CA", async () => {
  await using dir = await tempDir("send-wrong-ca");
  const gateway = await createPki("Gateway");
  const stranger = await createPki("Stranger");
  const server = await gateway.server();
  await using tls = await serveTls(
    server.certPem + gateway.intermediate.certPem + gateway.root.certPem,
    server.keyPem,
  );
  const ca = `${dir.path}/stranger.pem`;
  await Deno.writeTextFile(ca, stranger.root.certPem);
  const result = await runLeaf([
    "send",
    "--connection-string",
    cs("localhost"),
    "--ca",
    ca,
    "--port",
    String(tls.port),
  ]);
  assertOneLineFailure(result, 3, /does not lead to the pinned CA/);
});

Deno.test("leaf send exits 3 when the certificate does not name the gateway host", async () => {
  await using dir = await tempDir("send-san");
  const pki = await createPki();
  const server = await pki.server({ altNames: ["edge-01.local"] });
  await using tls = await serveTls(server.certPem + pki.intermediate.certPem, server.keyPem);
  const ca = `${dir.path}/root.pem`;
  await Deno.writeTextFile(ca, pki.root.certPem);
  const result = await runLeaf([
    "send",
    "--connection-string",
    cs("localhost"),
    "--ca",
    ca,
    "--port",
    String(tls.port),
  ]);
  assertOneLineFailure(result, 3, /certificate names "edge-01\.local", not "localhost"/);
});

Deno.test("leaf send exits 3 for an expired and for a not-yet-valid server certificate", async () => {
  await using dir = await tempDir("send-validity");
  const pki = await createPki();
  const ca = `${dir.path}/root.pem`;
  await Deno.writeTextFile(ca, pki.root.certPem);
  const day = 86_400_000;
  for (
    const [notBefore, notAfter] of [
      [new Date(Date.now() - 40 * day), new Date(Date.now() - 10 * day)],
      [new Date(Date.now() + 10 * day), new Date(Date.now() + 40 * day)],
    ]
  ) {
    const server = await pki.server({ notBefore, notAfter });
    await using tls = await serveTls(server.certPem + pki.intermediate.certPem, server.keyPem);
    const result = await runLeaf([
      "send",
      "--connection-string",
      cs("localhost"),
      "--ca",
      ca,
      "--port",
      String(tls.port),
    ]);
    assertOneLineFailure(result, 3, /could not be verified.*expired, not yet valid/);
  }
});

Deno.test("leaf send exits 5 when nothing listens and when the host does not resolve", async () => {
  await using dir = await tempDir("send-unreachable");
  const pki = await createPki();
  const ca = `${dir.path}/root.pem`;
  await Deno.writeTextFile(ca, pki.root.certPem);
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const refused = await runLeaf([
    "send",
    "--connection-string",
    cs("localhost"),
    "--ca",
    ca,
    "--port",
    String(port),
  ]);
  assertOneLineFailure(refused, 5, /connection refused/);
  const unresolvable = await runLeaf([
    "send",
    "--connection-string",
    cs("no-such-gateway.invalid"),
    "--ca",
    ca,
  ], { allowNet: ["no-such-gateway.invalid"] });
  assertOneLineFailure(unresolvable, 5, /Cannot resolve "no-such-gateway\.invalid"/);
});

/** Runs `leaf send` against `endpoint` (not TLS) and asserts the `tls.protocol` failure. */
async function sendToNonTls(endpoint: Endpoint, what: RegExp): Promise<void> {
  await using dir = await tempDir("send-not-tls");
  const ca = `${dir.path}/root.pem`;
  await Deno.writeTextFile(ca, (await createPki()).root.certPem);
  const result = await runLeaf([
    "send",
    "--connection-string",
    cs("localhost"),
    "--ca",
    ca,
    "--port",
    String(endpoint.port),
  ], { timeoutMs: 30_000 });
  assertOneLineFailure(
    result,
    5,
    /^leaf: Cannot connect to "localhost:\d+": .*: is this MQTT over TLS \(8883\), not plain MQTT \(1883\) or another service\?$/,
  );
  assert.match(result.stderr, what);
  assert.doesNotMatch(result.stderr, /internal error|firewall/);
}

Deno.test("leaf send exits 5 with the TLS port hint against an HTTP server", async () => {
  await using http = serveHttp();
  await sendToNonTls(http, /does not speak TLS \(ERR_SSL_WRONG_VERSION_NUMBER\)/);
});

Deno.test("leaf send exits 5 with the TLS port hint against a TCP service that hangs up", async () => {
  await using tcp = serveReadAndClose();
  await sendToNonTls(tcp, /closed the connection during the TLS handshake/);
});

Deno.test({
  name: "leaf send exits 5 with the TLS port hint against Mosquitto's plain MQTT listener",
  ignore: !(await haveMosquitto()),
  async fn() {
    await using dir = await tempDir("send-plain-mosquitto");
    await using broker = await startPlainMosquitto(dir.path);
    await sendToNonTls(broker, /closed the connection during the TLS handshake/);
  },
});

Deno.test("leaf send exits 2 for a malformed connection string, a missing CA file and a non-PEM CA file", async () => {
  await using dir = await tempDir("send-input");
  const pki = await createPki();
  const good = `${dir.path}/root.pem`;
  await Deno.writeTextFile(good, pki.root.certPem);
  const notPem = `${dir.path}/root.der`;
  await Deno.writeTextFile(notPem, "this is not a certificate\n");
  const keyOnly = `${dir.path}/key.pem`;
  await Deno.writeTextFile(keyOnly, pki.root.keyPem);

  const malformed = await runLeaf([
    "send",
    "--connection-string",
    `HostName=hub.example.net;DeviceId=pi-01;SharedAccessKey=${KEY};x509=true`,
    "--ca",
    good,
  ]);
  assertOneLineFailure(
    malformed,
    2,
    /Invalid connection string: x509=true contradicts "SharedAccessKey"/,
  );
  const notBase64 = await runLeaf([
    "send",
    "--connection-string",
    cs("localhost", "not*base64!"),
    "--ca",
    good,
  ]);
  assertOneLineFailure(notBase64, 2, /"SharedAccessKey" is not base64/);
  assert.ok(!notBase64.stderr.includes("not*base64!"));
  const missing = await runLeaf([
    "send",
    "--connection-string",
    cs("localhost"),
    "--ca",
    `${dir.path}/nope.pem`,
  ]);
  assertOneLineFailure(missing, 2, /CA file ".*nope\.pem" cannot be read/);
  const garbage = await runLeaf(["send", "--connection-string", cs("localhost"), "--ca", notPem]);
  assertOneLineFailure(garbage, 2, /is not PEM/);
  const key = await runLeaf(["send", "--connection-string", cs("localhost"), "--ca", keyOnly]);
  assertOneLineFailure(key, 2, /only a private key/);
  assert.ok(!key.stderr.includes("BEGIN PRIVATE KEY"));
});

Deno.test("leaf send takes the connection string and CA from the environment", async () => {
  await using dir = await tempDir("send-env");
  const pki = await createPki();
  const result = await runLeaf(["send"], {
    env: {
      IOTHUB_DEVICE_CONNECTION_STRING: "HostName=hub.example.net;DeviceId=pi-01",
      IOTEDGE_ROOT_CA_CERT_PATH: `${dir.path}/missing.pem`,
    },
  });
  // The environment's connection string is used (and rejected for its content).
  assertOneLineFailure(result, 2, /Invalid connection string: it has no credentials/);
  await Deno.writeTextFile(`${dir.path}/root.pem`, pki.root.certPem);
  const caFromEnv = await runLeaf(["send", "--connection-string", cs("localhost")], {
    env: { IOTEDGE_ROOT_CA_CERT_PATH: `${dir.path}/missing.pem` },
  });
  assertOneLineFailure(caFromEnv, 2, /missing\.pem" cannot be read/);
});
