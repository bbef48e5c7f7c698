/**
 * `deno task demo`: the whole path on one machine, no arguments.
 *
 * 1. creates (or reuses) an IoT Edge-style test chain for `localhost` in
 *    `.leaf-demo/certs`,
 * 2. starts `leaf gateway` on a free port with one generated device, whose
 *    key goes in a `--devices` file (mode 0600), not on the command line
 *    where `ps` would show it,
 * 3. starts `leaf run` with the simulated and system sensors against it,
 * and prints each message as the gateway receives it. Ctrl-C stops both.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MAIN = `${ROOT}main.ts`;
const DIR = `${ROOT}.leaf-demo`;
const DEVICE = "demo-device";

const leaf = (args: string[], stdout: "piped" | "inherit" = "inherit") =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout,
    stderr: "inherit",
    stdin: "null",
    env: { NO_COLOR: "1" },
  });

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Reuses the demo chain while it has more than a day left. */
async function ensureCerts(): Promise<string> {
  const certs = `${DIR}/certs`;
  const server = `${certs}/certs/iot-edge-server-localhost-full-chain.cert.pem`;
  if (await exists(server)) {
    const { X509Certificate } = await import("node:crypto");
    const cert = new X509Certificate(await Deno.readTextFile(server));
    if (Date.parse(cert.validTo) - Date.now() > 86_400_000) return certs;
  }
  console.log("demo: creating a test certificate chain for localhost ...");
  const out = await leaf(
    ["certs", "create", "--hostname", "localhost", "--out", certs, "--force"],
    "piped",
  ).output();
  if (out.code !== 0) throw new Error("leaf certs create failed");
  return certs;
}

/** Reuses the demo device key, so the outbox survives demo restarts. */
async function ensureKey(): Promise<string> {
  const file = `${DIR}/device.key`;
  if (await exists(file)) return (await Deno.readTextFile(file)).trim();
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  await Deno.writeTextFile(file, key + "\n", { mode: 0o600 });
  return key;
}

/** The gateway's device list, mode 0600: a key on the command line would show in `ps`. */
async function writeDevices(key: string): Promise<string> {
  const file = `${DIR}/devices.yaml`;
  const text = [
    "# Written by `deno task demo`.",
    `- id: ${DEVICE}`,
    `  key: "${key}"`,
    "",
  ].join("\n");
  await Deno.writeTextFile(file, text, { mode: 0o600 });
  await Deno.chmod(file, 0o600); // `mode` applies only when the file is created
  return file;
}

async function main() {
  await Deno.mkdir(DIR, { recursive: true });
  const certs = await ensureCerts();
  const key = await ensureKey();
  const devices = await writeDevices(key);

  const gateway = leaf([
    "gateway",
    "--certs",
    certs,
    "--hostname",
    "localhost",
    "--port",
    "0",
    "--admin-port",
    "0",
    "--devices",
    devices,
    "--out",
    `${DIR}/telemetry.jsonl`,
  ], "piped").spawn();

  // Relay the gateway's output and learn its port from the listening line.
  const { promise: portKnown, resolve: resolvePort } = Promise.withResolvers<number>();
  const relay = (async () => {
    let buffer = "";
    for await (const chunk of gateway.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const m = /listening on mqtts:\/\/[^:]+:(\d+)/.exec(line);
        if (m) resolvePort(Number(m[1]));
        console.log(`gateway | ${line}`);
      }
    }
  })();
  const port = await Promise.race([
    portKnown,
    gateway.status.then((s) => {
      throw new Error(`leaf gateway exited with code ${s.code} before listening`);
    }),
  ]);

  const config = `${DIR}/leaf.yaml`;
  await Deno.writeTextFile(
    config,
    [
      "# Written by `deno task demo`.",
      `connectionString: "HostName=demo-hub.azure-devices.net;DeviceId=${DEVICE};SharedAccessKey=${key};GatewayHostName=localhost"`,
      "gateway:",
      `  caCert: ${certs}/certs/azure-iot-test-only.root.ca.cert.pem`,
      `  port: ${port}`,
      `stateDir: ${DIR}/state`,
      "telemetry:",
      "  interval: 2s",
      "sensors:",
      "  - type: simulated",
      "  - type: system",
      "log:",
      "  statusInterval: 30s",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  await Deno.chmod(config, 0o600); // it holds the key; `mode` applies only on creation
  console.log(`demo: leaf run --config ${config}   (Ctrl-C stops)`);
  const agent = leaf(["run", "--config", config]).spawn();

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log("\ndemo: stopping ...");
    for (const child of [agent, gateway]) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const [a, g] = await Promise.all([
    agent.status.then((s) => {
      if (!stopping) stop();
      return s;
    }),
    gateway.status.then((s) => {
      if (!stopping) stop();
      return s;
    }),
  ]);
  await relay;
  console.log(
    `demo: stopped (agent exit ${a.code}, gateway exit ${g.code}); telemetry in ${DIR}/telemetry.jsonl`,
  );
  Deno.exit(stopping && a.code === 0 && g.code === 0 ? 0 : 1);
}

await main();
