/**
 * Subprocess and port helpers shared by the tasks and the tests (tests may
 * import from tasks/, never the other way): run a program to completion with
 * a deadline, spawn one and keep its output as text, pick a free loopback port.
 *
 * @module
 */

/** What a finished subprocess left behind. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** True when the deadline killed it. */
  timedOut: boolean;
  /** Wall time in ms. */
  ms: number;
}

/** Options of {@linkcode run}. */
export interface RunOptions {
  env?: Record<string, string>;
  /** Start from an empty environment plus `env`. @default false */
  clearEnv?: boolean;
  cwd?: string;
  /** Kill (SIGKILL) after this many ms. @default 60000 */
  timeoutMs?: number;
  /** Text written to its stdin, which is then closed. @default stdin closed at once */
  stdin?: string;
}

/** Runs `cmd args` to completion, capturing its output; a missing program is code 127. */
export async function run(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const started = performance.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      env: options.env,
      clearEnv: options.clearEnv ?? false,
      cwd: options.cwd,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { code: 127, stdout: "", stderr: `${cmd}: not found`, timedOut: false, ms: 0 };
    }
    // Not executable, or not a program for this machine (ENOEXEC).
    const why = error instanceof Error ? error.message : String(error);
    return { code: 126, stdout: "", stderr: `${cmd}: ${why}`, timedOut: false, ms: 0 };
  }
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.timeoutMs ?? 60_000);
  try {
    const out = await child.output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return {
      code: out.code,
      stdout: decode(out.stdout),
      stderr: decode(out.stderr),
      timedOut,
      ms: performance.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Calls `onText` with each decoded chunk of `stream` until it ends. */
export async function collect(
  stream: ReadableStream<Uint8Array>,
  onText: (text: string) => void,
): Promise<void> {
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) onText(chunk);
}

/** A spawned process whose stdout and stderr are kept as text as they arrive. */
export interface Captured {
  child: Deno.ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves once both streams have ended. */
  closed: Promise<void>;
}

/** Spawns `cmd` with stdin closed, capturing stdout and stderr. */
export function spawnCaptured(
  cmd: string,
  options: Omit<Deno.CommandOptions, "stdin" | "stdout" | "stderr">,
): Captured {
  const child = new Deno.Command(cmd, {
    ...options,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const closed = Promise.all([
    collect(child.stdout, (t) => out += t),
    collect(child.stderr, (t) => err += t),
  ]).then(() => {});
  return { child, stdout: () => out, stderr: () => err, closed };
}

/** A free TCP port on loopback (released before returning: another process may take it). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
