/**
 * A real Mosquitto broker with a TLS listener on loopback, for tests and the
 * bench: an independent MQTT implementation leaf did not write.
 *
 * @module
 */
import { waitFor } from "./_helpers.ts";

/** A running broker; `await using` stops it and removes its files. */
export interface Mosquitto extends AsyncDisposable {
  port: number;
  /** Broker log so far. */
  log(): Promise<string>;
}

/** Options of {@linkcode startMosquitto}. */
export interface MosquittoOptions {
  /** Server certificate chain PEM file. */
  certFile: string;
  /** Server key PEM file. */
  keyFile: string;
  /** Directory for the config file (removed by the caller). */
  dir: string;
}

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

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts Mosquitto with TLS on a free loopback port. */
export async function startMosquitto(options: MosquittoOptions): Promise<Mosquitto> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const conf = `${options.dir}/mosquitto-${port}.conf`;
    await Deno.writeTextFile(
      conf,
      [
        "per_listener_settings true",
        // Stay the invoking user: the test keys are mode 0600.
        "user root",
        `listener ${port} 127.0.0.1`,
        `certfile ${options.certFile}`,
        `keyfile ${options.keyFile}`,
        "allow_anonymous true",
        "set_tcp_nodelay true",
        "max_inflight_messages 0",
        "max_queued_messages 0",
        "",
      ].join("\n"),
    );
    const child = new Deno.Command("mosquitto", {
      args: ["-c", conf],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    const reader = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
    })();
    const up = await waitFor(async () => {
      if (/Opening ipv4 listen socket on port|mosquitto version .* running/.test(stderr)) {
        try {
          const c = await Deno.connect({ hostname: "127.0.0.1", port });
          c.close();
          return true;
        } catch {
          return false;
        }
      }
      return /Error/.test(stderr) ? "failed" : false;
    }, { timeoutMs: 10_000, what: "mosquitto to listen" }).catch(() => "failed");
    if (up === true) {
      return {
        port,
        log: () => Promise.resolve(stderr),
        async [Symbol.asyncDispose]() {
          try {
            child.kill("SIGTERM");
          } catch { /* gone */ }
          await child.status;
          await reader;
        },
      };
    }
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await reader;
    if (!/Address already in use/.test(stderr)) {
      throw new Error(`mosquitto did not start:\n${stderr}`);
    }
  }
  throw new Error("mosquitto did not start: no free port after 5 attempts");
}
