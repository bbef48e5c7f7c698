/**
 * The `command` sensor: runs a program (an argv list: no shell is involved
 * on leaf's side) and reads its stdout as either
 * - one number, optionally with a key and unit text around it:
 *   `42.9`, `temp=42.9'C` (→ `temp`, 42.9, °C), `volt=0.8500V`, `throttled=0x50000`; or
 * - a JSON object of numbers (`{"co2": 612, "tvoc": 14}`), where a value may
 *   also be `{"value": 612, "unit": "ppm"}`.
 *
 * The program runs in its own process group and the whole group is killed
 * (SIGKILL) when it outlives `timeout`, so `sh -c 'sleep 5'` leaves no
 * `sleep` behind; the child is always waited for (no zombie).
 *
 * @example
 * ```ts
 * const soc = createCommandSensor({ run: ["/usr/bin/vcgencmd", "measure_temp"] });
 * await soc.read(Date.now()); // [{ name: "temp", value: 42.9, unit: "°C", ... }]
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Reading } from "./reading.ts";
import type { Sensor } from "./sensor.ts";

/** Options of {@linkcode createCommandSensor}. */
export interface CommandOptions {
  /** Program and arguments, e.g. `["/usr/bin/vcgencmd", "measure_temp"]`. */
  run: string[];
  /** Label used in messages. @default the program's base name */
  name?: string;
  /** Unit of the value(s). @default read from the output (`'C` → °C), else "" */
  unit?: string;
  /** Kill the program after this many ms. @default 5000 */
  timeout?: number;
}

/** Defaults of {@linkcode CommandOptions}. */
export const COMMAND_DEFAULTS = { timeout: 5_000 };

/** One parsed value. */
export interface ParsedValue {
  /** The key (`temp=`, a JSON key), else `value`. */
  name: string;
  /** The number. */
  value: number;
  /** Its unit, or "". */
  unit: string;
}

const UNIT_TEXT: Record<string, string> = {
  "'C": "°C",
  "°C": "°C",
  "C": "°C",
  "V": "V",
  "mV": "mV",
  "%": "%",
  "%RH": "%RH",
  "hPa": "hPa",
  "W": "W",
  "RPM": "RPM",
};

const NUMBER = /(0x[0-9a-fA-F]+|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(\S*)/;

/** Parses a program's stdout (pure). `unit` overrides any unit in the text. */
export function parseCommandOutput(stdout: string, unit?: string): ParsedValue[] {
  const text = stdout.trim();
  if (text === "") throw new Error("printed nothing on stdout");
  if (text.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`printed invalid JSON: ${(error as Error).message}`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("printed JSON that is not an object");
    }
    const out: ParsedValue[] = [];
    for (const [key, v] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof v === "number" && Number.isFinite(v)) {
        out.push({ name: key, value: v, unit: unit ?? "" });
      } else if (
        v && typeof v === "object" && typeof (v as { value?: unknown }).value === "number"
      ) {
        const o = v as { value: number; unit?: unknown };
        out.push({
          name: key,
          value: o.value,
          unit: unit ?? (typeof o.unit === "string" ? o.unit : ""),
        });
      }
    }
    if (out.length === 0) throw new Error("printed a JSON object without numbers");
    return out;
  }
  const m = NUMBER.exec(text);
  if (!m) throw new Error(`printed no number: "${text.slice(0, 60)}"`);
  const before = text.slice(0, m.index);
  const key = /^([A-Za-z_][\w.-]*)\s*[=:]\s*$/.exec(before)?.[1];
  const value = m[1].toLowerCase().startsWith("0x") ? parseInt(m[1], 16) : Number(m[1]);
  return [{ name: key ?? "value", value, unit: unit ?? UNIT_TEXT[m[2]] ?? "" }];
}

/** Resolves a program like `execvp` does: a path as is, a bare name along `PATH`. */
export function resolveProgram(program: string, path?: string): string | undefined {
  const isExecutable = (p: string) => {
    try {
      const st = Deno.statSync(p);
      return st.isFile && (st.mode === null || (st.mode & 0o111) !== 0);
    } catch {
      return false;
    }
  };
  if (program.includes("/")) return isExecutable(program) ? program : undefined;
  let dirs = path;
  if (dirs === undefined) {
    try {
      dirs = Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
    } catch {
      dirs = "/usr/local/bin:/usr/bin:/bin";
    }
  }
  for (const dir of dirs.split(":")) {
    if (dir !== "" && isExecutable(`${dir}/${program}`)) return `${dir}/${program}`;
  }
  return undefined;
}

const basename = (p: string) => p.split("/").filter(Boolean).pop() ?? p;

/** Kills the child's process group, then the child (if the group is already gone). */
function kill(child: Deno.ChildProcess): void {
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }
}

/** Creates the command sensor; the program must exist now (else ConfigError). */
export function createCommandSensor(options: CommandOptions): Sensor {
  if (options.run.length === 0 || options.run[0] === "") {
    throw new ConfigError("run is empty", {
      hint: 'give the program and its arguments: ["prog", "arg"]',
    });
  }
  const [program, ...args] = options.run;
  const resolved = resolveProgram(program);
  if (!resolved) {
    throw new ConfigError(`the program "${program}" does not exist or is not executable`, {
      hint: program.includes("/")
        ? "check the path"
        : "give its full path, or add its folder to PATH",
    });
  }
  const timeout = options.timeout ?? COMMAND_DEFAULTS.timeout;
  const name = options.name ?? basename(program);
  const shown = options.run.join(" ");
  const running = new Set<Deno.ChildProcess>();
  return {
    name,
    type: "command",
    async read(now: number): Promise<Reading[]> {
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command(resolved, {
          args,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
          detached: true, // own process group, so a timeout kills its children too
        }).spawn();
      } catch (error) {
        throw new Error(`cannot run "${shown}": ${(error as Error).message}`, { cause: error });
      }
      running.add(child);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        kill(child);
      }, timeout);
      let out: Deno.CommandOutput;
      try {
        out = await child.output();
      } finally {
        clearTimeout(timer);
        running.delete(child);
      }
      if (timedOut) throw new Error(`"${shown}" timed out after ${timeout} ms and was killed`);
      if (!out.success) {
        const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
        const how = out.signal ? `was killed by ${out.signal}` : `exited with code ${out.code}`;
        throw new Error(`"${shown}" ${how}${err ? `: ${err}` : ""}`);
      }
      try {
        return parseCommandOutput(new TextDecoder().decode(out.stdout), options.unit)
          .map((v) => ({ sensor: name, name: v.name, value: v.value, unit: v.unit, ts: now }));
      } catch (error) {
        throw new Error(`"${shown}" ${(error as Error).message}`);
      }
    },
    async close(): Promise<void> {
      const children = [...running];
      for (const c of children) kill(c);
      await Promise.all(children.map((c) => c.status.catch(() => {})));
    },
  };
}
