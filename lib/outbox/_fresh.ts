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
import {
  accessError,
  type DbSettings,
  diskFullError,
  type Head,
  isUnusable,
  openDatabase,
  type Opened,
  openExisting,
  storageError,
  writeMetaNow,
} from "./_open.ts";
import { salvage, type Salvaged } from "./_salvage.ts";
import { type Op, Statements } from "./_statements.ts";
import { faultKind, moveAside, pruneAside, quickCheck, reasonOf } from "./_sqlite.ts";
import { type Meta, prepareMetaWrite, writeMeta } from "./schema.ts";
import { readSeqReserve } from "./seq_reserve.ts";

/** What {@linkcode startFresh} needs besides the connection settings. */
export interface FreshSettings extends DbSettings {
  now: () => number;
  keepCorrupt: number;
  log: Logger;
}

/** What a replaced database hands to the new one besides its readable rows. */
export interface Carry {
  /** Dropped counters as the store knows them (the old file's are read too). */
  dropped?: number;
  droppedBytes?: number;
  /** The batch that was not committed yet, applied after the salvaged rows. */
  ops?: Op[];
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

/**
 * Moves the unusable database at `path` aside, creates a new one holding
 * what could be read from the old one plus `carry.ops`, whose next seq is at
 * least `nextSeq` (the reserve), and logs one error line saying what happened,
 * where the old file went and how many messages were recovered.
 */
export function startFresh(
  path: string,
  settings: FreshSettings,
  error: unknown,
  nextSeq: number,
  carry: Carry,
): Fresh {
  let aside: string;
  try {
    aside = moveAside(path, settings.now());
  } catch (moveError) {
    throw new ConfigError(
      `Outbox database "${path}" is unreadable (${reasonOf(error)}) and cannot be moved aside: ${
        (moveError as Error).message
      }`,
      { code: "outbox.corrupt", hint: "move or delete the file by hand", cause: moveError },
    );
  }
  // The reserve is in the file from its first transaction: a kill -9 while
  // salvaging must not leave a new outbox that starts again at seq 1.
  const { db } = openDatabase(path, settings, {
    nextSeq,
    depth: 0,
    bytes: 0,
    dropped: carry.dropped ?? 0,
    droppedBytes: carry.droppedBytes ?? 0,
  });
  let filled: Filled;
  let unsaved: Op[] = [];
  try {
    filled = fill(db, aside, nextSeq, carry);
  } catch (fillError) {
    settings.log.error(`Cannot copy messages into the new outbox "${path}"`, {
      error: reasonOf(fillError),
    });
    try {
      filled = empty(db, nextSeq, carry);
      unsaved = carry.ops ?? [];
    } catch (writeError) {
      db.close();
      throw writeError;
    }
  }
  try {
    pruneAside(path, settings.keepCorrupt);
  } catch { /* a leftover copy is better than a crash; pruned next time */ }
  const { meta, salvaged, carried } = filled;
  const skipped = salvaged.gaps > 0 ? ` (skipped ${salvaged.gaps} unreadable part(s))` : "";
  const notSaved = carried + unsaved.filter((op) => "insert" in op).length; // held if not copied
  const kept = notSaved > 0 ? ` and kept ${notSaved} not yet saved` : "";
  settings.log.error(
    `Outbox database "${path}" is unreadable (${reasonOf(error)}): moved it to "${aside}" ` +
      `and started a new outbox; recovered ${salvaged.rows} queued message(s)${skipped}${kept}; ` +
      `any others will not be sent; seq continues at ${meta.nextSeq}`,
  );
  return { db, state: { meta, head: filled.head, repaired: [] }, unsaved };
}

interface Filled {
  meta: Meta;
  head: Head;
  salvaged: Salvaged;
  carried: number;
}

/** Copies the readable rows of `aside`, then applies the carried batch, in one transaction. */
function fill(db: DatabaseSync, aside: string, nextSeq: number, carry: Carry): Filled {
  db.exec("BEGIN IMMEDIATE");
  try {
    const st = new Statements(db);
    const salvaged = salvage(aside, (row) => st.insert(row, true));
    let carried = 0;
    for (const op of carry.ops ?? []) {
      st.apply(op);
      if ("insert" in op) carried++;
    }
    const t = db.prepare("SELECT count(*) AS n, total(bytes) AS b, max(seq) AS m FROM messages")
      .get() as { n: number; b: number; m: number | null };
    const meta: Meta = {
      nextSeq: Math.max(nextSeq, salvaged.nextSeq, (t.m ?? 0) + 1),
      depth: t.n,
      bytes: t.b,
      dropped: Math.max(carry.dropped ?? 0, salvaged.dropped),
      droppedBytes: Math.max(carry.droppedBytes ?? 0, salvaged.droppedBytes),
    };
    writeMeta(prepareMetaWrite(db), meta);
    db.exec("COMMIT");
    const head = (db.prepare("SELECT seq, created FROM messages ORDER BY seq LIMIT 1").get() ??
      null) as Head;
    return { meta, head, salvaged, carried };
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/** An empty outbox when even the copy failed. */
function empty(db: DatabaseSync, nextSeq: number, carry: Carry): Filled {
  const meta: Meta = {
    nextSeq,
    depth: 0,
    bytes: 0,
    dropped: carry.dropped ?? 0,
    droppedBytes: carry.droppedBytes ?? 0,
  };
  writeMetaNow(db, meta);
  const salvaged = { rows: 0, gaps: 0, nextSeq: 0, dropped: 0, droppedBytes: 0 };
  return { meta, head: null, salvaged, carried: 0 };
}
