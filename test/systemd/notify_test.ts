import assert from "node:assert/strict";
import {
  createNotifier,
  type DatagramSender,
  formatNotify,
  MAX_STATUS_LENGTH,
  notifyAddress,
  statusText,
  watchdogIntervalFrom,
} from "../../lib/systemd/notify.ts";
import { createLogger } from "../../lib/log.ts";

function fakeEnv(vars: Record<string, string>) {
  const map = new Map(Object.entries(vars));
  return {
    map,
    get: (k: string) => map.get(k),
    delete: (k: string) => void map.delete(k),
  };
}

function fakeSocket(fail: () => boolean = () => false) {
  const sent: string[] = [];
  const opened: string[] = [];
  let closed = false;
  const connect = (address: string): DatagramSender => {
    opened.push(address);
    return {
      send(data) {
        if (fail()) return Promise.reject(new Error("Connection refused (os error 111)"));
        sent.push(new TextDecoder().decode(data));
        return Promise.resolve();
      },
      close() {
        closed = true;
      },
    };
  };
  return { sent, opened, connect, closed: () => closed };
}

function captureLog() {
  const lines: string[] = [];
  return { lines, log: createLogger({ write: (l) => lines.push(l) }) };
}

Deno.test("notifyAddress() keeps a path and turns @name into an abstract address", () => {
  assert.equal(notifyAddress("/run/systemd/notify"), "/run/systemd/notify");
  assert.equal(
    notifyAddress("@/org/freedesktop/systemd1/notify/1"),
    "\0/org/freedesktop/systemd1/notify/1",
  );
  assert.equal(notifyAddress("vsock:2:1234"), undefined);
  assert.equal(notifyAddress("@"), undefined);
  assert.equal(notifyAddress("relative.sock"), undefined);
});

const INTERVALS: [string | undefined, string | undefined, number | undefined][] = [
  ["60000000", undefined, 30_000],
  ["60000000", "4242", 30_000],
  ["60000000", "1", undefined], // systemd watches another process
  ["1000", undefined, 1], // never below 1 ms
  ["0", undefined, undefined],
  ["-5", undefined, undefined],
  ["soon", undefined, undefined],
  [undefined, undefined, undefined],
];
for (const [usec, watchdogPid, expected] of INTERVALS) {
  Deno.test(`watchdogIntervalFrom() maps WATCHDOG_USEC=${usec} WATCHDOG_PID=${watchdogPid} to ${expected}`, () => {
    assert.equal(watchdogIntervalFrom(usec, watchdogPid, 4242), expected);
  });
}

Deno.test("formatNotify() joins assignments and keeps STATUS to one bounded line", () => {
  assert.equal(formatNotify({ READY: "1", STATUS: "a\nb\r\nc" }), "READY=1\nSTATUS=a b c");
  const long = formatNotify({ STATUS: "x".repeat(5000) });
  assert.equal(long.length, "STATUS=".length + MAX_STATUS_LENGTH);
  assert.throws(() => formatNotify({ "bad key": "1" }), /Invalid sd_notify key/);
});

Deno.test("statusText() prints key=value pairs and quotes values with spaces", () => {
  assert.equal(
    statusText({ connected: true, queued: 3, lastError: "ECONNREFUSED on gw", skip: undefined }),
    'connected=true queued=3 lastError="ECONNREFUSED on gw"',
  );
});

Deno.test("createNotifier() is a no-op without NOTIFY_SOCKET", async () => {
  const socket = fakeSocket();
  const n = createNotifier({ env: fakeEnv({ WATCHDOG_USEC: "1000000" }), connect: socket.connect });
  assert.equal(n.enabled, false);
  assert.equal(n.watchdogInterval, undefined);
  await n.ready("x");
  await n.ping();
  await n.stopping();
  await n.close();
  assert.deepEqual(socket.opened, []);
});

Deno.test("createNotifier() sends READY=1 once, in order, and nothing after close", async () => {
  const socket = fakeSocket();
  const env = fakeEnv({
    NOTIFY_SOCKET: "@sd-notify",
    WATCHDOG_USEC: "20000000",
    WATCHDOG_PID: "7",
  });
  const n = createNotifier({ env, pid: 7, connect: socket.connect });
  assert.equal(n.enabled, true);
  assert.equal(n.socket, "@sd-notify");
  assert.equal(n.watchdogInterval, 10_000);
  assert.deepEqual(socket.opened, ["\0sd-notify"]);
  assert.deepEqual([...env.map.keys()], [], "variables unset so children do not inherit them");
  // Fire without awaiting: the order must still hold.
  void n.ready("starting");
  void n.ready();
  void n.ready("later status");
  void n.status("connected=true");
  void n.ping();
  void n.stopping("SIGTERM: stopping");
  void n.ping();
  await n.close();
  await n.status("after close");
  assert.deepEqual(socket.sent, [
    "READY=1\nSTATUS=starting",
    "STATUS=later status",
    "STATUS=connected=true",
    "WATCHDOG=1",
    "STOPPING=1\nSTATUS=SIGTERM: stopping",
  ]);
  assert.equal(socket.closed(), true);
});

Deno.test("createNotifier() can leave the environment alone", () => {
  const env = fakeEnv({ NOTIFY_SOCKET: "/run/systemd/notify" });
  createNotifier({ env, unsetEnvironment: false, connect: fakeSocket().connect });
  assert.equal(env.get("NOTIFY_SOCKET"), "/run/systemd/notify");
});

Deno.test("createNotifier() logs a failing socket once, never throws, and logs recovery", async () => {
  let failing = true;
  const socket = fakeSocket(() => failing);
  const { lines, log } = captureLog();
  const n = createNotifier({
    env: fakeEnv({ NOTIFY_SOCKET: "/run/systemd/notify" }),
    connect: socket.connect,
    log,
  });
  await n.ready();
  await n.ping();
  await n.ping();
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /WARN {2}Cannot notify systemd at "\/run\/systemd\/notify": Connection refused/,
  );
  failing = false;
  await n.ping();
  assert.match(lines[1], /notify socket works again/);
  assert.deepEqual(socket.sent, ["WATCHDOG=1"]);
  await n.close();
});

Deno.test("createNotifier() warns about an unsupported NOTIFY_SOCKET and stays off", async () => {
  const { lines, log } = captureLog();
  const socket = fakeSocket();
  const n = createNotifier({
    env: fakeEnv({ NOTIFY_SOCKET: "vsock:2:99" }),
    connect: socket.connect,
    log,
  });
  assert.equal(n.enabled, false);
  assert.match(lines[0], /NOTIFY_SOCKET "vsock:2:99" is not a unix socket path or @name/);
  await n.ready();
  assert.deepEqual(socket.opened, []);
});
