/**
 * Shared test utilities: temp dirs that remove themselves, the real leaf
 * entry point as a subprocess, and small waits. Every helper cleans up with
 * `await using` so tests pass twice in a row and beside another checkout.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { V8_FLAGS_ARG } from "../lib/v8_flags.ts";
import { run, spawnCaptured } from "../tasks/_process.ts";

/** Absolute path of the repository root. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/** Absolute path of `main.ts`. */
export const MAIN: string = fileURLToPath(new URL("../main.ts", import.meta.url));

/** A temp dir removed (recursively) on dispose. */
export interface TempDir extends AsyncDisposable {
  path: string;
}

/** Creates a temp dir named `leaf-<prefix>-*`, removed on `await using`. */
export async function tempDir(prefix = "test"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix: `leaf-${prefix}-` });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Where `Deno.makeTempDir` puts the tests' dirs: `$TMPDIR`, else /tmp. */
const TMP = Deno.env.get("TMPDIR") || "/tmp";

/** System paths leaf reads in tests: os-release, trust store, tool lookup. */
const READ_SYSTEM = [
  "/etc",
  "/usr/local/share/ca-certificates",
  "/usr/share/ca-certificates",
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
];

/** Hosts leaf may reach in tests: every test service listens on the loopback. */
const LEAF_NET = ["127.0.0.1", "localhost"];

/** Everything leaf reads from its environment (lib/), and nothing else. */
const LEAF_ENV = [
  "LEAF_CONFIG",
  "IOTHUB_DEVICE_CONNECTION_STRING",
  "IOTEDGE_ROOT_CA_CERT_PATH",
  "CREDENTIALS_DIRECTORY",
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "WATCHDOG_PID",
  "LEAF_TEST_WEDGE_LOOP_AFTER",
  "NO_COLOR",
  "PATH",
  // Read by npm dependencies when they load: readable-stream (aedes), yaml.
  "READABLE_STREAM",
  "LOG_TOKENS",
  "LOG_STREAM",
];

/**
 * Permissions the leaf subprocess gets in tests (scoped, not -A): reads of
 * the repository (fixture roots, the gateway's page), of the temp dirs the
 * tests make and of the system paths above; writes only there; the loopback; the variables leaf reads.
 */
export const LEAF_PERMISSIONS = [
  // Not a permission, but part of how leaf ships (lib/v8_flags.ts).
  V8_FLAGS_ARG,
  // /etc and the store folders: what `leaf ca` inspects (tests pass --root
  // or run it in a sandbox); the PATH folders: where it finds the tools.
  `--allow-read=${ROOT},${TMP},${READ_SYSTEM.join(",")}`,
  `--allow-write=${TMP}`,
  `--allow-net=${LEAF_NET.join(",")}`,
  `--allow-env=${LEAF_ENV.join(",")}`,
  "--allow-sys",
  "--allow-run",
];

/** The result of a finished leaf subprocess. */
export interface LeafResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runLeaf}. */
export interface RunLeafOptions {
  /** Extra environment; IOTHUB_* and IOTEDGE_* of the test process are not inherited. */
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the process after this many ms (default 60 000). */
  timeoutMs?: number;
  stdin?: string;
  /**
   * Hosts leaf may connect to besides the loopback, e.g. a name that must
   * fail to resolve (Deno checks the net permission before DNS); `"all"` for
   * the sd_notify tests: Deno counts binding leaf's abstract-namespace
   * socket (a per-process name) as net access.
   */
  allowNet?: string[] | "all";
}

/** Environment for a leaf subprocess: the parent's, minus leaf's own variables. */
export function leafEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Deno.env.toObject();
  for (const k of Object.keys(env)) {
    if (/^(IOTHUB_|IOTEDGE_|LEAF_)/.test(k)) delete env[k];
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

/** The argv that starts leaf from source, with {@linkcode LEAF_PERMISSIONS}. */
export function leafCommand(
  args: string[],
  options: Pick<RunLeafOptions, "allowNet"> = {},
): string[] {
  const net = options.allowNet === "all"
    ? undefined
    : [...LEAF_NET, ...options.allowNet ?? []].join(",");
  const permissions = LEAF_PERMISSIONS.map((p) => {
    if (p.startsWith("--allow-net=")) {
      return net === undefined ? "--allow-net" : `--allow-net=${net}`;
    }
    // The dev gateway's broker (aedes) pulls in `debug`, which lists the whole
    // environment when it loads; the agent's commands keep the named list.
    if (p.startsWith("--allow-env=") && args[0] === "gateway") return "--allow-env";
    return p;
  });
  return ["run", ...permissions, MAIN, ...args];
}

/** Runs `leaf <args>` to completion and returns code, stdout and stderr. */
export async function runLeaf(args: string[], options: RunLeafOptions = {}): Promise<LeafResult> {
  const { code, stdout, stderr } = await run(Deno.execPath(), leafCommand(args, options), {
    env: leafEnv(options.env),
    clearEnv: true,
    cwd: options.cwd,
    timeoutMs: options.timeoutMs,
    stdin: options.stdin,
  });
  return { code, stdout, stderr };
}

/** Polls `predicate` every `intervalMs` until it is truthy or `timeoutMs` passes. */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Reads a JSON-lines file; a missing file is an empty list. */
export async function readJsonLines<T = Record<string, unknown>>(path: string): Promise<T[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as T);
}

/** A leaf process running in the background (e.g. `leaf run`). */
export interface LeafProcess extends AsyncDisposable {
  child: Deno.ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Sends `signal` and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Starts `leaf <args>` in the background, capturing its output. */
export function spawnLeaf(
  args: string[],
  options: Omit<RunLeafOptions, "stdin" | "timeoutMs"> = {},
): LeafProcess {
  const { child, stdout, stderr, closed } = spawnCaptured(Deno.execPath(), {
    args: leafCommand(args, options),
    env: leafEnv(options.env),
    clearEnv: true,
    cwd: options.cwd,
  });
  let exited: Promise<number> | undefined;
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    exited ??= child.status.then(async (s) => {
      await closed;
      return s.code;
    });
    return await exited;
  };
  return {
    child,
    stderr,
    stdout,
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
    },
  };
}
