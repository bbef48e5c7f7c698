/**
 * `deno task test:arm64`: leaf on ARM64 without ARM64 hardware. Runs the
 * same entry point, `main.ts`, with the aarch64 Deno (npm
 * `@deno/linux-arm64-glibc`, the host deno's version) under
 * `qemu-aarch64-static -L /usr/aarch64-linux-gnu`, against the dev gateway
 * running natively in this process on a fresh test chain:
 *
 * 1. `leaf version --json` reports `aarch64-unknown-linux-gnu`;
 * 2. `leaf send --count 3` is acknowledged and the gateway logs seq 1..3;
 * 3. `leaf run` with the `system` sensor (the real /proc, read with `-A`
 *    like the release binary) delivers for 20 s after its first message,
 *    stops cleanly on SIGTERM, and the gateway's `--out` log holds seq 1..N
 *    with no gap.
 *
 * Bounded to 5 minutes (a TLS connect takes ~15 s of emulation). Prints one
 * summary line; exits 0 when all passed, 1 when a check failed, 2 when the
 * emulator or the aarch64 Deno is missing.
 *
 * Caches (see _arm64.ts): the aarch64 Deno in
 * `~/.cache/leaf/deno-aarch64-<version>/` (or `$LEAF_CACHE_DIR`, or set
 * `LEAF_ARM64_DENO` to a binary), and its own `DENO_DIR` in
 * `~/.cache/leaf/deno-dir-aarch64/`. npm packages are the same JavaScript on
 * every CPU here, so that DENO_DIR's npm cache is seeded from the host's
 * DENO_DIR and topped up by the native `deno install --frozen`; the emulated
 * runs use `--cached-only` and never touch the network.
 *
 * Needs `apt-get install qemu-user-static libc6-arm64-cross
 * libgcc-s1-arm64-cross` and npm (for the first run).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { startGateway } from "../lib/gateway/broker.ts";
import { createRegistry, parseDeviceSpec } from "../lib/gateway/registry.ts";
import { createEdgeTestChain } from "../lib/trust/testchain.ts";
import {
  AARCH64,
  type Emulator,
  ensureArm64Deno,
  ensureArm64DenoDir,
  findEmulator,
  isMissing,
  lastLine,
} from "./_arm64.ts";
import { run } from "./_process.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MAIN = `${ROOT}main.ts`;
const BUDGET_MS = 5 * 60_000;
const RUN_SECONDS = 20;
const HUB = "arm64-smoke.azure-devices.net";
const KEY = btoa("leaf-arm64-smoke-device-key-0000");
const SEND_DEVICE = "arm64-send";
const RUN_DEVICE = "arm64-run";

/** A check that failed: its message is the summary's reason. */
class Failed extends Error {}

/** A record of the gateway's `--out` log. */
interface Delivered {
  deviceId: string;
  receivedAt: string;
  body: { seq: number };
}

