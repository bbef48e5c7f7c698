/**
 * The bench's broker and its referee: Mosquitto with a TLS listener on
 * loopback (`set_tcp_nodelay true`, no in-flight or queue limits), and a
 * `mosquitto_sub` observer subscribed to `devices/#` that timestamps every
 * arrival. All contenders are timed by the same observer, so no contender's
 * own clock or log format matters.
 *
 * The broker itself is `tasks/_mosquitto.ts`, which the tests start too.
 *
 * @module
 */
import { collect } from "../_process.ts";
import { startMosquitto } from "../_mosquitto.ts";

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

/** Mosquitto, and the realtime ms of each client id's first "New client connected" line. */
async function startLoggedMosquitto(options: BrokerOptions) {
  const connects = new Map<string, number>();
  let partial = "";
  const mosquitto = await startMosquitto({
    dir: options.dir,
    tls: { certFile: options.certFile, keyFile: options.keyFile },
    onLog(text) {
      const at = performance.timeOrigin + performance.now();
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        const m = / New client connected from \S+ as (\S+) \(/.exec(line);
        if (m && !connects.has(m[1])) connects.set(m[1], at);
      }
    },
  });
  return { mosquitto, connects };
}

/** Starts Mosquitto on a free loopback port, then the observer; stops both on dispose. */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const { mosquitto, connects } = await startLoggedMosquitto(options);
  const port = mosquitto.port;
  const stopBroker = () => mosquitto[Symbol.asyncDispose]();

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
