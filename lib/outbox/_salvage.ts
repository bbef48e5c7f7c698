/**
 * Best-effort recovery from a moved-aside (damaged) outbox database: reads
 * the messages it still can, in seq order, skipping past unreadable pages, so
 * that moving a file aside does not abandon every message queued in it.
 *
 * The damaged file is opened read-only and never modified (a read-only
 * connection does not checkpoint its WAL either).
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { utf8Length } from "./_sqlite.ts";
import type { Row } from "./_statements.ts";

/** What {@linkcode salvage} found. */
export interface Salvaged {
  /** Messages handed to `keep`. */
  rows: number;
  /** Runs of seqs skipped because they could not be read. */
  gaps: number;
  /** The old `next_seq` and dropped counters, when readable (else 0). */
  nextSeq: number;
  dropped: number;
  droppedBytes: number;
}

/** Rows per read. */
const PAGE = 256;
/** Read errors after which salvage gives up (each costs one failed B-tree seek). */
const MAX_ERRORS = 1_000;
/** Point lookups spent on the seqs a probe jumped over, in all. */
const MAX_LOOKUPS = 100_000;

const COLUMNS = "seq, created, mid, props, body";

/** `r` as a {@linkcode Row}, or undefined when a damaged page returned nonsense. */
function asRow(r: Record<string, unknown> | undefined): Row | undefined {
  if (r === undefined) return undefined;
  const { seq, created, mid, props, body } = r;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof created !== "number" || !Number.isFinite(created)) return undefined;
  if (typeof mid !== "string" || typeof props !== "string" || typeof body !== "string") {
    return undefined;
  }
  return { seq, created, bytes: utf8Length(body) + utf8Length(props), mid, props, body };
}

/**
 * Reads the messages of the database at `path` in seq order and passes each
 * readable one to `keep`. After a read error it seeks ahead for the next
 * readable page (see {@linkcode probe}), then looks up the seqs it jumped over
 * one by one, so a bad page costs little more than the rows on it. Read
 * errors never throw (a file that cannot be opened at all yields nothing);
 * an error thrown by `keep` ends the salvage and is rethrown.
 */
export function salvage(path: string, keep: (row: Row) => void): Salvaged {
  const found: Salvaged = { rows: 0, gaps: 0, nextSeq: 0, dropped: 0, droppedBytes: 0 };
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: true });
  } catch {
    return found;
  }
  let kept: { error: unknown } | undefined;
  try {
    readCounters(db, found);
    copyRows(db, (row) => {
      try {
        keep(row);
      } catch (error) {
        kept = { error };
        throw error;
      }
      found.rows++;
    }, found);
  } catch {
    // Otherwise the schema itself is unreadable: nothing (more) to recover.
    if (kept) throw kept.error;
  } finally {
    try {
      db.close();
    } catch { /* nothing to flush: read-only */ }
  }
  return found;
}

function readCounters(db: DatabaseSync, found: Salvaged): void {
  try {
    const rows = db.prepare("SELECT key, value FROM meta").all() as {
      key: unknown;
      value: unknown;
    }[];
    for (const { key, value } of rows) {
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) continue;
      if (key === "next_seq") found.nextSeq = value;
      if (key === "dropped_count") found.dropped = value;
      if (key === "dropped_bytes") found.droppedBytes = value;
    }
  } catch { /* counters are a bonus */ }
}

function copyRows(db: DatabaseSync, keep: (row: Row) => void, found: Salvaged): void {
  // Pages of rows with all(): node:sqlite's iterate() ends quietly at a damaged page.
  const page = db.prepare(`SELECT ${COLUMNS} FROM messages WHERE seq >= ? ORDER BY seq LIMIT ?`);
  const first = db.prepare("SELECT seq FROM messages WHERE seq >= ? ORDER BY seq LIMIT 1");
  const one = db.prepare(`SELECT ${COLUMNS} FROM messages WHERE seq = ?`);
  let top = Number.MAX_SAFE_INTEGER;
  try {
    const max = (db.prepare("SELECT max(seq) AS m FROM messages").get() as { m: unknown }).m;
    if (typeof max === "number") top = max;
  } catch { /* probe without an upper bound */ }
  let last = 0; // every seq <= last has been kept or given up on
  let errors = 0;
  let lookups = 0;
  let slow = 0; // after a failed page, read one row at a time up to the bad one
  const emit = (r: Record<string, unknown> | undefined) => {
    const row = asRow(r);
    if (row !== undefined && row.seq > last) {
      keep(row);
      last = row.seq;
    }
  };
  for (let next = 1;;) {
    const size = slow > 0 ? 1 : PAGE;
    let rows: Record<string, unknown>[];
    try {
      rows = page.all(next, size) as Record<string, unknown>[];
    } catch {
      if (++errors >= MAX_ERRORS) return;
      if (size > 1) {
        slow = PAGE;
        continue;
      }
      slow = 0;
      last = Math.max(last, next); // `next` itself may be the unreadable row
      const resume = probe(first, last, top, () => ++errors < MAX_ERRORS);
      if (resume === undefined) return;
      found.gaps++;
      for (let seq = last + 1; seq < resume && lookups < MAX_LOOKUPS; seq++, lookups++) {
        let r: Record<string, unknown> | undefined;
        try {
          r = one.get(seq) as Record<string, unknown> | undefined;
        } catch {
          continue; // on the bad page
        }
        emit(r);
      }
      last = Math.max(last, resume - 1);
      next = resume;
      continue;
    }
    for (const r of rows) emit(r);
    if (rows.length < size) return;
    const seen = rows[rows.length - 1].seq;
    next = Math.max(next + 1, typeof seen === "number" ? seen + 1 : 0, last + 1);
    if (slow > 0) slow--;
  }
}

/**
 * The first readable seq above `last`, or undefined: seeks `last` + 1, 2,
 * 4, ... (up to `top`) until a seek lands on a readable page, then bisects
 * back to where the unreadable part ends.
 */
function probe(
  first: StatementSync,
  last: number,
  top: number,
  again: () => boolean,
): number | undefined {
  /** The first seq at or above `x`; "end" when there is none, "bad" when unreadable. */
  const at = (x: number): number | "end" | "bad" | "stop" => {
    try {
      const row = first.get(x) as { seq?: unknown } | undefined;
      if (row === undefined) return "end";
      return typeof row.seq === "number" && row.seq > last ? row.seq : "bad";
    } catch {
      return again() ? "bad" : "stop";
    }
  };
  let lo = last;
  let hi = last;
  let found: number | "end" = "end";
  for (let step = 1;; step *= 2) {
    hi = Math.min(last + step, top);
    const r = at(hi);
    if (r === "stop") return undefined;
    if (r !== "bad") {
      found = r;
      break;
    }
    if (hi >= top) return undefined;
    lo = hi;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const r = at(mid);
    if (r === "stop") break;
    if (r === "bad") lo = mid;
    else [hi, found] = [mid, r];
  }
  return found === "end" ? undefined : found;
}
