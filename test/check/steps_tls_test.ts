/**
 * The TLS step in process, against real TLS servers with purpose-made chains
 * (and a plain TCP one): verdict, exit class, chain lines, and the inspection
 * handshake used only after the verified one failed.
 */
import assert from "node:assert/strict";
import type { StepOutcome } from "../../lib/check/step.ts";
import { tlsStep } from "../../lib/check/steps_tls.ts";
import {
  type HandshakeOptions,
  inspectionHandshake,
  verifiedHandshake,
} from "../../lib/check/tls_inspect.ts";
import { parseConnectionString } from "../../lib/iothub/connection_string.ts";
import { loadCaFile } from "../../lib/trust/pem.ts";
import { tempDir } from "../_helpers.ts";
import { createPki, serveTls } from "../_tls.ts";
import { serveHttp } from "../cli/_not_tls.ts";

const DAY = 86_400_000;
const pki = await createPki("Step");

async function runTls(
  port: number,
  rootPem: string,
  probes?: Parameters<typeof tlsStep>[0],
): Promise<{ outcome: StepOutcome; calls: string[] }> {
  await using dir = await tempDir("check-tls");
  await Deno.writeTextFile(`${dir.path}/root.pem`, rootPem);
  const calls: string[] = [];
  const spy = probes ?? {
    verified: (o: HandshakeOptions) => (calls.push("verified"), verifiedHandshake(o)),
    inspect: (o: HandshakeOptions) => (calls.push("inspect"), inspectionHandshake(o)),
  };
  const cs = parseConnectionString(
    `HostName=hub.example.net;DeviceId=d1;SharedAccessKey=a2V5;GatewayHostName=localhost`,
  );
  const outcome = await tlsStep(spy).run({
    timeoutMs: 3000,
    now: () => new Date(),
    cleanups: [],
    target: { cs, host: "localhost", port, caFile: `${dir.path}/root.pem` },
    ca: await loadCaFile(`${dir.path}/root.pem`),
    reachable: ["127.0.0.1"],
  });
  return { outcome, calls };
}

Deno.test("tls step passes a good chain with one verified handshake and prints the chain", async () => {
  const server = await pki.server();
  await using tls = await serveTls(server.certPem + pki.intermediate.certPem, server.keyPem);
  const { outcome, calls } = await runTls(tls.port, pki.root.certPem);
  assert.equal(outcome.status, "ok", outcome.finding);
  assert.deepEqual(calls, ["verified"], "no inspection handshake when verification passes");
  assert.match(outcome.finding, /"localhost" verified .* leads to the pinned root "CN=Step Root"/);
  assert.ok(outcome.lines?.includes(" 0 s:CN=localhost"), (outcome.lines ?? []).join("\n"));
  assert.ok(outcome.lines?.includes(" 2 s:CN=Step Root  (CA, the pinned CA)"));
});

Deno.test("tls step warns (exit 0) when the server certificate expires within 7 days", async () => {
  const server = await pki.server({ notAfter: new Date(Date.now() + 2 * DAY) });
  await using tls = await serveTls(server.certPem + pki.intermediate.certPem, server.keyPem);
  const { outcome } = await runTls(tls.port, pki.root.certPem);
  assert.equal(outcome.status, "warn");
  assert.match(outcome.finding, /the server certificate "CN=localhost" expires on/);
  assert.equal(outcome.exitCode, undefined);
});

Deno.test("tls step explains a missing intermediate with one inspection handshake (exit 3)", async () => {
  const server = await pki.server();
  await using tls = await serveTls(server.certPem, server.keyPem);
  const { outcome, calls } = await runTls(tls.port, pki.root.certPem);
  assert.equal(outcome.status, "fail");
  assert.equal(outcome.exitCode, 3);
  assert.deepEqual(calls, ["verified", "inspect"]);
  assert.match(outcome.finding, /intermediate missing/);
  assert.ok(outcome.lines?.includes(" 0 s:CN=localhost"));
  assert.equal((outcome.details?.chain as unknown[]).length, 1);
});

Deno.test("tls step fails with exit 5 when the port speaks no TLS", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closer = (async () => {
    for await (const conn of listener) {
      conn.close();
      break;
    }
  })();
  const { outcome, calls } = await runTls((listener.addr as Deno.NetAddr).port, pki.root.certPem);
  await closer;
  assert.equal(outcome.status, "fail");
  assert.equal(outcome.exitCode, 5, outcome.finding);
  assert.deepEqual(calls, ["verified"], "no inspection of a link that broke");
  assert.match(outcome.fix ?? "", /MQTT over TLS \(8883\), not plain MQTT \(1883\)/);
});

Deno.test("tls step fails with exit 5 and the TLS port hint when an HTTP server answers", async () => {
  await using http = serveHttp();
  const { outcome, calls } = await runTls(http.port, pki.root.certPem);
  assert.equal(outcome.status, "fail");
  assert.equal(outcome.exitCode, 5, outcome.finding);
  assert.deepEqual(calls, ["verified"], "no inspection handshake with a server that speaks no TLS");
  assert.match(outcome.finding, /does not speak TLS \(ERR_SSL_WRONG_VERSION_NUMBER/);
  assert.equal(
    outcome.fix,
    "is this MQTT over TLS (8883), not plain MQTT (1883) or another service?",
  );
  assert.equal(outcome.details?.code, "tls.protocol");
});
