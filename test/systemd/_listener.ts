/**
 * Runs `_notify_peer.ts` as a child with `--unstable-net` (Deno's unix
 * datagram API is unstable in 2.9) and `--no-config`, so these tests do not
 * depend on deno.json's `"unstable"` list.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { waitFor } from "../_helpers.ts";

/** The peer script. */
export const PEER: string = fileURLToPath(new URL("./_notify_peer.ts", import.meta.url));

/** Permissions the peer needs: a path socket is a file, an abstract one is "net". */
const PEER_PERMISSIONS = ["--allow-read", "--allow-write", "--allow-net"];

/** Runs the peer to completion; returns its stdout parsed as JSON. */
export async function runPeer(
  mode: "scenario" | "notifier",
  address: string,
  { unstable = true } = {},
): Promise<unknown> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-config",
      ...(unstable ? ["--unstable-net"] : []),
      ...PEER_PERMISSIONS,
      PEER,
      mode,
      address,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`peer ${mode} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(stdout);
}

/** One received datagram; `t` is ms since the listener bound. */
export interface Datagram {
  t: number;
  text: string;
}

/** A bound notify socket in a child process. */
export interface NotifyListener extends AsyncDisposable {
  /** The address as NOTIFY_SOCKET spells it (a path, or `@name`). */
  readonly address: string;
  /** Datagrams so far. */
  messages(): Datagram[];
  /** Messages whose lines include `line`, e.g. "WATCHDOG=1". */
  with(line: string): Datagram[];
}

/** Binds `address` (a path, or `@name`) in a child and collects what arrives. */
export async function startNotifyListener(address: string): Promise<NotifyListener> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--unstable-net", ...PEER_PERMISSIONS, PEER, "listen", address],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const received: Datagram[] = [];
  let bound = false;
  let stderr = "";
  const pumps = Promise.all([
    (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const o = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (o.bound) bound = true;
          else received.push(o);
        }
      }
    })(),
    (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
    })(),
  ]);
  const close = async () => {
    await child.stdin.close().catch(() => {});
    await child.status;
    await pumps;
  };
  try {
    await waitFor(() => bound, { what: `the notify listener on ${address} (${stderr})` });
  } catch (error) {
    child.kill();
    await close();
    throw error;
  }
  return {
    address,
    messages: () => [...received],
    with: (line) => received.filter((m) => m.text.split("\n").includes(line)),
    [Symbol.asyncDispose]: close,
  };
}
