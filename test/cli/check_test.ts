/**
 * `leaf check` end to end through the real entry point: against the dev
 * gateway (all good, wrong key) and against real TLS servers that present
 * purpose-made chains, one per failure class, with the exit codes of CLI.md.
 */
import assert from "node:assert/strict";
import { type LeafResult, runLeaf, tempDir } from "../_helpers.ts";
import { HUB, KEY_A, KEY_B, startTestGateway, testChainDir } from "../gateway/_setup.ts";
import { createPki, serveTls } from "../_tls.ts";
import { serveHttp, serveReadAndClose } from "./_not_tls.ts";

const DAY = 86_400_000;
const STEPS = ["config", "clock", "ca", "dns", "tcp", "tls", "mqtt", "twin"];
const cs = (gateway: string, key = KEY_A) =>
  `HostName=${HUB};DeviceId=dev-1;SharedAccessKey=${key};GatewayHostName=${gateway}`;

/** Runs `leaf check` and checks what every run must satisfy. */
async function check(args: string[], key = KEY_A): Promise<LeafResult> {
  const result = await runLeaf(["check", "--timeout", "3s", ...args]);
  const all = result.stdout + result.stderr;
  assert.doesNotMatch(all, /at .*\.ts:\d+/, `no stack trace:\n${all}`);
  assert.ok(!all.includes(key), "the key never appears");
  assert.doesNotMatch(all, /SharedAccessSignature sr=/, "no token appears");
  return result;
}

/** The line of step `name` in the text report. */
function stepLine(stdout: string, name: string): string {
  const line = stdout.split("\n").find((l) => new RegExp(`^. ${name} +`).test(l));
  assert.ok(line, `no line for step ${name} in:\n${stdout}`);
  return line;
}

/** Writes `pem` to a temp file and runs `leaf check` against a TLS server on `port`. */
async function checkTls(port: number, pinPem: string, host = "localhost"): Promise<LeafResult> {
  await using dir = await tempDir("check-pin");
  await Deno.writeTextFile(`${dir.path}/root.pem`, pinPem);
  return await check([
    "--connection-string",
    cs(`${host}:${port}`),
    "--ca",
    `${dir.path}/root.pem`,
  ]);
}

const gatewayPki = await createPki("Gateway");

