/**
 * Contender processes, measured from outside: each runs under GNU
 * `/usr/bin/time` (peak RSS, user and system CPU from the kernel's rusage);
 * wall time is the bench's own clock from spawn to exit. Signals go to the
 * contender itself (time's child), so `time` still reports its rusage.
 *
 * @module
 */
import { spawnCaptured } from "../_process.ts";

/** Realtime clock in ms with µs precision (comparable with the observer's stamps). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** What a finished contender process reports. */
export interface ProcResult {
  /** Exit code of the contender (128 + n when a signal ended it). */
  code: number;
  /** Spawn time, realtime ms. */
  startedAt: number;
  /** Spawn to exit, ms. */
  wallMs: number;
  /** Peak resident set size, KiB (`/usr/bin/time` %M). */
  maxRssKiB: number;
  /** CPU seconds in user mode. */
  userS: number;
  /** CPU seconds in the kernel. */
  sysS: number;
  stdout: string;
  stderr: string;
}

/** A contender process running under `/usr/bin/time`. */
export interface Proc {
  /** Spawn time, realtime ms. */
  readonly startedAt: number;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** The contender's pid (time's child); waits until it exists. */
  pid(): Promise<number>;
  /** Signals the contender. */
  kill(signal: Deno.Signal): Promise<void>;
  /** Resolves when the contender exited and `time` reported. */
  done: Promise<ProcResult>;
}

/** Options of {@linkcode spawnTimed}. */
export interface SpawnOptions {
  /** argv[0] and its arguments. */
  cmd: string[];
  /** Extra environment (merged over the bench's). */
  env?: Record<string, string>;
  cwd?: string;
  /** File for time's report. */
  reportFile: string;
}

/** Path of GNU time. */
export const TIME_BIN = "/usr/bin/time";

const live = new Map<number, Proc>();

/** The bench's environment minus leaf's and the SDK's own variables (IOTHUB_, IOTEDGE_, LEAF_). */
export function benchEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const k of Object.keys(env)) {
    if (/^(IOTHUB_|IOTEDGE_|LEAF_)/.test(k)) delete env[k];
  }
  return env;
}

/** Kills every contender still running (Ctrl-C, errors). */
export async function killAll(): Promise<void> {
  await Promise.all([...live.values()].map((p) => p.kill("SIGKILL").catch(() => {})));
}

async function childOf(pid: number): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`);
    const first = text.trim().split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

/** Parses time's `-f "BENCH %x %M %U %S"` line. */
export function parseTimeReport(text: string): Pick<ProcResult, "maxRssKiB" | "userS" | "sysS"> {
  const line = text.split("\n").find((l) => l.startsWith("BENCH "));
  if (!line) throw new Error(`/usr/bin/time wrote no report:\n${text}`);
  const [, , rss, user, sys] = line.split(" ");
  return { maxRssKiB: Number(rss), userS: Number(user), sysS: Number(sys) };
}

/** Spawns `cmd` under `/usr/bin/time`. */
export function spawnTimed(options: SpawnOptions): Proc {
  const startedAt = nowMs();
  const { child, stdout, stderr, closed } = spawnCaptured(TIME_BIN, {
    args: ["-f", "BENCH %x %M %U %S", "-o", options.reportFile, ...options.cmd],
    env: { ...benchEnv(), NO_COLOR: "1", ...options.env },
    clearEnv: true,
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let innerPid: number | undefined;
  let exited = false;
  const pid = async () => {
    while (innerPid === undefined) {
      if (exited) throw new Error(`${options.cmd[0]} exited early:\n${stderr()}`);
      innerPid = await childOf(child.pid);
      if (innerPid === undefined) await new Promise((r) => setTimeout(r, 2));
    }
    return innerPid;
  };
  const proc: Proc = {
    startedAt,
    stdout,
    stderr,
    pid,
    async kill(signal) {
      if (exited) return;
      const p = innerPid ?? await childOf(child.pid);
      try {
        if (p !== undefined) Deno.kill(p, signal);
        else child.kill(signal);
      } catch { /* already gone */ }
    },
    done: (async () => {
      const status = await child.status;
      exited = true;
      const wallMs = nowMs() - startedAt;
      await closed;
      live.delete(child.pid);
      const report = await Deno.readTextFile(options.reportFile).catch(() => "");
      const exit = /BENCH (-?\d+)/.exec(report);
      const signal = /terminated by signal (\d+)/.exec(report);
      return {
        code: signal ? 128 + Number(signal[1]) : exit ? Number(exit[1]) : status.code,
        startedAt,
        wallMs,
        ...parseTimeReport(report),
        stdout: stdout(),
        stderr: stderr(),
      };
    })(),
  };
  live.set(child.pid, proc);
  return proc;
}

/** CPU seconds (user + system) a live process has used, from `/proc/<pid>/stat`. */
export async function cpuSeconds(pid: number, ticksPerSecond = 100): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the ")" that closes the command name; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Current resident set size of a live process, KiB (`VmRSS`). */
export async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}