const deadline = performance.now() + BUDGET_MS;
const left = () => Math.max(1_000, deadline - performance.now());
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Environment of the emulated leaf: the parent's minus leaf's own variables. */
function leafEnv(denoDir: string): Record<string, string> {
  const env = Deno.env.toObject();
  for (const k of Object.keys(env)) if (/^(IOTHUB_|IOTEDGE_|LEAF_)/.test(k)) delete env[k];
  return { ...env, DENO_DIR: denoDir, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
}

/** Runs `leaf args` on the emulated aarch64 Deno. */
function leafArgv(emulator: Emulator, deno: string, args: string[]): [string, string[]] {
  return emulator.command(deno, ["run", "-A", "--cached-only", MAIN, ...args]);
}

async function readDelivered(file: string): Promise<Delivered[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

/** The seqs of `device`; throws unless they are exactly 1..N in order. */
function checkSeqs(records: Delivered[], device: string): number {
  const seqs = records.filter((r) => r.deviceId === device).map((r) => r.body.seq);
  const firsts = seqs.filter((s, i) => seqs.indexOf(s) === i);
  const gap = firsts.findIndex((s, i) => s !== i + 1);
  if (gap >= 0) {
    throw new Failed(
      `${device}: seq ${gap + 1} expected, got ${firsts[gap]} (arrived: ${
        firsts.slice(0, 30).join(",")
      })`,
    );
  }
  return firsts.length;
}

/** What every step needs. */
interface Smoke {
  emulator: Emulator;
  /** The aarch64 deno binary. */
  deno: string;
  /** Environment of the emulated leaf. */
  env: Record<string, string>;
  /** Temp folder: configs, state, the gateway's chain and `--out` log. */
  tmp: string;
  /** The gateway's `--out` log. */
  out: string;
  /** The gateway's MQTT/TLS port. */
  port: number;
}

/** Writes a leaf config for `device` against the gateway; returns its path. */
async function writeConfig(smoke: Smoke, device: string, sensor: string): Promise<string> {
  const file = `${smoke.tmp}/${device}.yaml`;
  await Deno.writeTextFile(
    file,
    [
      `connectionString: "HostName=${HUB};DeviceId=${device};SharedAccessKey=${KEY};GatewayHostName=localhost"`,
      "gateway:",
      `  caCert: ${smoke.tmp}/certs/certs/azure-iot-test-only.root.ca.cert.pem`,
      `  port: ${smoke.port}`,
      "  connectTimeout: 120s", // a TLS handshake and CONNECT take ~15 s emulated
      "  ackTimeout: 120s",
      `stateDir: ${smoke.tmp}/${device}-state`,
      "telemetry:",
      "  interval: 1s",
      "sensors:",
      `  - type: ${sensor}`,
      "log:",
      "  statusInterval: 5s",
      "",
    ].join("\n"),
  );
  return file;
}

/** Step 1: `leaf version --json` reports aarch64 and the host's Deno version. */
async function versionStep(smoke: Smoke): Promise<string> {
  const [cmd, args] = leafArgv(smoke.emulator, smoke.deno, ["version", "--json"]);
  const v = await run(cmd, args, { env: smoke.env, clearEnv: true, cwd: ROOT, timeoutMs: left() });
  let info: { leaf?: string; deno?: string; target?: string } = {};
  try {
    info = JSON.parse(v.stdout);
  } catch { /* checked below */ }
  if (v.code !== 0 || info.target !== AARCH64 || info.deno !== Deno.version.deno) {
    const how = v.timedOut ? "timed out" : `exit ${v.code}; ${lastLine(v.stderr)}`;
    throw new Failed(
      `\`leaf version --json\` printed ${
        JSON.stringify(v.stdout.trim())
      } (${how}), expected target ${AARCH64} on deno ${Deno.version.deno}`,
    );
  }
  console.log(`test:arm64: version ok: leaf ${info.leaf}, deno ${info.deno}, ${info.target}`);
  return `version ${info.target} (${seconds(v.ms)})`;
}

/** Step 2: `leaf send --count 3` is acknowledged and the gateway logged seq 1..3. */
async function sendStep(smoke: Smoke): Promise<string> {
  const config = await writeConfig(smoke, SEND_DEVICE, "simulated");
  const [cmd, args] = leafArgv(smoke.emulator, smoke.deno, [
    "send",
    "--config",
    config,
    "--count",
    "3",
  ]);
  const s = await run(cmd, args, { env: smoke.env, clearEnv: true, cwd: ROOT, timeoutMs: left() });
  if (s.code !== 0) {
    const why = s.timedOut ? "timed out" : lastLine(s.stderr || s.stdout);
    throw new Failed(`\`leaf send --count 3\` exited ${s.code}: ${why}`);
  }
  const sent = checkSeqs(await readDelivered(smoke.out), SEND_DEVICE);
  if (sent !== 3) throw new Failed(`the gateway logged ${sent} of 3 messages from \`leaf send\``);
  console.log(`test:arm64: send ok: 3 messages acknowledged and logged in ${seconds(s.ms)}`);
  return `send 3/3 (${seconds(s.ms)})`;
}

async function main(): Promise<number> {
  const started = performance.now();
  const emulator = findEmulator();
  if (isMissing(emulator)) {
    console.error(
      `test:arm64: cannot run aarch64 programs: missing ${
        emulator.missing.join(", ")
      }: ${emulator.fix}`,
    );
    console.log("test:arm64: FAILED at setup (no emulator)");
    return 2;
  }
  let deno: string;
  let denoDir: string;
  try {
    deno = await ensureArm64Deno({
      emulator,
      log: (l) => console.log(`test:arm64: ${l}`),
      timeoutMs: Math.min(left(), 180_000),
    });
    denoDir = await ensureArm64DenoDir({ root: ROOT, timeoutMs: Math.min(left(), 180_000) });
  } catch (error) {
    console.error(`test:arm64: ${(error as Error).message}`);
    console.log("test:arm64: FAILED at setup (no aarch64 Deno or npm cache)");
    return 2;
  }
  console.log(`test:arm64: aarch64 deno ${deno} via ${emulator.describe}, DENO_DIR ${denoDir}`);

  const tmp = await Deno.makeTempDir({ prefix: "leaf-arm64-" });
  const gatewayLog: string[] = [];
  const smoke: Smoke = {
    emulator,
    deno,
    env: leafEnv(denoDir),
    tmp,
    out: `${tmp}/out.jsonl`,
    port: 0,
  };
  // The test chain and the gateway start while the first step runs.
  const gatewayReady = (async () => {
    await createEdgeTestChain({ hostname: "localhost", outDir: `${tmp}/certs` });
    return await startGateway({
      certsDir: `${tmp}/certs`,
      registry: createRegistry(
        [SEND_DEVICE, RUN_DEVICE].map((d) => parseDeviceSpec(`${d}:${KEY}`)),
      ),
      port: 0,
      outFile: smoke.out,
      log: (line) => gatewayLog.push(line),
    });
  })();
  gatewayReady.catch(() => {}); // awaited below; this only keeps an early failure handled
  let step = "version";
  const done: string[] = [];
  try {
    done.push(await versionStep(smoke));
    step = "gateway";
    smoke.port = (await gatewayReady).port;
    step = "send";
    done.push(await sendStep(smoke));
    step = "run";
    done.push(await runStep(smoke));
  } catch (error) {
    const reason = error instanceof Failed ? error.message : String(error);
    console.error(`test:arm64: ${step} failed: ${reason}`);
    if (gatewayLog.length > 0) {
      console.error(`gateway log (last 20 lines):\n${gatewayLog.slice(-20).join("\n")}`);
    }
    console.log(`test:arm64: FAILED at ${step} after ${seconds(performance.now() - started)}`);
    return 1;
  } finally {
    await (await gatewayReady.catch(() => undefined))?.close();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  console.log(
    `test:arm64: passed (${done.join("; ")}) under ${emulator.describe} in ${
      seconds(performance.now() - started)
    }`,
  );
  return 0;
}

/**
 * Step 3: `leaf run` with the system sensor delivers for RUN_SECONDS after
 * its first message, exits 0 on SIGTERM, and the log holds seq 1..N.
 */
async function runStep(smoke: Smoke): Promise<string> {
  const config = await writeConfig(smoke, RUN_DEVICE, "system");
  const [cmd, args] = leafArgv(smoke.emulator, smoke.deno, ["run", "--config", config]);
  const child = new Deno.Command(cmd, {
    args,
    env: smoke.env,
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const c of s.pipeThrough(new TextDecoderStream())) output += c;
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  try {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const mine = async () =>
      (await readDelivered(smoke.out)).filter((r) => r.deviceId === RUN_DEVICE);
    const t0 = performance.now();
    while ((await mine()).length === 0) {
      if (exited) throw new Failed(`\`leaf run\` exited early: ${lastLine(output)}`);
      if (performance.now() - t0 > Math.min(left() - (RUN_SECONDS + 30) * 1000, 150_000)) {
        throw new Failed(`no message from \`leaf run\` within ${seconds(performance.now() - t0)}`);
      }
      await sleep(250);
    }
    const firstAfter = performance.now() - t0;
    console.log(
      `test:arm64: run: first message after ${seconds(firstAfter)}; running ${RUN_SECONDS} s more`,
    );
    await sleep(RUN_SECONDS * 1000);
    if (exited) throw new Failed(`\`leaf run\` exited early: ${lastLine(output)}`);
    child.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = await Promise.race([
      status,
      new Promise<null>((r) => timer = setTimeout(() => r(null), Math.min(left(), 60_000))),
    ]).finally(() => clearTimeout(timer));
    if (stopped === null) throw new Failed("`leaf run` did not exit within 60 s of SIGTERM");
    if (stopped.code !== 0) {
      throw new Failed(`\`leaf run\` exited ${stopped.code} on SIGTERM: ${lastLine(output)}`);
    }
    const records = await mine();
    const n = checkSeqs(records, RUN_DEVICE);
    const body = JSON.stringify(records[0].body);
    if (!body.includes('"memory_total"')) {
      throw new Failed(`the first message has no system sensor readings: ${body}`);
    }
    const span = Date.parse(records.at(-1)!.receivedAt) - Date.parse(records[0].receivedAt);
    if (n < RUN_SECONDS / 2 || span < (RUN_SECONDS - 5) * 1000) {
      throw new Failed(`only ${n} messages, delivered over ${seconds(span)} in ${RUN_SECONDS} s`);
    }
    console.log(
      `test:arm64: run ok: seq 1..${n}, no gap, delivered over ${seconds(span)}, exit 0 on SIGTERM`,
    );
    return `run seq 1..${n} delivered over ${seconds(span)}, first after ${seconds(firstAfter)}`;
  } catch (error) {
    if (output.trim()) {
      console.error(
        `leaf run output (last 15 lines):\n${output.trimEnd().split("\n").slice(-15).join("\n")}`,
      );
    }
    throw error;
  } finally {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await status;
    await pumps;
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
