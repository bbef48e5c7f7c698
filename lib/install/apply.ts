/**
 * Carries out an install or uninstall plan under a root directory: compares
 * each file with what is there (content and mode), writes only what differs
 * (to a temporary file, then an atomic rename, so a running binary is never
 * overwritten in place), and reports what it did or, with `dryRun`, would do.
 *
 * @module
 */
import { dirname, join } from "node:path";
import type { FileItem, Item, Source } from "./plan.ts";

/** What happened to one path. */
export type Outcome = "created" | "updated" | "unchanged" | "kept" | "removed" | "absent";

/** The result of one step. */
export interface StepResult {
  /** Path on the device (without the root). */
  path: string;
  outcome: Outcome;
  /** The file's mode, for files laid down. */
  mode?: number;
  /** Extra words for the report, e.g. where the previous binary went. */
  note?: string;
}

/** Options of {@linkcode applyInstall} and {@linkcode applyUninstall}. */
export interface ApplyOptions {
  /** Directory the device paths live under: "/" on a device. */
  root: string;
  /** Decide and report, change nothing. */
  dryRun: boolean;
}

const CHUNK = 1 << 20;

async function stat(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function readChunk(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let n = 0;
  while (n < buf.length) {
    const r = await file.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  return n;
}

/** True when two files have the same bytes; streams, so a 130 MB binary needs 2 MB of memory. */
async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
  if (sa.size !== sb.size) return false;
  using fa = await Deno.open(a);
  using fb = await Deno.open(b);
  const ba = new Uint8Array(CHUNK);
  const bb = new Uint8Array(CHUNK);
  while (true) {
    const [na, nb] = await Promise.all([readChunk(fa, ba), readChunk(fb, bb)]);
    if (na !== nb) return false;
    if (na === 0) return true;
    for (let i = 0; i < na; i++) if (ba[i] !== bb[i]) return false;
  }
}

function bytesOf(source: Exclude<Source, { kind: "file" }>): Uint8Array {
  return new TextEncoder().encode(source.kind === "text" ? source.text : source.secret.reveal());
}

async function sameContent(existing: string, source: Source): Promise<boolean> {
  if (source.kind === "file") return await sameFile(existing, source.path);
  const want = bytesOf(source);
  const info = await Deno.stat(existing);
  if (info.size !== want.length) return false;
  const have = await Deno.readFile(existing);
  return have.every((byte, i) => byte === want[i]);
}

/**
 * Writes `source` to `target` with `mode`: first to a temporary file beside
 * it, then `beforeRename` (which may touch the source: a rollback installs
 * leaf.prev itself), then an atomic rename over `target`.
 */
async function writeAtomically(
  target: string,
  source: Source,
  mode: number,
  beforeRename?: () => Promise<void>,
): Promise<void> {
  const tmp = `${target}.leaf-new-${Deno.pid}`;
  try {
    if (source.kind === "file") await Deno.copyFile(source.path, tmp);
    else await Deno.writeFile(tmp, bytesOf(source), { mode: 0o600, createNew: true });
    await Deno.chmod(tmp, mode);
    await beforeRename?.();
    await Deno.rename(tmp, target);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/** Keeps the current binary as `<path>.prev` (a hard link; a copy where links fail). */
async function keepPrevious(target: string): Promise<void> {
  const prev = `${target}.prev`;
  await Deno.remove(prev).catch(() => {});
  try {
    await Deno.link(target, prev);
  } catch {
    await Deno.copyFile(target, prev);
  }
}

async function applyFile(item: FileItem, options: ApplyOptions): Promise<StepResult> {
  const target = join(options.root, item.path);
  const base = { path: item.path, mode: item.mode };
  const info = await stat(target);
  if (info === undefined) {
    if (!options.dryRun) await writeAtomically(target, item.source, item.mode);
    return { ...base, outcome: "created" };
  }
  if (!info.isFile) {
    throw new Error(`"${target}" exists and is not a regular file`);
  }
  const same = await sameContent(target, item.source);
  if (item.policy === "create") {
    return same ? { ...base, outcome: "unchanged" } : {
      ...base,
      outcome: "kept",
      note: "exists; leaf install never overwrites it",
    };
  }
  if (same) {
    if (((info.mode ?? 0) & 0o7777) === item.mode) return { ...base, outcome: "unchanged" };
    if (!options.dryRun) await Deno.chmod(target, item.mode);
    return { ...base, outcome: "updated", note: "mode corrected" };
  }
  const binary = item.policy === "binary";
  if (!options.dryRun) {
    await writeAtomically(
      target,
      item.source,
      item.mode,
      binary ? () => keepPrevious(target) : undefined,
    );
  }
  return {
    ...base,
    outcome: "updated",
    ...(binary ? { note: `previous kept as ${item.path}.prev` } : {}),
  };
}

/** Applies an install plan; returns one result per file, plus created directories. */
export async function applyInstall(items: Item[], options: ApplyOptions): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const item of items) {
    if (item.kind === "dir") {
      const target = join(options.root, item.path);
      if (await stat(target)) continue;
      if (!options.dryRun) {
        await Deno.mkdir(target, { recursive: true, mode: item.mode });
        await Deno.chmod(target, item.mode);
      }
      results.push({ path: item.path, outcome: "created", mode: item.mode });
      continue;
    }
    if (!options.dryRun) {
      await Deno.mkdir(dirname(join(options.root, item.path)), { recursive: true });
    }
    results.push(await applyFile(item, options));
  }
  return results;
}

/** Removes each path (directories recursively); absent paths are reported, not errors. */
export async function applyUninstall(
  paths: string[],
  options: ApplyOptions,
): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const path of paths) {
    const target = join(options.root, path);
    if (!(await stat(target))) {
      results.push({ path, outcome: "absent" });
      continue;
    }
    if (!options.dryRun) await Deno.remove(target, { recursive: true });
    results.push({ path, outcome: "removed" });
  }
  return results;
}