Deno.test("leaf check against the dev gateway passes every step, prints the chain and times the twin GET", async () => {
  await using gw = await startTestGateway();
  const root = `${await testChainDir()}/certs/azure-iot-test-only.root.ca.cert.pem`;
  const result = await check([
    "--connection-string",
    cs(`localhost:${gw.gateway.port}`),
    "--ca",
    root,
  ]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  for (const name of STEPS) assert.match(stepLine(result.stdout, name), /^[✓!] /, name);
  assert.match(stepLine(result.stdout, "dns"), /localhost → 127\.0\.0\.1/);
  assert.match(
    stepLine(result.stdout, "tls"),
    /verified .* pinned root "CN=Azure_IoT_Hub_CA_Cert_Test_Only"/,
  );
  assert.match(result.stdout, /^ +0 s:CN=localhost$/m);
  assert.match(result.stdout, /^ +SAN: DNS:localhost, DNS:edgeHub$/m);
  assert.match(result.stdout, /^ +SHA-256: ([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
  assert.match(stepLine(result.stdout, "mqtt"), /CONNACK 0 \(accepted\) for "dev-1"/);
  assert.match(stepLine(result.stdout, "twin"), /twin GET answered 200 in \d+ ms/);
});

Deno.test("leaf check --json prints one document with one entry per step, passing", async () => {
  await using gw = await startTestGateway();
  const root = `${await testChainDir()}/certs/azure-iot-test-only.root.ca.cert.pem`;
  const result = await check([
    "--json",
    "--connection-string",
    cs(`localhost:${gw.gateway.port}`),
    "--ca",
    root,
  ]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const report = JSON.parse(result.stdout);
  assert.equal(report.ok, true);
  assert.equal(report.exitCode, 0);
  assert.deepEqual(report.gateway, { host: "localhost", port: gw.gateway.port });
  assert.deepEqual(report.steps.map((s: { name: string }) => s.name), STEPS);
  for (const s of report.steps) {
    assert.ok(["ok", "warn"].includes(s.status), `${s.name}: ${s.status}`);
    assert.equal(typeof s.finding, "string");
  }
  const tls = report.steps.find((s: { name: string }) => s.name === "tls");
  assert.equal(tls.details.chain[0].subject, "CN=localhost");
  assert.equal(tls.details.chain.at(-1).pinned, true);
  assert.equal(report.steps.at(-1).details.status, 200);
});

Deno.test("leaf check --json has every step for a failure too, the later ones skipped", async () => {
  const stranger = await createPki("Stranger");
  const server = await gatewayPki.server();
  await using tls = await serveTls(server.certPem + gatewayPki.intermediate.certPem, server.keyPem);
  await using dir = await tempDir("check-json-fail");
  await Deno.writeTextFile(`${dir.path}/root.pem`, stranger.root.certPem);
  const result = await check([
    "--json",
    "--connection-string",
    cs(`localhost:${tls.port}`),
    "--ca",
    `${dir.path}/root.pem`,
  ]);
  assert.equal(result.code, 3);
  const report = JSON.parse(result.stdout);
  assert.equal(report.ok, false);
  assert.equal(report.exitCode, 3);
  assert.deepEqual(report.steps.map((s: { name: string }) => s.name), STEPS);
  assert.deepEqual(report.steps.map((s: { status: string }) => s.status).slice(5), [
    "fail",
    "skip",
    "skip",
  ]);
  assert.ok(report.steps[5].fix);
  assert.equal(report.steps[5].details.chain.length, 2);
});

Deno.test("leaf check exits 3 and names both roots when the chain leads to another root", async () => {
  const stranger = await createPki("Stranger");
  const server = await gatewayPki.server();
  await using tls = await serveTls(
    server.certPem + gatewayPki.intermediate.certPem + gatewayPki.root.certPem,
    server.keyPem,
  );
  const result = await checkTls(tls.port, stranger.root.certPem);
  assert.equal(result.code, 3, result.stdout);
  const line = stepLine(result.stdout, "tls");
  assert.match(
    line,
    /^✗ tls +the chain leads to the root "CN=Gateway Root", not to the pinned root "CN=Stranger Root"/,
  );
  assert.match(result.stdout, /^ +2 s:CN=Gateway Root/m, "the presented chain is printed");
  assert.match(stepLine(result.stdout, "mqtt"), /^– mqtt +skipped: tls failed/);
});

Deno.test("leaf check exits 3 and says the intermediate is missing when the server sends only its leaf", async () => {
  const server = await gatewayPki.server();
  await using tls = await serveTls(server.certPem, server.keyPem);
  const result = await checkTls(tls.port, gatewayPki.root.certPem);
  assert.equal(result.code, 3, result.stdout);
  assert.match(
    stepLine(result.stdout, "tls"),
    /intermediate missing: the server sent only its own certificate; its issuer "CN=Gateway Intermediate"/,
  );
  assert.match(result.stdout, /fix: make the gateway serve the full chain/);
});

Deno.test("leaf check exits 3 and lists the SANs when the gateway host is not among them", async () => {
  const server = await gatewayPki.server({ altNames: ["edge-01.local", "edgeHub"] });
  await using tls = await serveTls(server.certPem + gatewayPki.intermediate.certPem, server.keyPem);
  const result = await checkTls(tls.port, gatewayPki.root.certPem);
  assert.equal(result.code, 3, result.stdout);
  assert.match(
    stepLine(result.stdout, "tls"),
    /"localhost" is not in the server certificate's SANs: DNS:edge-01\.local, DNS:edgeHub/,
  );
  assert.match(
    result.stdout,
    /fix: the connection string's GatewayHostName must equal the hostname in the gateway's \/etc\/aziot\/config\.toml/,
  );
});

Deno.test("leaf check exits 3 for an expired server certificate, with its date", async () => {
  const server = await gatewayPki.server({
    notBefore: new Date(Date.now() - 40 * DAY),
    notAfter: new Date(Date.now() - 10 * DAY),
  });
  await using tls = await serveTls(server.certPem + gatewayPki.intermediate.certPem, server.keyPem);
  const result = await checkTls(tls.port, gatewayPki.root.certPem);
  assert.equal(result.code, 3, result.stdout);
  assert.match(
    stepLine(result.stdout, "tls"),
    /the server certificate "CN=localhost" expired on \S+ \(10 days ago\)/,
  );
  assert.match(result.stdout, /\(expired 10 d ago\)/);
});

Deno.test("leaf check exits 3 for a not-yet-valid server certificate and points at the clock", async () => {
  const server = await gatewayPki.server({
    notBefore: new Date(Date.now() + 10 * DAY),
    notAfter: new Date(Date.now() + 40 * DAY),
  });
  await using tls = await serveTls(server.certPem + gatewayPki.intermediate.certPem, server.keyPem);
  const result = await checkTls(tls.port, gatewayPki.root.certPem);
  assert.equal(result.code, 3, result.stdout);
  assert.match(stepLine(result.stdout, "tls"), /"CN=localhost" is not valid until/);
  assert.match(result.stdout, /fix: check this device's clock/);
});

Deno.test("leaf check exits 5 when nothing listens on the port", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const result = await checkTls(port, gatewayPki.root.certPem);
  assert.equal(result.code, 5, result.stdout);
  assert.match(
    stepLine(result.stdout, "tcp"),
    new RegExp(`127\\.0\\.0\\.1:${port}: connection refused`),
  );
  assert.match(result.stdout, /fix: .*firewall for \d+/);
  assert.match(stepLine(result.stdout, "tls"), /skipped: tcp failed/);
});

Deno.test("leaf check exits 5 at the tls step with the TLS port hint against an HTTP server", async () => {
  await using http = serveHttp();
  const result = await checkTls(http.port, gatewayPki.root.certPem);
  assert.equal(result.code, 5, result.stdout);
  assert.match(stepLine(result.stdout, "tcp"), /^✓/);
  assert.match(
    stepLine(result.stdout, "tls"),
    /^✗ tls +127\.0\.0\.1:\d+ accepted TCP but does not speak TLS \(ERR_SSL_WRONG_VERSION_NUMBER/,
  );
  assert.match(
    result.stdout,
    /fix: is this MQTT over TLS \(8883\), not plain MQTT \(1883\) or another service\?/,
  );
  assert.match(stepLine(result.stdout, "mqtt"), /skipped: tls failed/);
});

Deno.test("leaf check exits 5 at the tls step with the TLS port hint against a TCP service that hangs up", async () => {
  await using tcp = serveReadAndClose();
  const result = await checkTls(tcp.port, gatewayPki.root.certPem);
  assert.equal(result.code, 5, result.stdout);
  assert.match(
    stepLine(result.stdout, "tls"),
    /accepted TCP but closed the connection during the TLS handshake \(ECONNRESET/,
  );
  assert.match(result.stdout, /fix: is this MQTT over TLS \(8883\), not plain MQTT \(1883\)/);
});

Deno.test("leaf check exits 5 and names the host that does not resolve", async () => {
  const result = await checkTls(8883, gatewayPki.root.certPem, "no-such-gateway.invalid");
  assert.equal(result.code, 5, result.stdout);
  assert.match(stepLine(result.stdout, "dns"), /cannot resolve "no-such-gateway\.invalid"/);
  assert.match(result.stdout, /fix: add it to DNS or \/etc\/hosts, or set gateway\.address/);
});

Deno.test("leaf check exits 4 with the parent/child hint when the gateway refuses the key", async () => {
  await using gw = await startTestGateway();
  const root = `${await testChainDir()}/certs/azure-iot-test-only.root.ca.cert.pem`;
  const result = await check(
    ["--connection-string", cs(`localhost:${gw.gateway.port}`, KEY_B), "--ca", root],
    KEY_B,
  );
  assert.equal(result.code, 4, result.stdout);
  assert.match(
    stepLine(result.stdout, "mqtt"),
    /the gateway refused "dev-1": CONNACK 5 \(not authorized\)/,
  );
  assert.match(result.stdout, /fix: device unknown, wrong key, or not a child of the gateway/);
  assert.match(stepLine(result.stdout, "twin"), /skipped: mqtt failed/);
});

Deno.test("leaf check exits 2 with the parser's message for a malformed connection string", async () => {
  const result = await check([
    "--connection-string",
    `HostName=${HUB};SharedAccessKey=${KEY_A}`,
    "--ca",
    "/nonexistent.pem",
  ]);
  assert.equal(result.code, 2, result.stdout);
  assert.match(
    stepLine(result.stdout, "config"),
    /^✗ config +Invalid connection string: "DeviceId" is missing/,
  );
  for (const name of ["ca", "dns", "tcp", "tls", "mqtt", "twin"]) {
    assert.match(stepLine(result.stdout, name), /^– /, name);
  }
});

Deno.test("leaf check rejects a bad --timeout as a usage error (exit 2, one line)", async () => {
  const result = await runLeaf(["check", "--timeout", "soon"]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim().split("\n").length, 1);
  assert.match(result.stderr, /--timeout "soon" is not a duration/);
});

Deno.test("leaf check with gateway.address in the config bypasses DNS and still verifies the name", async () => {
  const server = await gatewayPki.server({ altNames: ["edge-gw.example.invalid"] });
  await using tls = await serveTls(server.certPem + gatewayPki.intermediate.certPem, server.keyPem);
  await using dir = await tempDir("check-address");
  await Deno.writeTextFile(`${dir.path}/root.pem`, gatewayPki.root.certPem);
  await Deno.writeTextFile(
    `${dir.path}/leaf.yaml`,
    [
      `connectionString: "${cs("edge-gw.example.invalid")}"`,
      "gateway:",
      "  caCert: root.pem",
      "  address: 127.0.0.1",
      `  port: ${tls.port}`,
    ].join("\n") + "\n",
  );
  const result = await check(["--json", "--config", `${dir.path}/leaf.yaml`]);
  const report = JSON.parse(result.stdout);
  const byName = Object.fromEntries(
    report.steps.map((s: { name: string }) => [s.name, s]),
  );
  assert.deepEqual(report.gateway, {
    host: "edge-gw.example.invalid",
    port: tls.port,
    address: "127.0.0.1",
  });
  assert.match(
    byName.dns.finding,
    /gateway\.address is set: DNS for "edge-gw\.example\.invalid" bypassed/,
  );
  assert.equal(byName.tls.status, "ok", byName.tls.finding);
  // The purpose-made server closes after the handshake: no MQTT behind it.
  assert.equal(byName.mqtt.status, "fail");
  assert.equal(result.code, 5, byName.mqtt.finding);
});
