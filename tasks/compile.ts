/**
 * `deno task compile`: builds leaf as one self-contained executable per
 * target, `dist/leaf-x86_64-unknown-linux-gnu` and
 * `dist/leaf-aarch64-unknown-linux-gnu` (64-bit Raspberry Pi OS).
 *
 * ```sh
 * DENORT_BIN_X86_64=~/denort/x86_64/denort DENORT_BIN_AARCH64=~/denort/aarch64/denort \
 *   deno task compile [--target TRIPLE] [--out DIR] [--download]
 * ```
 *
 * Steps: find and check the `denort` runtime of every target (before any
 * slow work, so a missing one fails in about a second), type-check
 * `main.ts` once, `deno compile --no-check` each target with the runtime
 * assets `--include`d, print each artifact's size and SHA-256, then run
 * `leaf version` from each artifact this machine can run (the aarch64 one
 * through qemu, see _arm64.ts) and delete an artifact that fails.
 *
 * **Why the release binary is compiled with `-A`.** Deno asks for full
 * access for any read under `/proc`, `/sys` or `/dev`, even with
 * `--allow-read` (denoland/deno#27564), and leaf's sensors read exactly
 * there. Permissions are frozen into a compiled binary, so it gets `-A`,
 * and the systemd unit (read-only file system, no capabilities, restricted
 * address families and system calls) is the real sandbox. The tests keep
 * scoped permissions: they point `sysfsRoot`/`procfsRoot` at fixture trees.
 *
 * **The runtime.** `deno compile` appends the program to `denort`, a Deno
 * without the CLI, which it downloads per target from Deno's release server.
 * A build machine without that access names it: `DENORT_BIN_X86_64`,
 * `DENORT_BIN_AARCH64`, or Deno's own `DENORT_BIN` for the host's target.
 * _denort.ts finds and checks it (and refuses a plain `deno`, which would
 * build a binary that starts Deno's REPL) before anything slow runs.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { EXIT } from "../lib/errors.ts";
import { VERSION } from "../lib/version.ts";
import { V8_FLAGS_ARG } from "../lib/v8_flags.ts";
import {
  type Emulator,
  type EmulatorMissing,
  findEmulator,
  hostDenoDir,
  isMissing,
  lastLine,
  runnerFor,
} from "./_arm64.ts";
import { run } from "./_process.ts";
import {
  CompileSetupError,
  howToGet,
  resolveRuntime,
  type Runtime,
  type RuntimeContext,
  scanFile,
  type Target,
  TARGETS,
} from "./_denort.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Files leaf reads at run time through `import.meta.url`: embedded with `--include`. */
export const ASSETS = ["lib/gateway/page/index.html"];

const HELP = `Usage: deno task compile [--target TRIPLE] [--out DIR] [--download]

Type-checks main.ts, then builds DIR/leaf-<target> for each target with
deno compile -A, prints size and SHA-256, and runs \`leaf version\` from each
artifact this machine can run (aarch64 through qemu-aarch64-static).

Options:
  --target TRIPLE   build one: ${Object.keys(TARGETS).join(" or ")}
  --out DIR         output folder (default: dist/)
  --download        let deno compile download denort from Deno's release server
  --help            show this help

The runtime (denort ${Deno.version.deno}, the "denort" file inside denort-<target>.zip of
Deno's v${Deno.version.deno} GitHub release), per target:
  DENORT_BIN_X86_64    denort for x86_64-unknown-linux-gnu
  DENORT_BIN_AARCH64   denort for aarch64-unknown-linux-gnu
  DENORT_BIN           denort for this host's target (${Deno.build.target}) when the
                       variable above is unset
else denort-<target>.zip in $DENO_DIR/dl/release/v${Deno.version.deno}/, else --download.
A plain deno (the CLI) is refused: it would build a binary that starts the REPL.

Exit codes: 0 built, 1 a build or smoke test failed, 2 bad usage or no usable runtime.`;

/** What `leaf version` should print. */
export interface ExpectedVersion {
  leaf: string;
  deno: string;
  target: string;
}

