/**
 * Opening the outbox database: pragmas, migrations, the O(1) state probe,
 * the single-writer lock, and the errors that name the file. Replacing a
 * damaged file is `_fresh.ts`.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import { faultKind, reasonOf } from "./_sqlite.ts";
import {
  type Meta,
  migrate,
  OutboxLayoutError,
  prepareMetaWrite,
  readMeta,
  writeMeta,
} from "./schema.ts";

/** File name of the database inside `stateDir`. */
export const OUTBOX_FILE = "outbox.db";

/** The oldest queued message, or null when the queue is empty. */
export type Head = { seq: number; created: number } | null;

/** Connection settings. */
export interface DbSettings {
  busyTimeout: number;
  synchronous: "normal" | "full";
  maxFileBytes?: number;
}

/**
 * Opens (creating if needed) and migrates the database at `path`. `created`
 * is true when the file had no schema yet (new, or deleted by hand); its
 * counters are then `first`, written with the schema.
 */
export function openDatabase(
  path: string,
  settings: DbSettings,
  first: Meta,
): { db: DatabaseSync; created: boolean } {
  const db = new DatabaseSync(path, { timeout: settings.busyTimeout });
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${settings.synchronous === "full" ? "FULL" : "NORMAL"}`);
    // Truncate the WAL back to 4 MiB after checkpoints so it cannot stay large on the card.
    db.exec("PRAGMA journal_size_limit = 4194304");
    // A 512 KiB page cache instead of SQLite's 2 MiB: the queue is read and
    // written at its two ends only, so a bigger cache buys no speed (measured
    // with tasks/bench_outbox.ts) and costs RSS on a small board.
    db.exec("PRAGMA cache_size = -512");
    if (settings.maxFileBytes !== undefined) {
      const { page_size } = db.prepare("PRAGMA page_size").get() as { page_size: number };
      const pages = Math.max(8, Math.floor(settings.maxFileBytes / page_size));
      db.exec(`PRAGMA max_page_count = ${pages}`);
    }
    const { from } = migrate(db, path, undefined, (db) => writeMeta(prepareMetaWrite(db), first));
    return { db, created: from === 0 };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** What a freshly opened database holds, read without scanning the queue. */
export interface QueueState {
  meta: Meta;
  head: Head;
  /** Inconsistencies found and repaired, for a log line. */
  repaired: string[];
}

/**
 * Reads the counters and the head and tail rows (B-tree walks only), and
 * repairs counters that disagree with the rows (then, and only then, it
 * counts the table).
 */
export function loadState(db: DatabaseSync): QueueState {
  try {
    const meta = readMeta(db);
    const repaired: string[] = [];
    const head = (db.prepare("SELECT seq, created FROM messages ORDER BY seq LIMIT 1").get() ??
      null) as Head;
    const tail = db.prepare("SELECT seq FROM messages ORDER BY seq DESC LIMIT 1").get() as
      | { seq: number }
      | undefined;
    if (tail !== undefined && tail.seq >= meta.nextSeq) {
      repaired.push(`next_seq ${meta.nextSeq} -> ${tail.seq + 1}`);
      meta.nextSeq = tail.seq + 1;
    }
    if ((head === null) !== (meta.depth === 0) || (head === null) !== (meta.bytes === 0)) {
      const counted = db.prepare("SELECT count(*) AS n, total(bytes) AS b FROM messages").get() as {
        n: number;
        b: number;
      };
      repaired.push(`depth ${meta.depth} -> ${counted.n}, bytes ${meta.bytes} -> ${counted.b}`);
      meta.depth = counted.n;
      meta.bytes = counted.b;
    }
    return { meta, head, repaired };
  } catch (error) {
    if (/no such (table|column)/.test(reasonOf(error))) {
      throw new OutboxLayoutError(`missing outbox table or column (${reasonOf(error)})`);
    }
    throw error;
  }
}

/** True when an open-time error means "this file is unusable": move it aside. */
export function isUnusable(error: unknown): boolean {
  return error instanceof OutboxLayoutError || faultKind(error) === "corrupt";
}

/** Turns an access problem into a user-facing error naming the file. */
export function accessError(path: string, error: unknown): ConfigError {
  return new ConfigError(`Cannot open outbox database "${path}": ${reasonOf(error)}`, {
    code: "outbox.access",
    hint: "give the user leaf runs as read and write access to stateDir, or set stateDir",
    cause: error,
  });
}

/** A database that cannot even be created or opened for lack of space. */
export function diskFullError(path: string, error: unknown): ConfigError {
  return new ConfigError(`Cannot open outbox database "${path}": ${reasonOf(error)}`, {
    code: "outbox.disk_full",
    hint: "free space on the filesystem that holds stateDir",
    cause: error,
  });
}

/**
 * A database that fails with I/O errors but passes the integrity check: the
 * storage is at fault, not the file, so it stays where it is.
 */
export function storageError(path: string, error: unknown): ConfigError {
  return new ConfigError(`Cannot open outbox database "${path}": ${reasonOf(error)}`, {
    code: "outbox.io",
    hint:
      "the storage that holds stateDir failed (see dmesg); the file is intact and was left in place, and leaf tries again when restarted",
    cause: error,
  });
}

/** Name of the lock file that keeps a second leaf off the same outbox. */
export const LOCK_FILE = "outbox.lock";

/**
 * Takes the single-writer lock (`flock` on `<stateDir>/outbox.lock`, released
 * by the kernel when the process dies, so kill -9 never leaves it stale).
 */
export function lockStateDir(stateDir: string): Deno.FsFile {
  const path = join(stateDir, LOCK_FILE);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true, write: true, create: true });
  } catch (error) {
    throw new ConfigError(`Cannot create "${path}": ${(error as Error).message}`, {
      code: "outbox.access",
      hint: "give the user leaf runs write access to stateDir, or set stateDir",
      cause: error,
    });
  }
  if (!file.tryLockSync(true)) {
    file.close();
    throw new ConfigError(`The outbox in "${stateDir}" is in use by another leaf process`, {
      code: "outbox.locked",
      hint: "stop the other `leaf run`, or give this one its own stateDir",
    });
  }
  return file;
}

/** Creates `stateDir` (and parents) if missing, as a ConfigError when impossible. */
export function ensureDir(stateDir: string): void {
  try {
    Deno.mkdirSync(stateDir, { recursive: true });
  } catch (error) {
    throw new ConfigError(`Cannot create stateDir "${stateDir}": ${(error as Error).message}`, {
      code: "outbox.access",
      hint: "create it for the user leaf runs as (systemd: StateDirectory=leaf), or set stateDir",
      cause: error,
    });
  }
}

/** An open database and what it holds. */
export interface Opened {
  db: DatabaseSync;
  state: QueueState;
}

/**
 * Opens, migrates and probes the database at `path`. A database created just
 * now starts at `firstSeq` (the seq reserve's ceiling), so deleting the file
 * by hand never makes leaf reuse sequence numbers.
 */
export function openExisting(path: string, settings: DbSettings, firstSeq: number): Opened {
  const first = { nextSeq: firstSeq, depth: 0, bytes: 0, dropped: 0, droppedBytes: 0 };
  const { db } = openDatabase(path, settings, first);
  try {
    return { db, state: loadState(db) };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Writes `meta` in its own transaction. */
export function writeMetaNow(db: DatabaseSync, meta: Meta): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    writeMeta(prepareMetaWrite(db), meta);
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}
