/**
 * A systemd notify (sd_notify) client without libsystemd: one datagram of
 * newline-separated `KEY=VALUE` lines to the unix socket named by
 * `$NOTIFY_SOCKET`, which may be a path (`/run/systemd/notify`) or an abstract
 * socket (`@name`, sent as a leading NUL byte). When `$NOTIFY_SOCKET` is unset
 * (not under systemd, or `Type=simple`) every call is a no-op.
 *
 * Mechanism: Deno's unix datagram socket, `Deno.listenDatagram({ transport:
 * "unixpacket" })` (a SOCK_DGRAM socket despite the name). It is unstable in
 * Deno 2.9: it exists only with `--unstable-net` or deno.json
 * `"unstable": ["net"]`. Our socket is bound in the abstract namespace (no file
 * to create or clean up, nothing writable needed), and the kernel attaches our
 * PID, so `NotifyAccess=main` accepts the messages. `node:dgram` has no unix
 * sockets (udp4/udp6 only), and the `systemd-notify` binary would need
 * `NotifyAccess=all` plus a process per watchdog ping.
 *
 * @example
 * ```ts
 * const notifier = createNotifier({ log });
 * await notifier.ready("started, 3 sensors");
 * await notifier.status("connected sent=10 queued=0");
 * await notifier.stopping();
 * await notifier.close();
 * ```
 *
 * @module
 */
import { EXIT, LeafError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** Environment access; `Deno.env` fits. */
export interface NotifyEnv {
  get(name: string): string | undefined;
  delete?(name: string): void;
}

/** Sends one datagram to a fixed address. */
export interface DatagramSender {
  send(data: Uint8Array): Promise<void>;
  close(): void;
}

/** Options of {@linkcode createNotifier}. */
export interface NotifierOptions {
  /** Where `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` come from. @default Deno.env */
  env?: NotifyEnv;
  /** Warnings about failed sends go here (once per failure streak). */
  log?: Logger;
  /** Our PID, compared with `WATCHDOG_PID`. @default Deno.pid */
  pid?: number;
  /**
   * Remove the three variables from `env` after reading them, so children
   * (command sensors) neither inherit nor misuse them, as libsystemd's
   * `unset_environment`. @default true
   */
  unsetEnvironment?: boolean;
  /** Opens the socket to an address ("\0name" for abstract); for tests. @default Deno unix datagram */
  connect?: (address: string) => DatagramSender;
}

/** The sd_notify client. Sends never throw: a failure is logged and dropped. */
export interface Notifier extends AsyncDisposable {
  /** True when `$NOTIFY_SOCKET` was set: messages are actually sent. */
  readonly enabled: boolean;
  /** The socket as given in `$NOTIFY_SOCKET`, or undefined. */
  readonly socket?: string;
  /**
   * Ping period in ms: half of `$WATCHDOG_USEC`, when systemd runs a watchdog
   * for this process (`WATCHDOG_PID` unset or ours); else undefined.
   */
  readonly watchdogInterval?: number;
  /** `READY=1` (+ `STATUS=`). Sent once; later calls only update the status. */
  ready(status?: string): Promise<void>;
  /** `STATUS=`: the one line `systemctl status leaf` shows. */
  status(text: string): Promise<void>;
  /** `WATCHDOG=1`. Ignored after {@linkcode Notifier.stopping}. */
  ping(): Promise<void>;
  /** `STOPPING=1` (+ `STATUS=`). */
  stopping(status?: string): Promise<void>;
  /** Any assignments, e.g. `{ EXTEND_TIMEOUT_USEC: "30000000" }`. */
  notify(fields: Record<string, string>): Promise<void>;
  /** Waits for queued sends, then closes the socket. */
  close(): Promise<void>;
}

/** Longest STATUS= text sent; systemd reads at most 4 KiB per datagram. */
export const MAX_STATUS_LENGTH = 1000;

/**
 * Turns a `$NOTIFY_SOCKET` value into a socket address: a path as is, `@name`
 * as an abstract address ("\0name"). Returns undefined for other kinds
 * (`vsock:`), which leaf does not support.
 */
export function notifyAddress(value: string): string | undefined {
  if (value.startsWith("/")) return value;
  if (value.startsWith("@") && value.length > 1) return `\0${value.slice(1)}`;
  return undefined;
}

/** The watchdog ping period in ms (half of `WATCHDOG_USEC`), or undefined when not ours. */
export function watchdogIntervalFrom(
  usec: string | undefined,
  watchdogPid: string | undefined,
  pid: number,
): number | undefined {
  if (usec === undefined || !/^\d+$/.test(usec.trim())) return undefined;
  const micros = Number(usec);
  if (micros <= 0 || !Number.isSafeInteger(micros)) return undefined;
  if (watchdogPid !== undefined && watchdogPid.trim() !== "" && Number(watchdogPid) !== pid) {
    return undefined;
  }
  return Math.max(1, Math.floor(micros / 2_000));
}

/** Formats one notify datagram; STATUS is cut to one line of {@linkcode MAX_STATUS_LENGTH}. */
export function formatNotify(fields: Record<string, string>): string {
  return Object.entries(fields).map(([key, value]) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(key)) throw new Error(`Invalid sd_notify key "${key}"`);
    const line = value.replace(/[\r\n]+/g, " ");
    return `${key}=${key === "STATUS" ? line.slice(0, MAX_STATUS_LENGTH) : line}`;
  }).join("\n");
}

