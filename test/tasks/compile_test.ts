/**
 * `deno task compile` without a usable denort: no runtime at all (this
 * machine cannot download one), a variable pointing nowhere, and a plain
 * `deno` (which would build a binary that starts Deno's REPL). Each must
 * fail within seconds, before any type check or build, with one line per
 * target that names the variable to set. Runs the real task as a
 * subprocess, with an empty DENO_DIR (so no cached denort zip is found) and
 * `--out` in a temp dir.
 */
import assert from "node:assert/strict";
import { leafEnv, ROOT, runLeaf, tempDir } from "../_helpers.ts";
import { checkVersionOutput } from "../../tasks/compile.ts";
import { classifyHeader } from "../../tasks/_denort.ts";
import { parseDenoVersion } from "../../tasks/_arm64.ts";

const X86 = "x86_64-unknown-linux-gnu";
const ARM = "aarch64-unknown-linux-gnu";
/** This machine's target and the other one, with their variables and CPUs. */
const HOST = Deno.build.target === ARM
  ? { target: ARM, env: "DENORT_BIN_AARCH64", cpu: "aarch64" }
  : { target: X86, env: "DENORT_BIN_X86_64", cpu: "x86_64" };
const OTHER = HOST.target === ARM
  ? { target: X86, env: "DENORT_BIN_X86_64", cpu: "x86_64" }
  : { target: ARM, env: "DENORT_BIN_AARCH64", cpu: "aarch64" };

/** Runs `deno run -A tasks/compile.ts args` with `env`; returns output, exit code and time. */
async function compile(args: string[], env: Record<string, string> = {}) {
  await using denoDir = await tempDir("compile-denodir");
  await using out = await tempDir("compile-out");
  const base = leafEnv();
  for (const k of Object.keys(base)) if (k.startsWith("DENORT_BIN")) delete base[k];
  const started = performance.now();
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/compile.ts", "--out", out.path, ...args],
    cwd: ROOT,
    env: { ...base, DENO_DIR: denoDir.path, ...env },
    clearEnv: true,
    stdin: "null",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const left = [...Deno.readDirSync(out.path)].map((e) => e.name);
  return {
    code: result.code,
    stdout: text(result.stdout),
    stderr: text(result.stderr),
    seconds,
    left,
  };
}

/** Asserts a fast refusal (exit 2, nothing built, no type check) and returns stderr's lines. */
function refused(r: Awaited<ReturnType<typeof compile>>): string[] {
  assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
  assert.ok(r.seconds < 30, `took ${r.seconds.toFixed(1)} s`);
  assert.deepEqual(r.left, [], "nothing is written to --out");
  assert.doesNotMatch(r.stdout, /type-checking/, "fails before the type check");
  return r.stderr.trim().split("\n").filter((l) => l.startsWith("compile: "));
}