/** Checks `leaf version` output; returns the problem, or undefined when it is leaf's. */
export function checkVersionOutput(
  out: { code: number; stdout: string; stderr: string },
  want: ExpectedVersion,
): string | undefined {
  const all = `${out.stdout}\n${out.stderr}`;
  if (/exit using ctrl\+d|REPL is running|unrecognized subcommand|^Deno \d/m.test(all)) {
    return "it behaves as the deno CLI (REPL, subcommands), not leaf: it was built on a plain deno instead of denort";
  }
  if (out.code !== 0) return `\`leaf version\` exited ${out.code}: ${lastLine(all)}`;
  const line = (key: string) => new RegExp(`^${key} (\\S+)`, "m").exec(out.stdout)?.[1];
  if (line("leaf") !== want.leaf) {
    return `\`leaf version\` printed "${
      lastLine(out.stdout.split("\n")[0])
    }", not "leaf ${want.leaf} ..."`;
  }
  if (line("target") !== want.target) {
    return `it reports target "${line("target") ?? "none"}", not "${want.target}"`;
  }
  if (line("deno") !== want.deno) {
    return `it runs on deno ${
      line("deno") ?? "(none)"
    }, not ${want.deno}: the runtime is another version`;
  }
  return undefined;
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  const buffer = new Uint8Array(4 << 20);
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    hash.update(buffer.subarray(0, n));
  }
  return hash.digest("hex");
}

function childEnv(runtime: Runtime): Record<string, string> {
  const env = Deno.env.toObject();
  for (const key of Object.keys(env)) if (key.startsWith("DENORT_BIN")) delete env[key];
  if (runtime.kind === "file") env.DENORT_BIN = runtime.path;
  return { ...env, NO_COLOR: "1" };
}

function describe(runtime: Runtime): string {
  switch (runtime.kind) {
    case "file":
      return `${runtime.source}=${runtime.path} (denort ${
        runtime.version ?? "of unknown version"
      })`;
    case "cache":
      return `${runtime.path} (Deno's cache)`;
    case "download":
      return "downloaded by deno compile (--download)";
  }
}

/** Builds, reports and smoke-tests one target; resolves to false when it failed. */
async function build(runtime: Runtime, outDir: string, emulator: Emulator | EmulatorMissing) {
  const { target } = runtime;
  const output = `${outDir}/leaf-${target}`;
  await Deno.remove(output).catch(() => {});
  const include = ASSETS.flatMap((a) => ["--include", a]);
  // --unstable-net: sd_notify uses Deno.listenDatagram (also set in deno.json;
  // explicit here so the binary has it whatever config deno compile reads).
  const args = [
    "compile",
    "-A",
    "--unstable-net",
    V8_FLAGS_ARG,
    "--no-check",
    "--target",
    target,
    ...include,
    "--output",
    output,
  ];
  const limitMs = runtime.kind === "download" ? 600_000 : 300_000;
  const out = await run(Deno.execPath(), [...args, "main.ts"], {
    cwd: ROOT,
    env: childEnv(runtime),
    clearEnv: true,
    timeoutMs: limitMs,
  });
  if (out.code !== 0) {
    const why = out.timedOut ? `no result within ${limitMs / 1000} s` : lastLine(out.stderr);
    if (runtime.kind === "download" && /request|dns|connect|unpack|download/i.test(out.stderr)) {
      console.error(
        `compile: ${target}: deno compile could not download denort (${why}): ${
          howToGet(target, { denoVersion: Deno.version.deno, hostTarget: Deno.build.target })
        }`,
      );
    } else {
      console.error(out.stderr.trimEnd());
      console.error(`compile: ${target}: deno compile failed: ${why}`);
    }
    return false;
  }
  const bytes = (await Deno.stat(output)).size;
  console.log(`built ${output} in ${(out.ms / 1000).toFixed(1)} s`);
  console.log(`  runtime  ${describe(runtime)}`);
  console.log(`  size     ${(bytes / 1048576).toFixed(1)} MiB (${bytes} bytes)`);
  console.log(`  sha256   ${await sha256(output)}`);

  const assets = await Promise.all(ASSETS.map(async (a) => {
    const bytes = await Deno.readFile(`${ROOT}${a}`);
    return new TextDecoder("latin1").decode(bytes.subarray(0, 256));
  }));
  const { found } = await scanFile(output, assets);
  const absent = ASSETS.filter((_, i) => !found[i]);
  if (absent.length > 0) {
    await Deno.remove(output);
    console.error(`compile: ${target}: ${absent.join(", ")} not embedded; artifact deleted`);
    return false;
  }
  console.log(`  assets   ${ASSETS.join(", ")} embedded`);

  const runner = runnerFor(target, emulator);
  if (!runner) {
    const why = isMissing(emulator) ? `cannot run aarch64 programs here: ${emulator.fix}` : "";
    console.log(`  smoke    skipped (${why || "cannot run it here"})`);
    return true;
  }
  const timeoutMs = runner.describe === "native" ? 30_000 : 180_000;
  const [cmd, cmdArgs] = runner.command(output, ["version"]);
  const smoke = await run(cmd, cmdArgs, { env: { NO_COLOR: "1" }, timeoutMs });
  const problem = smoke.timedOut
    ? `\`leaf version\` gave no answer within ${timeoutMs / 1000} s`
    : checkVersionOutput(smoke, { leaf: VERSION, deno: Deno.version.deno, target });
  if (problem) {
    await Deno.remove(output);
    console.error(`compile: ${target}: smoke test failed: ${problem}; artifact deleted`);
    return false;
  }
  const took = (smoke.ms / 1000).toFixed(1);
  console.log(
    `  smoke    ok: \`leaf version\` says leaf ${VERSION}, deno ${Deno.version.deno}, ${target} (${runner.describe}, ${took} s)`,
  );
  return true;
}

