/**
 * Private helpers of the build tasks: run aarch64 Linux programs on an
 * x86_64 build machine through qemu user-mode emulation, and fetch the
 * aarch64 Deno from npm into a cache. (`run`, a program with a deadline, is
 * in _process.ts.)
 *
 * Used by `deno task test:arm64` (arm64_smoke.ts) and by `deno task compile`
 * (compile.ts), which smoke-tests the aarch64 artifact with the same emulator.
 *
 * Needs, on a Debian/Ubuntu build machine:
 * `apt-get install qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross`.
 *
 * @module
 */
import { run } from "./_process.ts";

/** The target triple of 64-bit Raspberry Pi OS. */
export const AARCH64 = "aarch64-unknown-linux-gnu";

/** The emulator binary (Debian `qemu-user-static`). */
export const QEMU = "qemu-aarch64-static";

/** Where Debian's cross packages put the aarch64 loader and libraries. */
export const SYSROOT = "/usr/aarch64-linux-gnu";

/** The npm package that ships the aarch64 Linux (glibc) Deno CLI. */
export const ARM64_DENO_PACKAGE = "@deno/linux-arm64-glibc";

/** Runs aarch64 programs: natively on an aarch64 host, else through qemu. */
export interface Emulator {
  /** How it runs them, for messages: "native" or the qemu command line. */
  describe: string;
  /** The argv that runs `program args` on aarch64. */
  command(program: string, args: string[]): [string, string[]];
}

