/**
 * Finds and checks the `denort` runtime that `deno compile` appends leaf to,
 * per target, for `deno task compile` (compile.ts).
 *
 * Per target, the first that exists wins:
 * 1. `DENORT_BIN_X86_64` / `DENORT_BIN_AARCH64`: that target's denort;
 * 2. `DENORT_BIN` (Deno's own variable), for this host's own target only;
 * 3. `denort-<target>.zip` already in Deno's cache
 *    (`$DENO_DIR/dl/release/v<version>/`), which deno compile unzips itself;
 * 4. `--download`: let deno compile fetch it from Deno's release server.
 * Anything else fails at once, naming the variable to set.
 *
 * denort is not published on npm (npm's `@deno/*` packages hold the full
 * CLI): get `denort-<target>.zip` of the same version as this deno from
 * Deno's GitHub release and unzip it.
 *
 * **Refusing a plain deno.** Deno uses DENORT_BIN as is: given the deno CLI,
 * it builds a binary that starts Deno's REPL instead of leaf. A runtime file
 * is refused when it is not an ELF executable for the target's CPU; when it
 * answers `--version` with `deno <version> (...)` (the CLI does; denort has
 * no CLI and exits with an error when no program is appended to it), run
 * natively or through qemu; or when it contains the string `DENORT_BIN`,
 * which only the CLI's compile code reads (this catches a CLI of a CPU that
 * cannot run here). A `Deno/<version>` user agent found in the file must be
 * this deno's version.
 *
 * @module
 */
import { resolve } from "node:path";
import { EXIT, LeafError } from "../lib/errors.ts";
import {
  AARCH64,
  type Emulator,
  type EmulatorMissing,
  parseDenoVersion,
  runnerFor,
  which,
} from "./_arm64.ts";
import { run } from "./_process.ts";

/** The targets leaf ships for, with the variable naming each one's denort and its ELF machine. */
export const TARGETS = {
  "x86_64-unknown-linux-gnu": { env: "DENORT_BIN_X86_64", cpu: "x86_64", elfMachine: 62 },
  [AARCH64]: { env: "DENORT_BIN_AARCH64", cpu: "aarch64", elfMachine: 183 },
} as const;

/** A target triple leaf ships for. */
export type Target = keyof typeof TARGETS;

/** A missing or unusable runtime, or bad usage: one line, exit 2. */
export class CompileSetupError extends LeafError {
  constructor(message: string, hint: string) {
    super(message, EXIT.usage, "compile.setup", { hint });
  }
}

/** Where a target's denort comes from. */
export type Runtime =
  | { kind: "file"; target: Target; path: string; source: string; version?: string }
  | { kind: "cache"; target: Target; path: string }
  | { kind: "download"; target: Target };

/** What {@linkcode resolveRuntime} needs from the machine. */
export interface RuntimeContext {
  env: (name: string) => string | undefined;
  /** Where relative paths start: the shell's folder (`deno task` runs in the project's). */
  cwd: string;
  hostTarget: string;
  denoDir: string;
  denoVersion: string;
  download: boolean;
  emulator: Emulator | EmulatorMissing;
}

/** The fix for a missing or unusable runtime of `target`. */
export function howToGet(
  target: Target,
  ctx: Pick<RuntimeContext, "hostTarget" | "denoVersion">,
): string {
  const host = target === ctx.hostTarget ? " (or DENORT_BIN, for this host's own target)" : "";
  return `set ${
    TARGETS[target].env
  }=/path/to/denort${host}: the "denort" file unzipped from denort-${target}.zip of Deno's v${ctx.denoVersion} GitHub release`;
}

/** Picks the runtime of `target` and checks it; throws {@linkcode CompileSetupError}. */
export async function resolveRuntime(target: Target, ctx: RuntimeContext): Promise<Runtime> {
  const own = TARGETS[target].env;
  const given = ctx.env(own);
  if (given) return await inspectRuntime(target, given, own, ctx);
  const generic = ctx.env("DENORT_BIN");
  if (generic && target === ctx.hostTarget) {
    return await inspectRuntime(target, generic, "DENORT_BIN", ctx);
  }
  // deno compile unpacks denort-<target>.zip with the `unzip` command.
  const needUnzip = () => {
    if (which("unzip")) return;
    throw new CompileSetupError(
      `deno compile needs the "unzip" command to unpack denort-${target}.zip`,
      "apt-get install unzip",
    );
  };
  const zip = `${ctx.denoDir}/dl/release/v${ctx.denoVersion}/denort-${target}.zip`;
  if (await stat(zip).then((s) => s?.isFile)) {
    needUnzip();
    return { kind: "cache", target, path: zip };
  }
  if (ctx.download) {
    needUnzip();
    return { kind: "download", target };
  }
  const ignored = generic
    ? ` (DENORT_BIN is not used for it: it names the runtime of this host's target, ${ctx.hostTarget})`
    : "";
  throw new CompileSetupError(
    `No denort runtime for ${target}${ignored}: none is set, Deno's cache has no denort-${target}.zip, and downloading it is off`,
    `${howToGet(target, ctx)}; or pass --download where Deno's release server is reachable`,
  );
}

async function stat(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}

/** ELF e_machine names, for messages. */
const MACHINES: Record<number, string> = { 3: "x86", 40: "arm", 62: "x86_64", 183: "aarch64" };