Deno.test("compile with no DENORT_BIN fails at once and names each target's variable", async () => {
  const lines = refused(await compile([]));
  assert.equal(lines.length, 2, lines.join("\n"));
  assert.match(lines[0], /No denort runtime for x86_64-unknown-linux-gnu/);
  assert.match(lines[0], /set DENORT_BIN_X86_64=\/path\/to\/denort \(or DENORT_BIN/);
  assert.match(lines[0], /denort-x86_64-unknown-linux-gnu\.zip of Deno's v\d+\.\d+\.\d+ GitHub/);
  assert.match(lines[1], /No denort runtime for aarch64-unknown-linux-gnu/);
  assert.match(lines[1], /set DENORT_BIN_AARCH64=\/path\/to\/denort/);
  assert.match(lines[1], /--download/);
});

Deno.test("compile with DENORT_BIN pointing nowhere says so and what to set", async () => {
  await using dir = await tempDir("compile-missing");
  const missing = `${dir.path}/denort`;
  const lines = refused(await compile(["--target", HOST.target], { DENORT_BIN: missing }));
  assert.deepEqual(lines, [
    `compile: DENORT_BIN is "${missing}", which does not exist: set ${HOST.env}=/path/to/denort (or DENORT_BIN, for this host's own target): the "denort" file unzipped from denort-${HOST.target}.zip of Deno's v${Deno.version.deno} GitHub release`,
  ]);
});

Deno.test("compile ignores DENORT_BIN for the other CPU's target and says so", async () => {
  const lines = refused(await compile(["--target", OTHER.target], { DENORT_BIN: Deno.execPath() }));
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    new RegExp(`No denort runtime for ${OTHER.target} \\(DENORT_BIN is not used`),
  );
  assert.match(lines[0], new RegExp(`set ${OTHER.env}=`));
});

Deno.test("compile refuses a plain deno as DENORT_BIN: it would build a REPL", async () => {
  const lines = refused(await compile(["--target", HOST.target], { DENORT_BIN: Deno.execPath() }));
  assert.equal(lines.length, 1);
  assert.match(lines[0], new RegExp(`that is deno ${Deno.version.deno}, the CLI, not denort`));
  assert.match(lines[0], new RegExp(`starts Deno's REPL instead of leaf: set ${HOST.env}=`));
});

Deno.test("compile refuses a runtime built for another CPU", async () => {
  const env = { [OTHER.env]: Deno.execPath() };
  const lines = refused(await compile(["--target", OTHER.target], env));
  assert.equal(lines.length, 1);
  assert.equal(
    lines[0].split(": set ")[0],
    `compile: ${OTHER.env} is "${Deno.execPath()}", an ${HOST.cpu} executable, but ${OTHER.target} needs the ${OTHER.cpu} denort`,
  );
});

const MIB = 1 << 20;

/** Writes `head` padded with zeros to `size` bytes, then `tail`, as `dir/name`; returns the path. */
function write(
  dir: string,
  name: string,
  head: Uint8Array | string,
  { mode = 0o755, size = 2 * MIB, tail = "" } = {},
): string {
  const bytes = typeof head === "string" ? new TextEncoder().encode(head) : head;
  const end = new TextEncoder().encode(tail);
  const file = new Uint8Array(Math.max(size, bytes.length + end.length));
  file.set(bytes);
  file.set(end, file.length - end.length);
  Deno.writeFileSync(`${dir}/${name}`, file, { mode });
  Deno.chmodSync(`${dir}/${name}`, mode);
  return `${dir}/${name}`;
}

/** An ELF64 header for `machine`, a position-independent executable with `phnum` program headers. */
function elfHeader(machine: number, phnum = 1): Uint8Array {
  const bytes = new Uint8Array(64 + 56 * phnum);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  const view = new DataView(bytes.buffer);
  view.setUint16(16, 3, true); // e_type ET_DYN
  view.setUint16(18, machine, true);
  view.setUint32(20, 1, true); // e_version
  view.setBigUint64(32, 64n, true); // e_phoff
  view.setUint16(52, 64, true); // e_ehsize
  view.setUint16(54, 56, true); // e_phentsize
  view.setUint16(56, phnum, true);
  return bytes;
}

const HOST_MACHINE = HOST.cpu === "x86_64" ? 62 : 183;

Deno.test.each(
  [
    ["a directory", (d: string) => d, /which is not a file/],
    [
      "not executable",
      (d: string) => write(d, "denort", elfHeader(HOST_MACHINE), { mode: 0o644 }),
      /not executable: chmod \+x/,
    ],
    [
      "too small",
      (d: string) => write(d, "denort", elfHeader(HOST_MACHINE), { size: 0 }),
      /only 120 bytes, while denort is tens of MB/,
    ],
    ["a zip", (d: string) => write(d, "denort.zip", "PK\x03\x04"), /a zip archive: unzip it/],
    [
      "a script",
      (d: string) => write(d, "denort", "#!/bin/sh\n"),
      /not a 64-bit Linux executable/,
    ],
    [
      "damaged",
      (d: string) => write(d, "denort", elfHeader(HOST_MACHINE, 0)),
      /a damaged executable/,
    ],
  ] as const,
)("compile refuses a runtime file that is %s", async (_, make, pattern) => {
  await using dir = await tempDir("compile-bad");
  const lines = refused(await compile(["--target", HOST.target], { [HOST.env]: make(dir.path) }));
  assert.equal(lines.length, 1);
  assert.match(lines[0], new RegExp(`^compile: ${HOST.env} is "`));
  assert.match(lines[0], pattern);
});

Deno.test("compile refuses a runtime of another Deno version", async () => {
  await using dir = await tempDir("compile-version");
  // Another CPU's ELF header (never run natively; qemu, when present, refuses
  // it), then the user agent a Deno 1.2.3 build carries.
  const machine = OTHER.cpu === "x86_64" ? 62 : 183;
  const file = write(dir.path, "denort", elfHeader(machine), { tail: "\0Deno/1.2.3\0" });
  const lines = refused(await compile(["--target", OTHER.target], { [OTHER.env]: file }));
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    new RegExp(`denort 1\\.2\\.3, but this deno is ${Deno.version.deno} and deno compile needs`),
  );
});

