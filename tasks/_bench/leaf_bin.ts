/**
 * Finds a compiled leaf for the cold-start comparison: `--leaf-bin PATH`,
 * else `dist/leaf-x86_64-unknown-linux-gnu`, else — when a denort runtime is
 * configured (`DENORT_BIN`, `DENORT_BIN_X86_64`) — one built with
 * `tasks/compile.ts` into the bench's scratch dir. A binary is used only if
 * `leaf version` answers like leaf (a plain deno as runtime yields a REPL).
 *
 * @module
 */
import { join } from "node:path";

/** The binary, or why there is none. */
export type LeafBin = { path: string } | { skipped: string };

const TARGET = "x86_64-unknown-linux-gnu";

async function answersLikeLeaf(path: string): Promise<boolean> {
  try {
    const child = new Deno.Command(path, {
      args: ["version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const out = await child.output();
    clearTimeout(timer);
    return out.code === 0 && /^leaf \d/.test(new TextDecoder().decode(out.stdout));
  } catch {
    return false;
  }
}

/** Locates or builds the compiled binary for this machine. */
export async function findLeafBin(root: string, work: string, given?: string): Promise<LeafBin> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    return { skipped: `no compiled run on ${Deno.build.arch}-${Deno.build.os}` };
  }
  const candidates = given ? [given] : [join(root, "dist", `leaf-${TARGET}`)];
  for (const path of candidates) {
    if (await answersLikeLeaf(path)) return { path };
    if (given) return { skipped: `--leaf-bin "${given}" does not answer \`leaf version\`` };
  }
  if (!Deno.env.get("DENORT_BIN") && !Deno.env.get("DENORT_BIN_X86_64")) {
    return { skipped: "no dist/ binary and no DENORT_BIN: compiled cold start not measured" };
  }
  const out = join(work, "dist");
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/compile.ts", "--target", TARGET, "--out", out],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const path = join(out, `leaf-${TARGET}`);
  if (built.code === 0 && await answersLikeLeaf(path)) return { path };
  const why = new TextDecoder().decode(built.stderr).trim().split("\n").pop();
  return { skipped: `deno task compile failed: ${why}` };
}
