/**
 * The queue tables on one SQLite write connection: statements, the counters
 * (live = including the open batch, committed = as of the last COMMIT), the
 * batch's rows and acks (kept so a full disk can replay them), and the head.
 * No policy here: bounds, timers and faults live in `_store.ts`.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Head, Opened } from "./_open.ts";
import { faultKind } from "./_sqlite.ts";
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

/** What one {@linkcode Queue.dropHead} call removed. */
export interface Dropped {
  count: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
}

function prepare(db: DatabaseSync) {
  return {
    insert: db.prepare(
      "INSERT INTO messages (seq, created, bytes, mid, props, body) VALUES (?, ?, ?, ?, ?, ?)",
    ),
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

/** The queue on one connection. */
export class Queue {
  readonly db: DatabaseSync;
  /** Counters including the open batch. */
  live: Meta;
  /** Counters as of the last commit. */
  committed: Meta;
  /** Rows inserted in the open batch. */
  pendingRows: Row[] = [];
  /** Seqs acked in the open batch. */
  pendingAcks: number[] = [];
  /** Appends in the open batch. */
  appends = 0;
  #st: ReturnType<typeof prepare>;
  #head: Head | undefined;

  constructor(opened: Opened) {
    this.db = opened.db;
    this.#st = prepare(opened.db);
    this.live = { ...opened.state.meta };
    this.committed = { ...opened.state.meta };
    this.#head = opened.state.head;
  }

  /** The last seq `peek` may return. */
  get committedSeq(): number {
    return this.committed.nextSeq - 1;
  }

  /** Opens the batch transaction if none is open. */
  begin(): void {
    if (!this.db.isTransaction) this.db.exec("BEGIN IMMEDIATE");
  }

  /** Inserts `row` in the batch. On SQLITE_FULL the row stays in `pendingRows` for replay. */
  insert(row: Row): void {
    this.begin();
    const before = this.live.nextSeq;
    this.live.nextSeq = Math.max(before, row.seq + 1);
    this.pendingRows.push(row);
    try {
      this.#st.insert.run(row.seq, row.created, row.bytes, row.mid, row.props, row.body);
    } catch (error) {
      if (faultKind(error) !== "full") {
        this.pendingRows.pop();
        this.live.nextSeq = before;
      }
      throw error;
    }
    this.live.depth++;
    this.live.bytes += row.bytes;
    if (this.#head === null) this.#head = { seq: row.seq, created: row.created };
  }

  /** Deletes `seq` in the batch; false when it was not queued. */
  ack(seq: number): boolean {
    this.begin();
    this.pendingAcks.push(seq);
    const row = this.#st.ack.get(seq) as { bytes: number } | undefined;
    if (row === undefined) {
      this.pendingAcks.pop();
      return false;
    }
    this.live.depth--;
    this.live.bytes -= row.bytes;
    if (this.live.depth === 0) this.#head = null;
    else if (this.#head?.seq === seq) this.#head = undefined;
    return true;
  }

  /** Committed messages with seq in (`afterSeq`, committedSeq], at most `limit`. */
  peek(afterSeq: number, limit: number): OutboxMessage[] {
    const rows = this.#st.peek.all(
      afterSeq,
      this.committedSeq,
      limit,
    ) as unknown as OutboxMessage[];
    return rows.map(({ seq, mid, created, props, body }) => ({ seq, mid, created, props, body }));
  }

  /**
   * Deletes head rows while `more(row, bytesSoFar, countSoFar)` holds (counts
   * are within one fetched chunk; `live` is updated between chunks), counting
   * them as dropped.
   */
  dropHead(guess: number, more: (row: HeadRow, freed: number, n: number) => boolean): Dropped {
    const total: Dropped = { count: 0, bytes: 0, firstSeq: 0, lastSeq: 0 };
    let limit = Math.min(4096, Math.max(1, guess));
    for (;;) {
      const rows = this.#st.headRows.all(limit) as unknown as HeadRow[];
      let n = 0;
      let freed = 0;
      while (n < rows.length && more(rows[n], freed, n)) freed += rows[n++].bytes;
      if (n === 0) return total;
      this.begin();
      this.#st.deleteThrough.run(rows[n - 1].seq);
      this.live.depth -= n;
      this.live.bytes -= freed;
      this.live.dropped += n;
      this.live.droppedBytes += freed;
      this.#head = this.live.depth === 0 ? null : undefined;
      if (total.count === 0) total.firstSeq = rows[0].seq;
      total.count += n;
      total.bytes += freed;
      total.lastSeq = rows[n - 1].seq;
      if (n < rows.length || rows.length < limit) return total;
      limit = Math.min(4096, limit * 4);
    }
  }

  /** The oldest queued message (one index lookup after the head changed). */
  head(): Head {
    if (this.#head === undefined) {
      const row = this.#st.head.get() as { seq: number; created: number } | undefined;
      this.#head = row ? { seq: row.seq, created: row.created } : null;
    }
    return this.#head;
  }

  /** Writes the counters and commits; returns the new committedSeq if it advanced. */
  commit(): number | undefined {
    if (!this.db.isTransaction) return undefined;
    writeMeta(this.#st.meta, this.live);
    this.db.exec("COMMIT");
    const before = this.committed.nextSeq;
    this.committed = { ...this.live };
    this.pendingRows = [];
    this.pendingAcks = [];
    this.appends = 0;
    return this.committed.nextSeq > before ? this.committedSeq : undefined;
  }

  /**
   * Rolls the batch back (if SQLite has not already) and resets the live
   * counters to the committed ones, keeping `nextSeq` (handed-out seqs stay
   * handed out). The batch's rows and acks are returned, for replay.
   */
  rollback(): { rows: Row[]; acks: number[] } {
    if (this.db.isTransaction) this.db.exec("ROLLBACK");
    const batch = { rows: this.pendingRows, acks: this.pendingAcks };
    this.live = {
      ...this.committed,
      nextSeq: Math.max(this.live.nextSeq, this.committed.nextSeq),
    };
    this.#head = undefined;
    this.pendingRows = [];
    this.pendingAcks = [];
    this.appends = 0;
    return batch;
  }
}