Deno.test("compile rejects an unknown --target with the list", async () => {
  const r = await compile(["--target", "armv7-unknown-linux-gnueabihf"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is not a target leaf ships for: use x86_64-unknown-linux-gnu or aarch64/);
});

Deno.test("checkVersionOutput() accepts leaf's own `leaf version`", async () => {
  const r = await runLeaf(["version"]);
  const want = { leaf: "", deno: Deno.version.deno, target: Deno.build.target };
  want.leaf = /^leaf (\S+)/.exec(r.stdout)![1];
  assert.equal(checkVersionOutput(r, want), undefined);
  assert.match(
    checkVersionOutput(r, { ...want, target: OTHER.target })!,
    new RegExp(`reports target "${HOST.target}", not "${OTHER.target}"`),
  );
  assert.match(checkVersionOutput(r, { ...want, deno: "9.9.9" })!, /another version/);
});

Deno.test.each([
  ["the REPL", {
    code: 0,
    stdout: "Deno 2.9.6\nexit using ctrl+d, ctrl+c, or close()\n",
    stderr: "",
  }],
  ["a CLI error", { code: 1, stdout: "", stderr: "error: unrecognized subcommand 'version'\n" }],
])("checkVersionOutput() calls %s a plain deno", (_, out) => {
  const want = { leaf: "0.1.0", deno: "2.9.6", target: X86 };
  assert.match(checkVersionOutput(out, want)!, /built on a plain deno instead of denort/);
});

Deno.test("classifyHeader() reads ELF class and machine, and spots a zip", async () => {
  const head = new Uint8Array(64);
  {
    using self = await Deno.open(Deno.execPath());
    await self.read(head);
  }
  const header = classifyHeader(head);
  assert.equal(header.kind, "elf64");
  assert.ok(header.kind === "elf64");
  assert.equal(header.machine, HOST_MACHINE);
  assert.equal(header.type, 3, "deno is a position-independent executable");
  assert.ok(header.phEnd > 64 && header.phEnd < 4096, `phEnd ${header.phEnd}`);
  assert.deepEqual(classifyHeader(new TextEncoder().encode("PK\x03\x04rest")), { kind: "zip" });
  assert.deepEqual(classifyHeader(new TextEncoder().encode("#!/bin/sh\n")), { kind: "other" });
});

Deno.test("parseDenoVersion() reads the CLI's --version and nothing else", () => {
  assert.deepEqual(
    parseDenoVersion("deno 2.9.6 (stable, release, aarch64-unknown-linux-gnu)\nv8 15.0\n"),
    { version: "2.9.6", target: ARM },
  );
  assert.equal(parseDenoVersion("error: could not find the standalone data\n"), undefined);
  assert.equal(parseDenoVersion("leaf 0.1.0 (2026-11-29)\ndeno 2.9.6 (v8 15.0)\n"), undefined);
});
