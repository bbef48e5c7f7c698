/**
 * Filling a new database with what a damaged one still holds: its readable
 * rows (see `_salvage.ts`), then the batch the outbox had not committed yet.
 * A readable row that cannot be written into the new database is counted as
 * dropped, so the counters (and `leaf outbox status`) stay truthful.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { type Head, writeMetaNow } from "./_open.ts";
import { salvage, type Salvaged } from "./_salvage.ts";
import { reasonOf } from "./_sqlite.ts";
import { type Op, Statements } from "./_statements.ts";
import { type Meta, prepareMetaWrite, writeMeta } from "./schema.ts";

/** What a replaced database hands to the new one besides its readable rows. */
export interface Carry {
  /** Dropped counters as the store knows them (the old file's are read too). */
  dropped?: number;
  droppedBytes?: number;
  /** The batch that was not committed yet, applied after the salvaged rows. */
  ops?: Op[];
}

/** Readable messages of the old file that are not in the new one, counted as dropped. */
export interface Unwritten {
  count: number;
  bytes: number;
  /** Why (the first write error), when `count` > 0. */
  reason?: string;
}

/** What the new database holds. */
export interface Filled {
  meta: Meta;
  head: Head;
  salvaged: Salvaged;
  /** Rows copied from the old file. */
  recovered: number;
  /** Inserts of the carried batch that were written. */
  carried: number;
  unwritten: Unwritten;
}

/**
 * True for a seq the carried batch settles: acked (delivered), dropped by it
 * (already counted) or written by it. Such a row is not lost when its copy fails.
 */
function settledBy(ops: readonly Op[]): (seq: number) => boolean {
  const seqs = new Set<number>();
  let through = 0;
  for (const op of ops) {
    if (typeof op === "number") seqs.add(op);
    else if ("dropThrough" in op) through = Math.max(through, op.dropThrough);
    else seqs.add(op.insert.seq);
  }
  return (seq) => seq <= through || seqs.has(seq);
}

/**
 * Copies the readable rows of `aside`, then applies the carried batch, in one
 * transaction. A row whose write fails is counted in `unwritten`; if SQLite
 * rolled the whole copy back, this throws (see {@linkcode fillEmpty}).
 */
export function fill(db: DatabaseSync, aside: string, nextSeq: number, carry: Carry): Filled {
  const settled = settledBy(carry.ops ?? []);
  db.exec("BEGIN IMMEDIATE");
  try {
    const st = new Statements(db);
    const unwritten: Unwritten = { count: 0, bytes: 0 };
    let failed = 0;
    const salvaged = salvage(aside, (row) => {
      try {
        st.insert(row, true);
      } catch (error) {
        if (!db.isTransaction) throw error; // the rows copied so far are gone too
        failed++;
        unwritten.reason ??= reasonOf(error);
        if (settled(row.seq)) return;
        unwritten.count++;
        unwritten.bytes += row.bytes;
      }
    });
    let carried = 0;
    for (const op of carry.ops ?? []) {
      st.apply(op);
      if (typeof op === "object" && "insert" in op) carried++;
    }
    const t = db.prepare("SELECT count(*) AS n, total(bytes) AS b, max(seq) AS m FROM messages")
      .get() as { n: number; b: number; m: number | null };
    const meta: Meta = {
      nextSeq: Math.max(nextSeq, salvaged.nextSeq, (t.m ?? 0) + 1),
      depth: t.n,
      bytes: t.b,
      ...droppedCounters(carry, salvaged, unwritten),
    };
    writeMeta(prepareMetaWrite(db), meta);
    db.exec("COMMIT");
    const head = (db.prepare("SELECT seq, created FROM messages ORDER BY seq LIMIT 1").get() ??
      null) as Head;
    return { meta, head, salvaged, recovered: salvaged.rows - failed, carried, unwritten };
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * An empty outbox when the copy failed (`error`): every readable row of
 * `aside` the carried batch does not settle is counted as dropped. The batch
 * itself is the caller's to hold.
 */
export function fillEmpty(
  db: DatabaseSync,
  aside: string,
  nextSeq: number,
  carry: Carry,
  error: unknown,
): Filled {
  const settled = settledBy(carry.ops ?? []);
  const unwritten: Unwritten = { count: 0, bytes: 0, reason: reasonOf(error) };
  const salvaged = salvage(aside, (row) => {
    if (settled(row.seq)) return;
    unwritten.count++;
    unwritten.bytes += row.bytes;
  });
  const meta: Meta = {
    nextSeq: Math.max(nextSeq, salvaged.nextSeq),
    depth: 0,
    bytes: 0,
    ...droppedCounters(carry, salvaged, unwritten),
  };
  writeMetaNow(db, meta);
  return { meta, head: null, salvaged, recovered: 0, carried: 0, unwritten };
}

function droppedCounters(carry: Carry, salvaged: Salvaged, unwritten: Unwritten) {
  return {
    dropped: Math.max(carry.dropped ?? 0, salvaged.dropped) + unwritten.count,
    droppedBytes: Math.max(carry.droppedBytes ?? 0, salvaged.droppedBytes) + unwritten.bytes,
  };
}