/** Formats status fields as `key=value` pairs for STATUS=. */
export function statusText(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" && /\s/.test(v) ? JSON.stringify(v) : v}`)
    .join(" ");
}

type UnixAddr = { path: string; transport: "unixpacket" };
type ListenDatagram = (options: UnixAddr) => {
  send(data: Uint8Array, to: UnixAddr): Promise<number>;
  close(): void;
};

/** Opens a Deno unix datagram socket bound in the abstract namespace, sending to `address`. */
export function denoDatagram(address: string): DatagramSender {
  const listen = (Deno as unknown as { listenDatagram?: ListenDatagram }).listenDatagram;
  if (typeof listen !== "function") {
    throw new LeafError(
      "leaf was built without Deno's unstable unix datagram API, so it cannot notify systemd ($NOTIFY_SOCKET is set)",
      EXIT.bug,
      "systemd.notify_unavailable",
      {
        hint:
          'build with `deno task compile` (deno.json "unstable": ["net"]) or run with --unstable-net; or set Type=simple in a drop-in',
      },
    );
  }
  const local = `\0leaf-notify/${Deno.pid}/${crypto.randomUUID().slice(0, 8)}`;
  const conn = listen({ path: local, transport: "unixpacket" });
  const to: UnixAddr = { path: address, transport: "unixpacket" };
  return {
    async send(data) {
      await conn.send(data, to);
    },
    close: () => conn.close(),
  };
}

const NOOP = () => Promise.resolve();

/**
 * Creates the notifier from `$NOTIFY_SOCKET`. Throws a {@linkcode LeafError}
 * when the socket is set but cannot be used (a build without the unstable
 * net API): failing at start is better than being killed by systemd's start
 * timeout 90 s later without a word.
 */
export function createNotifier(options: NotifierOptions = {}): Notifier {
  const env = options.env ?? Deno.env;
  const pid = options.pid ?? Deno.pid;
  const socket = env.get("NOTIFY_SOCKET") || undefined;
  const watchdogInterval = watchdogIntervalFrom(
    env.get("WATCHDOG_USEC"),
    env.get("WATCHDOG_PID"),
    pid,
  );
  if (options.unsetEnvironment ?? true) {
    for (const name of ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]) env.delete?.(name);
  }
  const address = socket === undefined ? undefined : notifyAddress(socket);
  if (socket !== undefined && address === undefined) {
    options.log?.warn(
      `NOTIFY_SOCKET "${socket}" is not a unix socket path or @name: not notifying systemd`,
    );
  }
  if (address === undefined) {
    return {
      enabled: false,
      ready: NOOP,
      status: NOOP,
      ping: NOOP,
      stopping: NOOP,
      notify: NOOP,
      close: NOOP,
      [Symbol.asyncDispose]: NOOP,
    };
  }

  const sender = (options.connect ?? denoDatagram)(address);
  const encoder = new TextEncoder();
  let queue: Promise<void> = Promise.resolve();
  let failing = false;
  let readySent = false;
  let stopped = false;
  let closed = false;

  const send = (fields: Record<string, string>): Promise<void> => {
    if (closed) return Promise.resolve();
    const data = encoder.encode(formatNotify(fields));
    queue = queue.then(async () => {
      try {
        await sender.send(data);
        if (failing) options.log?.info("systemd notify socket works again");
        failing = false;
      } catch (error) {
        if (!failing) {
          options.log?.warn(`Cannot notify systemd at "${socket}": ${(error as Error).message}`);
        }
        failing = true;
      }
    });
    return queue;
  };
  const withStatus = (fields: Record<string, string>, status?: string) =>
    status === undefined ? fields : { ...fields, STATUS: status };

  const close = async () => {
    if (closed) return;
    closed = true;
    await queue;
    sender.close();
  };
  return {
    enabled: true,
    socket,
    ...(watchdogInterval !== undefined ? { watchdogInterval } : {}),
    ready(status) {
      if (readySent) return status === undefined ? Promise.resolve() : send({ STATUS: status });
      readySent = true;
      return send(withStatus({ READY: "1" }, status));
    },
    status: (text) => send({ STATUS: text }),
    ping: () => (stopped ? Promise.resolve() : send({ WATCHDOG: "1" })),
    stopping(status) {
      stopped = true;
      return send(withStatus({ STOPPING: "1" }, status));
    },
    notify: (fields) => send(fields),
    close,
    [Symbol.asyncDispose]: close,
  };
}
