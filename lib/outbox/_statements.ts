/**
 * The SQL of one outbox write connection. Every call goes through one choke
 * point, which is also the test seam for storage faults
 * ({@linkcode Statements.failNext}).
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Head } from "./_open.ts";
import { type Meta, prepareMetaWrite, writeMeta } from "./schema.ts";
import type { OutboxMessage } from "./outbox.ts";

/** One message as stored. */
export interface Row {
  seq: number;
  created: number;
  bytes: number;
  mid: string;
  props: string;
  body: string;
}

/** A head row as the drop logic sees it. */
export interface HeadRow {
  seq: number;
  created: number;
  bytes: number;
}

/**
 * One write of an open batch, in the order it was made. An ack is the bare
 * seq: a drain acks tens of thousands of messages per batch, and a small
 * integer in an array costs no allocation.
 */
export type Op = { insert: Row } | number | { dropThrough: number };

/** The highest seq the drops among `ops` removed through; 0 without a drop. */
export function droppedThrough(ops: readonly Op[]): number {
  let through = 0;
  for (const op of ops) {
    if (typeof op === "object" && "dropThrough" in op) through = Math.max(through, op.dropThrough);
  }
  return through;
}

function prepare(db: DatabaseSync) {
  const columns = "(seq, created, bytes, mid, props, body) VALUES (?, ?, ?, ?, ?, ?)";
  return {
    insert: db.prepare(`INSERT INTO messages ${columns}`),
    // Replays are idempotent: a COMMIT that reported an I/O error may still have landed.
    reinsert: db.prepare(`INSERT OR REPLACE INTO messages ${columns}`),
    peek: db.prepare(
      "SELECT seq, mid, created, props, body FROM messages WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
    ),
    headRows: db.prepare("SELECT seq, created, bytes FROM messages ORDER BY seq LIMIT ?"),
    ack: db.prepare("DELETE FROM messages WHERE seq = ? RETURNING bytes"),
    deleteThrough: db.prepare("DELETE FROM messages WHERE seq <= ?"),
    head: db.prepare("SELECT seq, created FROM messages ORDER BY seq LIMIT 1"),
    meta: prepareMetaWrite(db),
  };
}

/** What node:sqlite throws for SQLITE_IOERR_WRITE. */
function injectedIoError(): Error {
  return Object.assign(new Error("disk I/O error"), {
    code: "ERR_SQLITE_ERROR",
    errcode: 778,
    errstr: "disk I/O error",
  });
}

/** The prepared statements of one connection. */
export class Statements {
  /** Test seam: the next this many calls (other than `rollback`) throw SQLITE_IOERR_WRITE. */
  failNext = 0;
  readonly #db: DatabaseSync;
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#s = prepare(db);
  }

  /** Opens the batch transaction if none is open. */
  begin(): void {
    if (this.#db.isTransaction) return;
    this.#check();
    this.#db.exec("BEGIN IMMEDIATE");
  }

  /** Writes the counters and commits the open transaction. */
  commit(meta: Meta): void {
    this.#check();
    writeMeta(this.#s.meta, meta);
    this.#db.exec("COMMIT");
  }

  /** Rolls the open transaction back, if SQLite has not already. */
  rollback(): void {
    if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
  }

  /** Inserts a row (`replace`: or overwrites the row with its seq). */
  insert(r: Row, replace = false): void {
    this.#check();
    (replace ? this.#s.reinsert : this.#s.insert).run(
      r.seq,
      r.created,
      r.bytes,
      r.mid,
      r.props,
      r.body,
    );
  }

  /** Deletes `seq`; returns its bytes, or undefined when it was not there. */
  ack(seq: number): number | undefined {
    this.#check();
    return (this.#s.ack.get(seq) as { bytes: number } | undefined)?.bytes;
  }

  /** Deletes every row with seq <= `seq`. */
  deleteThrough(seq: number): void {
    this.#check();
    this.#s.deleteThrough.run(seq);
  }

  /** Writes `op` again, idempotently. */
  apply(op: Op): void {
    if (typeof op === "number") this.ack(op);
    else if ("insert" in op) this.insert(op.insert, true);
    else this.deleteThrough(op.dropThrough);
  }

  /** Rows with seq in (`after`, `through`], at most `limit`, in seq order. */
  peek(after: number, through: number, limit: number): OutboxMessage[] {
    this.#check();
    const rows = this.#s.peek.all(after, through, limit) as unknown as OutboxMessage[];
    return rows.map(({ seq, mid, created, props, body }) => ({ seq, mid, created, props, body }));
  }

  /** The `limit` oldest rows' seq, created and bytes. */
  headRows(limit: number): HeadRow[] {
    this.#check();
    return this.#s.headRows.all(limit) as unknown as HeadRow[];
  }

  /** The oldest row, or null. */
  head(): Head {
    this.#check();
    const row = this.#s.head.get() as { seq: number; created: number } | undefined;
    return row ? { seq: row.seq, created: row.created } : null;
  }

  #check(): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw injectedIoError();
    }
  }
}
