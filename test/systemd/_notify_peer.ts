/**
 * A child process for the sd_notify tests. It runs with `--unstable-net`
 * (Deno's unix datagram API is unstable) and `--no-config`, so it behaves the
 * same whether or not deno.json enables the flag.
 *
 * - `listen ADDRESS`: binds a unix datagram socket (a path, or `@name` for
 *   the abstract namespace), prints `{"bound":true}`, then one JSON line
 *   `{"t": <ms since bind>, "text": "..."}` per datagram, until stdin closes.
 * - `scenario ADDRESS`: plays systemd and leaf in one process: binds
 *   ADDRESS, runs the real notifier, heartbeat (with the wedge test hook) and
 *   watchdog against it, and prints one JSON report.
 * - `notifier ADDRESS`: only creates a notifier for ADDRESS and prints
 *   `{"ok":true}` or `{"error", "code"}` (run without `--unstable-net`).
 *
 * @module
 */
import { createNotifier } from "../../lib/systemd/notify.ts";
import { createHeartbeat, createWatchdog } from "../../lib/systemd/watchdog.ts";
import { LeafError } from "../../lib/errors.ts";

type UnixAddr = { path: string; transport: "unixpacket" };
type Conn = {
  receive(): Promise<[Uint8Array, unknown]>;
  close(): void;
};
const listenDatagram = (Deno as unknown as { listenDatagram?: (a: UnixAddr) => Conn })
  .listenDatagram;

/**
 * The scenario's timing, ms: short enough for a quick test, long enough that
 * timer lateness on a loaded 2-CPU CI machine stays well inside a period.
 */
export const SCENARIO = {
  watchdogUsec: 500_000,
  beatEvery: 20,
  staleAfterMs: 400,
  wedgeAfterMs: 1_500,
  runFor: 2_800,
};

/** What `scenario` prints. */
export interface ScenarioReport {
  received: { t: number; text: string }[];
  watchdogInterval: number | undefined;
  /** When the wedge hook fired, ms after the watchdog started (t = 0). */
  wedgeAt: number;
  staleAfterMs: number;
  pings: number;
  withheld: number;
  envAfter: Record<string, string>;
}

function toAddress(arg: string): string {
  return arg.startsWith("@") ? `\0${arg.slice(1)}` : arg;
}

/** Binds ARG; `onText` gets each datagram with its arrival time (performance.now()). */
function bind(arg: string, onText: (at: number, text: string) => void): () => Promise<void> {
  if (!listenDatagram) throw new Error("run with --unstable-net");
  const conn = listenDatagram({ path: toAddress(arg), transport: "unixpacket" });
  let closed = false;
  const done = (async () => {
    while (true) {
      try {
        const [data] = await conn.receive();
        onText(performance.now(), new TextDecoder().decode(data));
      } catch (error) {
        if (closed) return;
        throw error;
      }
    }
  })();
  return async () => {
    closed = true;
    conn.close();
    await done;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function scenario(arg: string): Promise<ScenarioReport> {
  const arrived: { at: number; text: string }[] = [];
  const unbind = bind(arg, (at, text) => arrived.push({ at, text }));
  const vars = new Map([["NOTIFY_SOCKET", arg], ["WATCHDOG_USEC", String(SCENARIO.watchdogUsec)]]);
  const env = { get: (k: string) => vars.get(k), delete: (k: string) => void vars.delete(k) };
  const notifier = createNotifier({ env });
  const created = performance.now();
  const heartbeat = createHeartbeat({
    staleAfterMs: SCENARIO.staleAfterMs,
    wedgeAfterMs: SCENARIO.wedgeAfterMs,
  });
  const loop = setInterval(heartbeat.beat, SCENARIO.beatEvery);
  await notifier.ready("starting");
  await notifier.ready();
  await notifier.status("connected=false sent=0 queued=0");
  const watchdog = createWatchdog({
    notifier,
    intervalMs: notifier.watchdogInterval,
    isHealthy: heartbeat.isHealthy,
  });
  const started = performance.now();
  watchdog.start();
  await sleep(SCENARIO.runFor);
  watchdog.stop();
  clearInterval(loop);
  await notifier.stopping("SIGTERM: stopping");
  await notifier.ping(); // after STOPPING=1: must not be sent
  await notifier.close();
  await sleep(100);
  await unbind();
  return {
    received: arrived.map(({ at, text }) => ({ t: at - started, text })),
    watchdogInterval: notifier.watchdogInterval,
    wedgeAt: created + SCENARIO.wedgeAfterMs - started,
    staleAfterMs: SCENARIO.staleAfterMs,
    pings: watchdog.pings,
    withheld: watchdog.withheld,
    envAfter: Object.fromEntries(vars),
  };
}

if (import.meta.main) {
  const [mode, arg] = Deno.args;
  if (mode === "listen") {
    const out = (o: unknown) => console.log(JSON.stringify(o));
    const start = performance.now();
    const unbind = bind(arg, (at, text) => out({ t: at - start, text }));
    out({ bound: true });
    for await (const _ of Deno.stdin.readable) { /* until the parent closes stdin */ }
    await unbind();
  } else if (mode === "scenario") {
    console.log(JSON.stringify(await scenario(arg)));
  } else if (mode === "notifier") {
    try {
      const n = createNotifier({ env: { get: (k) => (k === "NOTIFY_SOCKET" ? arg : undefined) } });
      await n.close();
      console.log(JSON.stringify({ ok: true }));
    } catch (error) {
      console.log(JSON.stringify({
        error: (error as Error).message,
        code: error instanceof LeafError ? error.code : undefined,
      }));
    }
  } else {
    console.error("usage: _notify_peer.ts listen|scenario|notifier ADDRESS");
    Deno.exit(2);
  }
}