/** A file's first 64 bytes, classified. */
export type Header =
  | { kind: "zip" | "elf32" | "other" }
  | {
    kind: "elf64";
    /** e_machine: 62 x86_64, 183 aarch64. */
    machine: number;
    /** e_type: 2 executable, 3 position-independent executable or shared object. */
    type: number;
    /** Where the program headers end (e_phoff + e_phnum * e_phentsize); 0 when there are none. */
    phEnd: number;
  };

/** Reads a file's first 64 bytes: a zip, a 64-bit ELF file (with its machine), or other. */
export function classifyHeader(bytes: Uint8Array): Header {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4) {
    return { kind: "zip" };
  }
  const elf = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  if (!elf || bytes.length < 64) return { kind: "other" };
  if (bytes[4] !== 2) return { kind: "elf32" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, 64);
  const le = bytes[5] === 1;
  const phnum = view.getUint16(56, le);
  return {
    kind: "elf64",
    machine: view.getUint16(18, le),
    type: view.getUint16(16, le),
    phEnd: phnum === 0 ? 0 : Number(view.getBigUint64(32, le)) + phnum * view.getUint16(54, le),
  };
}

/**
 * Streams a file and reports which `needles` occur in it (compared byte for
 * byte, as latin1) and every first capture group of `pattern` (global).
 */
export async function scanFile(
  path: string,
  needles: string[],
  pattern?: RegExp,
): Promise<{ found: boolean[]; captures: Set<string> }> {
  const decoder = new TextDecoder("latin1");
  const keep = Math.max(128, ...needles.map((n) => n.length));
  const found = needles.map(() => false);
  const captures = new Set<string>();
  using file = await Deno.open(path);
  const buffer = new Uint8Array(8 << 20);
  let tail = "";
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    const text = tail + decoder.decode(buffer.subarray(0, n));
    needles.forEach((needle, i) => found[i] ||= text.includes(needle));
    if (pattern) { for (const m of text.matchAll(pattern)) captures.add(m[1]); }
    tail = text.slice(-keep);
  }
  return { found, captures };
}

/** Checks a runtime file named by `source`; throws {@linkcode CompileSetupError}. */
export async function inspectRuntime(
  target: Target,
  path: string,
  source: string,
  ctx: RuntimeContext,
): Promise<Runtime> {
  const what = `${source} is "${path}"`;
  path = resolve(ctx.cwd, path);
  const info = await stat(path);
  if (!info) throw new CompileSetupError(`${what}, which does not exist`, howToGet(target, ctx));
  if (!info.isFile) {
    throw new CompileSetupError(`${what}, which is not a file`, howToGet(target, ctx));
  }
  if (((info.mode ?? 0) & 0o111) === 0) {
    throw new CompileSetupError(`${what}, which is not executable`, `chmod +x "${path}"`);
  }
  if (info.size < 1 << 20) {
    throw new CompileSetupError(
      `${what}, only ${info.size} bytes, while denort is tens of MB`,
      howToGet(target, ctx),
    );
  }
  const head = new Uint8Array(64);
  {
    using file = await Deno.open(path);
    await file.read(head);
  }
  const header = classifyHeader(head);
  const cpu = TARGETS[target].cpu;
  if (header.kind === "zip") {
    throw new CompileSetupError(
      `${what}, a zip archive`,
      `unzip it and set ${source} to the "denort" file inside`,
    );
  }
  if (header.kind !== "elf64" || header.type < 2 || header.type > 3) {
    throw new CompileSetupError(
      `${what}, which is not a 64-bit Linux executable`,
      howToGet(target, ctx),
    );
  }
  if (header.machine !== TARGETS[target].elfMachine) {
    const its = MACHINES[header.machine] ?? `machine ${header.machine}`;
    throw new CompileSetupError(
      `${what}, an ${its} executable, but ${target} needs the ${cpu} denort`,
      howToGet(target, ctx),
    );
  }
  if (header.phEnd === 0 || header.phEnd > info.size) {
    throw new CompileSetupError(`${what}, a damaged executable`, howToGet(target, ctx));
  }

  // A plain deno: ask it (when it can run here), and look for code only the CLI has.
  let probe: { version: string } | undefined;
  const runner = runnerFor(target, ctx.emulator, ctx.hostTarget);
  if (runner) {
    // In an empty folder: a file the kernel refuses may be handed to /bin/sh by execvp.
    const cwd = await Deno.makeTempDir({ prefix: "leaf-denort-probe-" });
    try {
      const [cmd, args] = runner.command(path, ["--version"]);
      probe = parseDenoVersion((await run(cmd, args, { cwd, timeoutMs: 30_000 })).stdout);
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  }
  const scan = await scanFile(path, ["DENORT_BIN"], /Deno\/(\d+\.\d+\.\d+)/g);
  const cli = probe ? `deno ${probe.version}, the CLI` : scan.found[0] ? "the deno CLI" : undefined;
  if (cli) {
    throw new CompileSetupError(
      `${what}: that is ${cli}, not denort; a binary compiled with it starts Deno's REPL instead of leaf`,
      howToGet(target, ctx),
    );
  }
  const versions = [...scan.captures];
  if (versions.length > 0 && !versions.includes(ctx.denoVersion)) {
    throw new CompileSetupError(
      `${what}, denort ${
        versions.join("/")
      }, but this deno is ${ctx.denoVersion} and deno compile needs the same version`,
      howToGet(target, ctx),
    );
  }
  return {
    kind: "file",
    target,
    path,
    source,
    ...(versions.length > 0 ? { version: ctx.denoVersion } : {}),
  };
}
