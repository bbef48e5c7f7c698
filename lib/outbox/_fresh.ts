/**
 * Opening the outbox's database file at start, when the outbox gives up on
 * a file, and what it saves from it.
 *
 * A file is unusable when SQLite says it is damaged (SQLITE_CORRUPT,
 * SQLITE_NOTADB), when it is not a leaf outbox, or when `PRAGMA quick_check`
 * fails after repeated I/O errors. An I/O error alone never is: that is the
 * storage failing one operation (an SD card hiccup), and the file is usually
 * fine. Giving up means: move the file aside with a timestamp, copy what is
 * still readable (and the unsaved batch) into a new database that continues
 * above the seq reserve, and say so in one error line.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type Carry, fill, type Filled, fillEmpty } from "./_fill.ts";
import {
  accessError,
  type DbSettings,
  diskFullError,
  isUnusable,
  openDatabase,
  type Opened,
  openExisting,
  storageError,
} from "./_open.ts";
import type { Op } from "./_statements.ts";
import { faultKind, moveAside, pruneAside, quickCheck, reasonOf } from "./_sqlite.ts";
import { readSeqReserve } from "./seq_reserve.ts";

export type { Carry } from "./_fill.ts";

/** What {@linkcode startFresh} needs besides the connection settings. */
export interface FreshSettings extends DbSettings {
  now: () => number;
  keepCorrupt: number;
  log: Logger;
}

/**
 * Opens the database at `path` (see `openExisting`) above the seq reserve in
 * `stateDir`, replacing it when it is unusable, and logs what it had to
 * repair. An I/O error is retried once; if it persists and the integrity
 * check finds no damage, the file stays and a ConfigError names the storage.
 */
export function openOrReplace(
  path: string,
  settings: FreshSettings,
  stateDir: string,
): { opened: Opened; ceiling: number } {
  const reserve = readSeqReserve(stateDir);
  if (reserve.problem) {
    settings.log.error(
      `Sequence reserve unusable: ${reserve.problem}; it is rewritten at the next block`,
    );
  }
  const opened = openOrReplaceAt(path, settings, Math.max(1, reserve.ceiling));
  if (opened.state.repaired.length > 0) {
    settings.log.warn("Outbox counters disagreed with the rows and were repaired", {
      path,
      repaired: opened.state.repaired.join("; "),
    });
  }
  return { opened, ceiling: reserve.ceiling };
}

function openOrReplaceAt(path: string, settings: FreshSettings, firstSeq: number): Opened {
  let error: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return openExisting(path, settings, firstSeq);
    } catch (e) {
      error = e;
      if (faultKind(e) !== "io") break;
    }
  }
  const kind = faultKind(error);
  if (kind === "access") throw accessError(path, error);
  if (kind === "full") throw diskFullError(path, error);
  if (kind === "io") {
    const problem = checkFile(path);
    if (problem === undefined) throw storageError(path, error);
    error = new Error(`${problem}, found by an integrity check after I/O errors`);
  } else if (!isUnusable(error)) throw error;
  return startFresh(path, settings, error, firstSeq, {});
}

/** SQLite's first complaint about the file at `path`, or undefined when it looks intact. */
function checkFile(path: string): string | undefined {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    return quickCheck(db);
  } catch (error) {
    return faultKind(error) === "corrupt" ? reasonOf(error) : undefined;
  } finally {
    db?.close();
  }
}

/** A fresh database, and the carried batch when it could not be written into it. */
export interface Fresh extends Opened {
  /** `carry.ops` if copying failed: the caller holds them for its next commit. */
  unsaved: Op[];
}

/** How far a replacement got, kept by the caller to retry one that failed. */
export interface FreshAttempt {
  /** Where the unusable file went, once it was moved aside. */
  aside?: string;
}

/**
 * Moves the unusable database at `path` aside, creates a new one holding
 * what could be read from the old one plus `carry.ops`, whose next seq is at
 * least `nextSeq` (the reserve), and logs one error line saying what happened,
 * where the old file went and how many messages were recovered (and how many
 * readable ones could not be written, counted as dropped).
 *
 * Throws a ConfigError naming the file and the fix when the file cannot be
 * moved aside or the new one cannot be created. Pass the same `attempt` to a
 * retry: it remembers where the old file went, so its rows are not lost.
 */
export function startFresh(
  path: string,
  settings: FreshSettings,
  error: unknown,
  nextSeq: number,
  carry: Carry,
  attempt: FreshAttempt = {},
): Fresh {
  if (attempt.aside === undefined) {
    try {
      attempt.aside = moveAside(path, settings.now());
    } catch (moveError) {
      throw new ConfigError(
        `Outbox database "${path}" is unreadable (${reasonOf(error)}) and cannot be moved aside: ${
          (moveError as Error).message
        }`,
        {
          code: "outbox.corrupt",
          hint:
            "make the file system that holds stateDir writable again (remounted read-only? see dmesg), or move the file aside by hand",
          cause: moveError,
        },
      );
    }
  }
  const aside = attempt.aside;
  // The reserve is in the file from its first transaction: a kill -9 while
  // salvaging must not leave a new outbox that starts again at seq 1.
  let db: DatabaseSync;
  try {
    ({ db } = openDatabase(path, settings, {
      nextSeq,
      depth: 0,
      bytes: 0,
      dropped: carry.dropped ?? 0,
      droppedBytes: carry.droppedBytes ?? 0,
    }));
  } catch (openError) {
    throw cannotStart(path, aside, error, openError);
  }
  let filled: Filled;
  let unsaved: Op[] = [];
  try {
    filled = fill(db, aside, nextSeq, carry);
  } catch (fillError) {
    try {
      filled = fillEmpty(db, aside, nextSeq, carry, fillError);
      unsaved = carry.ops ?? [];
    } catch (writeError) {
      db.close();
      throw cannotStart(path, aside, error, writeError);
    }
  }
  try {
    pruneAside(path, settings.keepCorrupt);
  } catch { /* a leftover copy is better than a crash; pruned next time */ }
  const { meta, salvaged, carried, unwritten } = filled;
  const skipped = salvaged.gaps > 0 ? ` (skipped ${salvaged.gaps} unreadable part(s))` : "";
  const notSaved = carried +
    unsaved.filter((op) => typeof op === "object" && "insert" in op).length; // held if not copied
  const kept = notSaved > 0 ? ` and kept ${notSaved} not yet saved` : "";
  const lost = unwritten.count > 0
    ? `; ${unwritten.count} readable one(s) could not be written to the new outbox (${unwritten.reason}) and count as dropped`
    : "";
  settings.log.error(
    `Outbox database "${path}" is unreadable (${reasonOf(error)}): moved it to "${aside}" ` +
      `and started a new outbox; recovered ${filled.recovered} queued message(s)${skipped}${kept}` +
      `${lost}; any others will not be sent; seq continues at ${meta.nextSeq}`,
  );
  return { db, state: { meta, head: filled.head, repaired: [] }, unsaved };
}

/** The new database cannot be created or written (`failure`) after the old one was moved aside. */
function cannotStart(path: string, aside: string, error: unknown, failure: unknown): ConfigError {
  return new ConfigError(
    `Outbox database "${path}" is unreadable (${reasonOf(error)}): moved it to "${aside}" ` +
      `but cannot start a new outbox: ${reasonOf(failure)}`,
    {
      code: faultKind(failure) === "full" ? "outbox.disk_full" : "outbox.io",
      hint: "free space on, or check, the storage that holds stateDir (df, dmesg)",
      cause: failure,
    },
  );
}
