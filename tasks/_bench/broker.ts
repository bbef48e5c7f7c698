/**
 * The bench's broker and its referee: Mosquitto with a TLS listener on
 * loopback (`set_tcp_nodelay true`, no in-flight or queue limits), and a
 * `mosquitto_sub` observer subscribed to `devices/#` that timestamps every
 * arrival. All contenders are timed by the same observer, so no contender's
 * own clock or log format matters.
 *
 * The bench keeps this separate from `test/_mosquitto.ts`: tasks do not import
 * test code, and the bench needs the observer as well.
 *
 * @module
 */

/** Arrivals seen for one device id (all clients here are devices). */
export interface Arrivals {
  /** Messages that reached the observer. */
  count: number;
  /** Realtime clock (ms since the epoch, µs precision) of each arrival, in order. */
  times: number[];
}

/** The `mosquitto_sub` observer, plus the broker's own connect log. */
export interface Observer {
  /**
   * When the broker accepted `clientId` (realtime ms): its "New client
   * connected" log line, written just before it sends CONNACK, stamped as
   * the bench reads it.
   */
  connectedAt(clientId: string): number | undefined;
  /** Arrivals for `deviceId` so far (an empty record before the first). */
  arrivals(deviceId: string): Arrivals;
  /** Resolves once `count` messages of `deviceId` arrived; rejects after `timeoutMs`. */
  waitFor(deviceId: string, count: number, timeoutMs: number): Promise<Arrivals>;
}

/** A running broker with its observer. */
export interface Broker extends AsyncDisposable {
  port: number;
  observer: Observer;
  /** The broker's stderr so far. */
  log(): string;
}

/** Options of {@linkcode startBroker}. */
export interface BrokerOptions {
  /** Server certificate followed by its issuers (PEM file). */
  certFile: string;
  /** Server key (PEM file). */
  keyFile: string;
  /** Root CA the observer pins. */
  caFile: string;
  /** Name in the server certificate. */
  host: string;
  /** Directory for the config file. */
  dir: string;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function collect(stream: ReadableStream<Uint8Array>, onText: (t: string) => void) {
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) onText(chunk);
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function canConnect(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/** A running Mosquitto and what its log told so far. */
interface MosquittoProcess {
  port: number;
  log(): string;
  /** Realtime ms of each client id's first "New client connected" line. */
  connects: Map<string, number>;
  stop(): Promise<void>;
}

/** Starts Mosquitto on a free loopback port; retries when another process took the port. */
async function startMosquitto(options: BrokerOptions): Promise<MosquittoProcess> {
  for (let attempt = 1;; attempt++) {
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
        // Without it every pipelined burst of PUBACKs waits on Nagle (~40 ms).
        "set_tcp_nodelay true",
        "max_inflight_messages 0",
        "max_queued_messages 0",
        "",
      ].join("\n"),
    );
    const child = new Deno.Command("mosquitto", {
      args: ["-c", conf],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let log = "";
    let partial = "";
    let exited = false;
    child.status.then(() => exited = true);
    const connects = new Map<string, number>();
    const reader = collect(child.stderr, (text) => {
      const at = performance.timeOrigin + performance.now();
      log += text;
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        const m = / New client connected from \S+ as (\S+) \(/.exec(line);
        if (m && !connects.has(m[1])) connects.set(m[1], at);
      }
      // Keep the log bounded: one line per connection, and a run makes many.
      if (log.length > 1_000_000) log = log.slice(-500_000);
    });
    const stop = async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await reader.catch(() => {});
    };
    try {
      await until(
        () => exited || /Opening ipv4 listen socket/.test(log),
        10_000,
        "mosquitto to listen",
      );
      if (!exited && await canConnect(port)) return { port, log: () => log, connects, stop };
    } catch { /* reported below */ }
    await stop();
    if (!/Address already in use/.test(log) || attempt === 5) {
      throw new Error(`mosquitto did not start:\n${log}`);
    }
  }
}

/** Starts Mosquitto on a free loopback port, then the observer; stops both on dispose. */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const mosquitto = await startMosquitto(options);
  const { port, connects } = mosquitto;
  const stopBroker = mosquitto.stop;

  // %U: arrival time (realtime, ns); %t: topic. One line per message.
  const sub = new Deno.Command("mosquitto_sub", {
    args: [
      ...["-h", options.host, "-p", String(port), "--cafile", options.caFile],
      ...["-i", "bench-observer", "-q", "0", "-t", "devices/#", "-F", "%U %t", "--nodelay"],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const table = new Map<string, Arrivals>();
  const waiters = new Set<() => void>();
  let pending = "";
  let subErr = "";
  const record = (line: string) => {
    const space = line.indexOf(" ");
    if (space < 0) return;
    // "1764403868.123456789 devices/<id>/messages/events/..."
    const [sec, frac = "0"] = line.slice(0, space).split(".");
    const ms = Number(sec) * 1000 + Number(frac.padEnd(9, "0").slice(0, 6)) / 1000;
    const id = line.slice(space + 1).split("/")[1] ?? "";
    let a = table.get(id);
    if (!a) table.set(id, a = { count: 0, times: [] });
    a.count++;
    a.times.push(ms);
  };
  const subReader = collect(sub.stdout, (text) => {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) record(line);
    for (const w of waiters) w();
  });
  const subErrReader = collect(sub.stderr, (t) => subErr += t);
  const stopSub = async () => {
    try {
      sub.kill("SIGTERM");
    } catch { /* already gone */ }
    await sub.status;
    await Promise.all([subReader, subErrReader]).catch(() => {});
  };

  const observer: Observer = {
    connectedAt: (id) => connects.get(id),
    arrivals: (id) => table.get(id) ?? { count: 0, times: [] },
    waitFor(id, count, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const a = observer.arrivals(id);
          if (a.count < count) return;
          done();
          resolve(a);
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `The observer saw ${
                observer.arrivals(id).count
              } of ${count} messages from "${id}" within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };

  // The observer is ready once its own probe message comes back.
  const probe = async () => {
    await new Deno.Command("mosquitto_pub", {
      args: [
        ...["-h", options.host, "-p", String(port), "--cafile", options.caFile],
        ...["-i", "bench-probe", "-q", "1", "-t", "devices/bench-probe/messages/events/"],
        ...["-m", "{}"],
      ],
      stdout: "null",
      stderr: "null",
    }).output();
  };
  try {
    const deadline = performance.now() + 10_000;
    while (observer.arrivals("bench-probe").count === 0) {
      if (performance.now() > deadline) throw new Error(`no probe message; ${subErr}`);
      await probe();
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (error) {
    await stopSub();
    await stopBroker();
    throw new Error(`The observer did not start: ${(error as Error).message}`);
  }

  return {
    port,
    observer,
    log: mosquitto.log,
    async [Symbol.asyncDispose]() {
      await stopSub();
      await stopBroker();
    },
  };
}
