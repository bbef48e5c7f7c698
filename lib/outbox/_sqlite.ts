/**
 * Small `node:sqlite` adapters for the outbox: classifying SQLite errors by
 * result code, the integrity check, the files that make up one database
 * (`-wal`, `-shm`), and moving a damaged database aside.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { basename, dirname, join } from "node:path";

/** SQLite primary result codes the outbox reacts to. */
export const SQLITE = {
  error: 1,
  perm: 3,
  busy: 5,
  locked: 6,
  readonly: 8,
  ioerr: 10,
  corrupt: 11,
  full: 13,
  cantopen: 14,
  notadb: 26,
} as const;

/**
 * What went wrong, in the terms the outbox acts on: `corrupt` (the file is
 * damaged: move it aside), `io` (the storage failed this operation, e.g. an SD
 * card hiccup: retry later, move nothing), `full`, `access`, `busy`, `other`.
 */
export type FaultKind = "full" | "corrupt" | "io" | "access" | "busy" | "other";

/**
 * The primary SQLite result code of `error`, or undefined. Extended codes
 * (e.g. SQLITE_IOERR_WRITE = 778) reduce to their primary code.
 */
export function sqliteCode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  if (typeof code === "number") return code & 0xff;
  // `exec()` errors carry no errcode in Deno 2.9: fall back to SQLite's fixed texts.
  const message = error instanceof Error ? error.message : "";
  if (/database or disk is full/.test(message)) return SQLITE.full;
  if (/file is not a database/.test(message)) return SQLITE.notadb;
  if (/database disk image is malformed/.test(message)) return SQLITE.corrupt;
  if (/disk I\/O error/.test(message)) return SQLITE.ioerr;
  if (/database is locked/.test(message)) return SQLITE.busy;
  if (/unable to open database file/.test(message)) return SQLITE.cantopen;
  if (/attempt to write a readonly database/.test(message)) return SQLITE.readonly;
  return undefined;
}

/** Classifies a SQLite error. */
export function faultKind(error: unknown): FaultKind {
  switch (sqliteCode(error)) {
    case SQLITE.full:
      return "full";
    case SQLITE.corrupt:
    case SQLITE.notadb:
      return "corrupt";
    case SQLITE.ioerr:
      return "io";
    case SQLITE.perm:
    case SQLITE.readonly:
    case SQLITE.cantopen:
      return "access";
    case SQLITE.busy:
    case SQLITE.locked:
      return "busy";
    default:
      return "other";
  }
}

/** The short reason of a SQLite error, e.g. `file is not a database`. */
export function reasonOf(error: unknown): string {
  const errstr = (error as { errstr?: unknown } | null)?.errstr;
  if (typeof errstr === "string" && errstr !== "") return errstr;
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

/**
 * Runs `PRAGMA quick_check` (O(file size), reads only) and returns SQLite's
 * first complaint, or undefined when the file is intact. An error that is not
 * itself corruption (e.g. another I/O error) propagates: it proves nothing.
 */
export function quickCheck(db: DatabaseSync): string | undefined {
  let rows: { quick_check?: unknown }[];
  try {
    rows = db.prepare("PRAGMA quick_check(1)").all() as { quick_check?: unknown }[];
  } catch (error) {
    if (faultKind(error) === "corrupt") return reasonOf(error);
    throw error;
  }
  const first = rows[0]?.quick_check;
  if (first === "ok") return undefined;
  // e.g. "*** in database main ***\nTree 2 page 301: btreeInitPage() returns error code 11"
  const text = String(first ?? "no result").split("\n").filter((l) => !/^\*\*\*/.test(l))
    .join("; ");
  return text.length > 200 ? `${text.slice(0, 200)}...` : text || "integrity check failed";
}

/** The database file and its WAL-mode companions. */
export function databaseFiles(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`];
}

/** True when `path` exists (any type). */
export function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** `20260102T030405Z` for a ms epoch. */
export function compactUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * Renames `path` and its `-wal`/`-shm` to `<path>.corrupt-<UTC>` (+ `-wal`,
 * `-shm`, so SQLite still pairs them). Returns the new path. Call
 * {@linkcode pruneAside} once the rows worth keeping have been read from it.
 */
export function moveAside(path: string, now: number): string {
  const stamp = compactUtc(now);
  let target = `${path}.corrupt-${stamp}`;
  for (let n = 1; existsSync(target); n++) target = `${path}.corrupt-${stamp}-${n}`;
  for (const [from, to] of [["", ""], ["-wal", "-wal"], ["-shm", "-shm"]]) {
    try {
      Deno.renameSync(path + from, target + to);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return target;
}

/**
 * Deletes the oldest `<path>.corrupt-*` copies beyond the newest `keep`, so a
 * failing card cannot fill up with them.
 */
export function pruneAside(path: string, keep: number): void {
  const prefix = `${basename(path)}.corrupt-`;
  const copies: string[] = [];
  for (const entry of Deno.readDirSync(dirname(path))) {
    if (entry.name.startsWith(prefix) && !/-(wal|shm)$/.test(entry.name)) copies.push(entry.name);
  }
  // The UTC stamp sorts chronologically; `-n` suffixes sort after their stamp.
  copies.sort();
  for (const name of copies.slice(0, Math.max(0, copies.length - keep))) {
    for (const file of databaseFiles(join(dirname(path), name))) {
      try {
        Deno.removeSync(file);
      } catch { /* already gone */ }
    }
  }
}

/** UTF-8 byte length of `text` without allocating. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