/** Runs the task with `argv`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const started = performance.now();
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: "string" },
        out: { type: "string" },
        download: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    const message = (error as Error).message.split(". ")[0].replace(/'/g, '"');
    console.error(`compile: ${message}: run \`deno task compile --help\``);
    return EXIT.usage;
  }
  if (flags.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (flags.target !== undefined && !Object.hasOwn(TARGETS, flags.target)) {
    console.error(
      `compile: --target "${flags.target}" is not a target leaf ships for: use ${
        Object.keys(TARGETS).join(" or ")
      } (Deno has no 32-bit ARM or musl target)`,
    );
    return EXIT.usage;
  }
  const targets = flags.target ? [flags.target as Target] : Object.keys(TARGETS) as Target[];
  // `deno task` runs in the project folder; paths the user typed start from INIT_CWD.
  const cwd = Deno.env.get("INIT_CWD") || Deno.cwd();
  const outDir = resolve(cwd, flags.out ?? `${ROOT}dist`);
  const emulator = findEmulator();
  const ctx: RuntimeContext = {
    env: (name) => Deno.env.get(name),
    cwd,
    hostTarget: Deno.build.target,
    denoDir: hostDenoDir(),
    denoVersion: Deno.version.deno,
    download: flags.download ?? false,
    emulator,
  };

  const runtimes: Runtime[] = [];
  let setupFailed = false;
  for (const target of targets) {
    try {
      runtimes.push(await resolveRuntime(target, ctx));
    } catch (error) {
      if (!(error instanceof CompileSetupError)) throw error;
      console.error(`compile: ${error.oneLine()}`);
      setupFailed = true;
    }
  }
  if (setupFailed) return EXIT.usage;

  console.log("type-checking main.ts");
  const check = await new Deno.Command(Deno.execPath(), {
    args: ["check", "main.ts"],
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!check.success) {
    console.error("compile: type check failed (see above): fix the errors, then run again");
    return EXIT.bug;
  }

  await Deno.mkdir(outDir, { recursive: true });
  let failed = 0;
  for (const runtime of runtimes) if (!await build(runtime, outDir, emulator)) failed++;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const built = runtimes.length - failed;
  console.log(
    `compile: ${built} of ${runtimes.length} built and checked in ${outDir} (${seconds} s)`,
  );
  return failed === 0 ? EXIT.ok : EXIT.bug;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