/** Why aarch64 programs cannot run here. */
export interface EmulatorMissing {
  /** What is missing, e.g. `qemu-aarch64-static (apt package qemu-user-static)`. */
  missing: string[];
  /** The install command that fixes it. */
  fix: string;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Finds `name` on PATH (plus the sbin folders), or undefined. */
export function which(name: string): string | undefined {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  for (const dir of [...dirs, "/usr/local/bin", "/usr/bin", "/usr/sbin", "/sbin"]) {
    if (isFile(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

/**
 * Finds a way to run aarch64 Linux programs: the host itself on aarch64,
 * else `qemu-aarch64-static -L /usr/aarch64-linux-gnu` with the cross
 * loader and libraries Deno links against (glibc and libgcc_s).
 */
export function findEmulator(): Emulator | EmulatorMissing {
  if (Deno.build.os === "linux" && Deno.build.arch === "aarch64") {
    return { describe: "native", command: (program, args) => [program, args] };
  }
  const missing: string[] = [];
  const packages: string[] = [];
  const qemu = which(QEMU);
  if (!qemu) {
    missing.push(`${QEMU} (apt package qemu-user-static)`);
    packages.push("qemu-user-static");
  }
  if (!isFile(`${SYSROOT}/lib/ld-linux-aarch64.so.1`) || !isFile(`${SYSROOT}/lib/libc.so.6`)) {
    missing.push(`${SYSROOT}/lib/ld-linux-aarch64.so.1 (apt package libc6-arm64-cross)`);
    packages.push("libc6-arm64-cross");
  }
  if (!isFile(`${SYSROOT}/lib/libgcc_s.so.1`)) {
    missing.push(`${SYSROOT}/lib/libgcc_s.so.1 (apt package libgcc-s1-arm64-cross)`);
    packages.push("libgcc-s1-arm64-cross");
  }
  if (missing.length > 0 || !qemu) {
    return { missing, fix: `apt-get install ${packages.join(" ")}` };
  }
  return {
    describe: `${QEMU} -L ${SYSROOT}`,
    command: (program, args) => [qemu, ["-L", SYSROOT, program, ...args]],
  };
}

/** True when {@linkcode findEmulator} found no way to run aarch64 programs. */
export function isMissing(e: Emulator | EmulatorMissing): e is EmulatorMissing {
  return "missing" in e;
}

/**
 * How to run a program built for `target` here: natively for the host's
 * own target, through `emulator` for aarch64; undefined when it cannot run.
 */
export function runnerFor(
  target: string,
  emulator: Emulator | EmulatorMissing,
  hostTarget: string = Deno.build.target,
): Emulator | undefined {
  if (target === hostTarget) return { describe: "native", command: (p, a) => [p, a] };
  if (target === AARCH64 && !isMissing(emulator)) return emulator;
  return undefined;
}

/** `$XDG_CACHE_HOME` or `~/.cache`. */
function userCache(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return xdg;
  const home = Deno.env.get("HOME");
  if (!home) throw new Error("Neither XDG_CACHE_HOME nor HOME is set: cannot pick a cache folder");
  return `${home}/.cache`;
}

/** leaf's build cache: `$LEAF_CACHE_DIR`, else `$XDG_CACHE_HOME/leaf`, else `~/.cache/leaf`. */
export function leafCacheDir(): string {
  return Deno.env.get("LEAF_CACHE_DIR") || `${userCache()}/leaf`;
}

/** The host Deno's cache: `$DENO_DIR`, else `$XDG_CACHE_HOME/deno`, else `~/.cache/deno` (Linux). */
export function hostDenoDir(): string {
  return Deno.env.get("DENO_DIR") || `${userCache()}/deno`;
}

/** Parses `deno --version` output: version and target, or undefined when it is not the CLI's. */
export function parseDenoVersion(stdout: string): { version: string; target: string } | undefined {
  const m = /^deno (\d+\.\d+\.\d+\S*) \([^)]*?([\w.]+-[\w.]+-[\w.]+-[\w.]+)\)/m.exec(stdout);
  return m ? { version: m[1], target: m[2] } : undefined;
}

/** Options of {@linkcode ensureArm64Deno}. */
export interface EnsureArm64DenoOptions {
  emulator: Emulator;
  /** The Deno version wanted. @default Deno.version.deno (the host's) */
  version?: string;
  /** Progress lines. @default console.log */
  log?: (line: string) => void;
  /** Deadline of the npm download. @default 180000 */
  timeoutMs?: number;
}

/**
 * Returns the path of an aarch64 Deno CLI of the host's version. Uses
 * `$LEAF_ARM64_DENO` when set; else `npm install`s {@linkcode ARM64_DENO_PACKAGE}
 * into `<leafCacheDir>/deno-aarch64-<version>` once (`--force`: npm refuses
 * a package built for another CPU otherwise) and reuses it afterwards. Checks
 * that the binary runs and reports the wanted version and target.
 */
export async function ensureArm64Deno(options: EnsureArm64DenoOptions): Promise<string> {
  const version = options.version ?? Deno.version.deno;
  const log = options.log ?? console.log;
  const given = Deno.env.get("LEAF_ARM64_DENO");
  const prefix = `${leafCacheDir()}/deno-aarch64-${version}`;
  const path = given || `${prefix}/node_modules/${ARM64_DENO_PACKAGE}/deno`;
  const source = given ? `LEAF_ARM64_DENO "${given}"` : `"${path}"`;
  if (!given && !isFile(path)) {
    const npm = which("npm");
    if (!npm) {
      throw new Error(
        `Cannot fetch the aarch64 Deno: npm is not installed: install Node.js and npm, or set LEAF_ARM64_DENO to an aarch64 deno ${version} binary`,
      );
    }
    log(`fetching ${ARM64_DENO_PACKAGE}@${version} with npm into ${prefix}`);
    await Deno.mkdir(prefix, { recursive: true });
    const npmArgs = ["install", "--force", "--no-save", "--no-audit", "--no-fund", "--prefix"];
    const timeoutMs = options.timeoutMs ?? 180_000;
    const out = await run(npm, [...npmArgs, prefix, `${ARM64_DENO_PACKAGE}@${version}`], {
      timeoutMs,
    });
    if (out.code !== 0 || !isFile(path)) {
      const why = out.timedOut
        ? `no result within ${Math.round(timeoutMs / 1000)} s`
        : lastLine(out.stderr || out.stdout);
      throw new Error(
        `npm install ${ARM64_DENO_PACKAGE}@${version} failed (${why}): check that the npm registry is reachable, or set LEAF_ARM64_DENO to an aarch64 deno ${version} binary`,
      );
    }
  }
  const [cmd, args] = options.emulator.command(path, ["--version"]);
  const out = await run(cmd, args, { timeoutMs: 60_000 });
  const parsed = parseDenoVersion(out.stdout);
  if (!parsed) {
    const why = out.timedOut ? "no answer within 60 s" : lastLine(out.stderr || out.stdout);
    throw new Error(
      `The aarch64 Deno at ${source} does not run under ${options.emulator.describe} (${why}): ${
        given
          ? `point LEAF_ARM64_DENO at an aarch64 deno ${version}, or unset it`
          : `delete ${prefix} to fetch it again`
      }`,
    );
  }
  if (parsed.version !== version || parsed.target !== AARCH64) {
    throw new Error(
      `The Deno at ${source} is ${parsed.version} for ${parsed.target}, not ${version} for ${AARCH64}: point LEAF_ARM64_DENO at the right binary, or unset it`,
    );
  }
  return path;
}

/** Options of {@linkcode ensureArm64DenoDir}. */
export interface EnsureArm64DenoDirOptions {
  /** The project folder (deno.json, deno.lock, main.ts). */
  root: string;
  /** Deadline of the native `deno install`. @default 180000 */
  timeoutMs?: number;
}

/**
 * Returns a DENO_DIR for the aarch64 Deno, `<leafCacheDir>/deno-dir-aarch64`,
 * holding every npm package of the lockfile. npm packages are the same
 * JavaScript on every CPU here, so on first use its npm cache is copied from
 * the host's DENO_DIR; the native `deno install --frozen` then fetches
 * whatever is missing (from the npm registry) and is a no-op offline once
 * complete. The emulated runs can then use `--cached-only`.
 */
export async function ensureArm64DenoDir(options: EnsureArm64DenoDirOptions): Promise<string> {
  const dir = `${leafCacheDir()}/deno-dir-aarch64`;
  const hostNpm = `${hostDenoDir()}/npm`;
  const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
  await Deno.mkdir(dir, { recursive: true });
  if (!await exists(`${dir}/npm`) && await exists(hostNpm)) {
    const cp = await run("cp", ["-a", hostNpm, `${dir}/npm`], { timeoutMs: 120_000 });
    if (cp.code !== 0) await Deno.remove(`${dir}/npm`, { recursive: true }).catch(() => {});
  }
  const install = await run(Deno.execPath(), ["install", "--frozen", "--entrypoint", "main.ts"], {
    cwd: options.root,
    env: { DENO_DIR: dir, NO_COLOR: "1" },
    timeoutMs: options.timeoutMs ?? 180_000,
  });
  if (install.code !== 0) {
    const why = install.timedOut ? "timed out" : lastLine(install.stderr);
    throw new Error(
      `Cannot cache leaf's npm packages into ${dir} (${why}): the npm registry must be reachable once`,
    );
  }
  return dir;
}

/** The last non-empty line of a process's output, without colours. */
export function lastLine(text: string): string {
  // deno-lint-ignore no-control-regex
  const lines = text.replace(/\x1b\[[0-9;]*m/g, "").split("\n")
    .map((l) => l.trim().replace(/^\d+: /, ""));
  return lines.filter((l) => l !== "" && !/^\d+: <unknown>$|^Stack backtrace:$/.test(l)).at(-1) ??
    "no output";
}
