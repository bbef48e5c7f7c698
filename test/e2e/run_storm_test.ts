/**
 * The sender under hostile gateways: one that drops every connection at once
 * (two devices sharing an identity) must not be hammered, and one that never
 * answers SUBSCRIBE must not hold telemetry back or a shutdown up.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { spawnLeaf, tempDir, waitFor } from "../_helpers.ts";
import { testChainDir } from "../gateway/_setup.ts";
import { loadGatewayServerCert } from "../../lib/trust/gateway_cert.ts";
import { freePort, RestartableGateway, writeRunConfig } from "./_run_setup.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("two agents sharing one identity back off instead of reconnecting in a storm", async () => {
  await using dir = await tempDir("run-storm");
  const out = `${dir.path}/out.jsonl`;
  await using gw = new RestartableGateway(freePort(), out);
  await gw.start();
  let connects = 0;
  const off = gw.gateway!.on((e) => {
    if (e.type === "connected") connects++;
  });
  await Deno.mkdir(`${dir.path}/a`);
  await Deno.mkdir(`${dir.path}/b`);
  const a = spawnLeaf(["run", "--config", await writeRunConfig(`${dir.path}/a`, gw.port)]);
  const b = spawnLeaf(["run", "--config", await writeRunConfig(`${dir.path}/b`, gw.port)]);
  try {
    await sleep(8_000);
  } finally {
    off();
    assert.equal(await a.stop("SIGTERM"), 0, a.stderr());
    assert.equal(await b.stop("SIGTERM"), 0, b.stderr());
  }
  // With maxDelay 1 s each agent retries at most about once a second once the
  // backoff has grown; before the fix the pair connected ~140 times in 8 s.
  assert.ok(connects <= 40, `${connects} connections in 8 s`);
  const warns = (a.stderr() + b.stderr()).match(/connection to .* lost/g)?.length ?? 0;
  assert.ok(warns <= 6, `${warns} "connection lost" lines in 8 s (rate-limited)`);
});

/** A TLS MQTT endpoint that accepts CONNECT and acknowledges PUBLISH, but never SUBACKs. */
async function silentOnSubscribe(certsDir: string) {
  const cert = await loadGatewayServerCert(certsDir, "localhost");
  let published = 0;
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buf = new Uint8Array(0);
    socket.on("data", (chunk: Uint8Array) => {
      const all = new Uint8Array(buf.length + chunk.length);
      all.set(buf);
      all.set(chunk, buf.length);
      buf = all;
      for (;;) {
        let len = 0, mul = 1, i = 1;
        for (; i < buf.length; i++, mul *= 128) {
          len += (buf[i] & 0x7f) * mul;
          if ((buf[i] & 0x80) === 0) break;
        }
        if (i >= buf.length || i + 1 + len > buf.length) return;
        const type = buf[0] >> 4;
        const body = buf.subarray(i + 1, i + 1 + len);
        if (type === 1) socket.write(Uint8Array.of(0x20, 2, 0, 0)); // CONNACK 0
        if (type === 3 && ((buf[0] >> 1) & 3) === 1) { // PUBLISH QoS 1 → PUBACK
          const topicLength = (body[0] << 8) | body[1];
          published++;
          socket.write(Uint8Array.of(0x40, 2, body[2 + topicLength], body[3 + topicLength]));
        }
        if (type === 12) socket.write(Uint8Array.of(0xd0, 0)); // PINGRESP
        // type 8 (SUBSCRIBE): never answered.
        buf = buf.slice(i + 1 + len);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    published: () => published,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

Deno.test("telemetry flows while SUBSCRIBE goes unanswered, and SIGTERM still stops in time", async () => {
  await using dir = await tempDir("run-nosuback");
  await using fake = await silentOnSubscribe(await testChainDir());
  const config = await writeRunConfig(dir.path, fake.port, ["shutdownTimeout: 2s"]);
  await using agent = spawnLeaf(["run", "--config", config]);
  await waitFor(() => fake.published() >= 20, { timeoutMs: 10_000, what: "20 publishes" });
  const t0 = performance.now();
  assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());
  assert.ok(
    performance.now() - t0 < 2_000 + 1_500,
    `stopped after ${Math.round(performance.now() - t0)} ms`,
  );
  assert.doesNotMatch(agent.stderr(), /internal error|Uncaught/);
});
