/**
 * A real Mosquitto broker on a free loopback port, for the bench and the
 * tests: an independent MQTT implementation leaf did not write. A TLS
 * listener when given a certificate, else a plain MQTT one (the tests'
 * "wrong port"). `set_tcp_nodelay true` and no in-flight or queue limits.
 *
 * @module
 */
import { collect, freePort } from "./_process.ts";

/** Options of {@linkcode startMosquitto}. */
export interface MosquittoOptions {
  /** Directory for the config file (removed by the caller). */
  dir: string;
  /** Server certificate chain and key (PEM files); without them the listener is plain MQTT. */
  tls?: { certFile: string; keyFile: string };
  /** Called with each piece of the broker's log as it arrives (the bench stamps connects). */
  onLog?: (text: string) => void;
}

/** A running broker; `await using` stops it. */
export interface Mosquitto extends AsyncDisposable {
  port: number;
  /** The broker's stderr so far (the last half megabyte of a long run). */
  log(): string;
}

/** How many free ports {@linkcode startMosquitto} tries when another process takes one first. */
const ATTEMPTS = 5;

/** True when the mosquitto binary is on PATH. */
export async function haveMosquitto(): Promise<boolean> {
  try {
    const out = await new Deno.Command("mosquitto", {
      args: ["-h"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.code === 0 || out.code === 3;
  } catch {
    return false;
  }
}

/** The config file of a broker listening on `127.0.0.1:port`. */
export function mosquittoConf(port: number, tls?: MosquittoOptions["tls"]): string {
  return [
    "per_listener_settings true",
    // Stay the invoking user: the test keys are mode 0600.
    "user root",
    `listener ${port} 127.0.0.1`,
    ...(tls ? [`certfile ${tls.certFile}`, `keyfile ${tls.keyFile}`] : []),
    "allow_anonymous true",
    // Without it every pipelined burst of PUBACKs waits on Nagle (~40 ms).
    "set_tcp_nodelay true",
    "max_inflight_messages 0",
    "max_queued_messages 0",
    "",
  ].join("\n");
}

async function canConnect(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Starts Mosquitto on a free loopback port; retries when another process took the port. */
export async function startMosquitto(options: MosquittoOptions): Promise<Mosquitto> {
  for (let attempt = 1;; attempt++) {
    const port = freePort();
    const conf = `${options.dir}/mosquitto-${port}.conf`;
    await Deno.writeTextFile(conf, mosquittoConf(port, options.tls));
    const child = new Deno.Command("mosquitto", {
      args: ["-c", conf],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let log = "";
    let exited = false;
    child.status.then(() => exited = true);
    const reader = collect(child.stderr, (text) => {
      log += text;
      options.onLog?.(text);
      // Keep the log bounded: the bench's runs log one line per connection, and make many.
      if (log.length > 1_000_000) log = log.slice(-500_000);
    });
    const stop = async (signal: Deno.Signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      await child.status;
      await reader.catch(() => {});
    };
    const deadline = performance.now() + 10_000;
    while (!exited && performance.now() < deadline) {
      if (/Opening ipv4 listen socket|mosquitto version .* running/.test(log)) {
        if (await canConnect(port)) {
          return { port, log: () => log, [Symbol.asyncDispose]: () => stop() };
        }
      } else if (/Error/.test(log)) {
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await stop("SIGKILL");
    if (!/Address already in use/.test(log) || attempt === ATTEMPTS) {
      throw new Error(`mosquitto did not start:\n${log || "(no output within 10 s)"}`);
    }
  }
}
