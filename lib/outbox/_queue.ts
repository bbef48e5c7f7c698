/**
 * The queue on one SQLite write connection: the counters (live = including
 * the open batch, committed = as of the last COMMIT), the open batch (see
 * `_batch.ts`), and the head. No policy here: bounds, timers and faults live
 * in `_store.ts`; the SQL in `_statements.ts`.
 *
 * After an I/O error ({@linkcode Queue.lose}) the batch lives in memory only:
 * the counters stay as if it were written, appends and acks are held without
 * touching the disk, reads of the queue return nothing, and the next
 * {@linkcode Queue.commit} writes the whole batch again.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { Batch } from "./_batch.ts";
import type { Dropped } from "./_drop_log.ts";
import type { Head, Opened } from "./_open.ts";
import { faultKind } from "./_sqlite.ts";
import { droppedThrough, type HeadRow, type Op, type Row, Statements } from "./_statements.ts";
import type { Meta } from "./schema.ts";
import type { OutboxMessage } from "./outbox.ts";

export type { HeadRow, Op, Row } from "./_statements.ts";
export type { Dropped } from "./_drop_log.ts";

/** The queue on one connection. */
export class Queue {
  readonly db: DatabaseSync;
  /** The SQL; `st.failNext` is the storage-fault test seam. */
  readonly st: Statements;
  /** Counters including the open batch. */
  live: Meta;
  /** Counters as of the last commit. */
  committed: Meta;
  /** The open batch. */
  batch = new Batch();
  #head: Head | undefined;
  #lost = false;
  /** Drops since the last commit of rows that no write carries: a rollback keeps their count. */
  #unwritten = { count: 0, bytes: 0 };

  constructor(opened: Opened) {
    this.db = opened.db;
    this.st = new Statements(opened.db);
    this.live = { ...opened.state.meta };
    this.committed = { ...opened.state.meta };
    this.#head = opened.state.head;
  }

  /** The last seq `peek` may return. */
  get committedSeq(): number {
    return this.committed.nextSeq - 1;
  }

  /** True after an I/O error until a commit succeeds: the batch is held in memory. */
  get lost(): boolean {
    return this.#lost;
  }

  /** True when a commit has something to write. */
  get dirty(): boolean {
    return this.#lost || this.db.isTransaction || this.batch.deferred.length > 0 ||
      this.live.dropped !== this.committed.dropped;
  }

  /**
   * Inserts `row` in the batch. On SQLITE_FULL the row stays in `batch.rows`
   * for replay; on an I/O error (or while lost) it is held in memory and
   * counted as queued, and the error is rethrown for the caller to report.
   */
  insert(row: Row): void {
    const before = this.live.nextSeq;
    this.live.nextSeq = Math.max(before, row.seq + 1);
    this.batch.rows.push(row);
    this.batch.ops.push({ insert: row });
    let held: unknown;
    try {
      if (!this.#lost) {
        this.st.begin();
        this.st.insert(row);
      }
    } catch (error) {
      const kind = faultKind(error);
      if (kind !== "io") {
        this.batch.ops.pop();
        if (kind !== "full") {
          this.batch.rows.pop();
          this.live.nextSeq = before;
        }
        throw error;
      }
      held = error;
      this.lose();
    }
    this.live.depth++;
    this.live.bytes += row.bytes;
    if (this.#head === null) this.#head = { seq: row.seq, created: row.created };
    if (held !== undefined) throw held;
  }

  /**
   * Deletes `seq` in the batch; false when it was not queued. While lost (or
   * on an I/O error, rethrown) the ack is held and applied at the next commit.
   */
  ack(seq: number): boolean {
    if (this.#lost) {
      this.batch.deferred.push(seq);
      return true;
    }
    try {
      return this.#ackNow(seq);
    } catch (error) {
      if (faultKind(error) === "io") {
        this.batch.deferred.push(seq);
        this.lose();
      }
      throw error;
    }
  }

  #ackNow(seq: number): boolean {
    this.st.begin();
    this.batch.acks.push(seq);
    let bytes: number | undefined;
    try {
      bytes = this.st.ack(seq);
    } catch (error) {
      if (faultKind(error) === "io") this.batch.acks.pop(); // held as deferred instead
      throw error;
    }
    if (bytes === undefined) {
      this.batch.acks.pop();
      return false;
    }
    this.live.depth--;
    this.live.bytes -= bytes;
    if (this.live.depth === 0) this.#head = null;
    else if (this.#head?.seq === seq) this.#head = undefined;
    return true;
  }

  /** Committed messages with seq in (`afterSeq`, committedSeq], at most `limit`; none while lost. */
  peek(afterSeq: number, limit: number): OutboxMessage[] {
    return this.#lost ? [] : this.st.peek(afterSeq, this.committedSeq, limit);
  }

  /** While lost: the rows held in memory (oldest first). */
  get held(): Row[] {
    return this.#lost ? this.batch.undropped() : [];
  }

  /** While lost: forgets the oldest held rows, through `d.lastSeq`, and counts them as dropped. */
  dropHeld(d: Dropped): void {
    this.batch.forget(d.lastSeq);
    this.#countDrop(d.count, d.bytes);
    this.unwritten(d);
    if (this.#head && this.#head.seq >= d.firstSeq) {
      const next = this.batch.undropped()[0]; // no older row on disk: the head was held
      this.#head = next ? { seq: next.seq, created: next.created } : null;
    }
  }

  /**
   * Deletes head rows while `more(row, bytesSoFar, countSoFar)` holds (counts
   * are within one fetched chunk; `live` is updated between chunks), counting
   * them as dropped. Drops nothing while lost (the rows on disk are not the
   * queue then): the bounds apply again at the next commit.
   */
  dropHead(guess: number, more: (row: HeadRow, freed: number, n: number) => boolean): Dropped {
    const total: Dropped = { count: 0, bytes: 0, firstSeq: 0, lastSeq: 0 };
    let limit = Math.min(4096, Math.max(1, guess));
    while (!this.#lost) {
      const rows = this.st.headRows(limit);
      let n = 0;
      let freed = 0;
      while (n < rows.length && more(rows[n], freed, n)) freed += rows[n++].bytes;
      if (n === 0) return total;
      this.st.begin();
      this.st.deleteThrough(rows[n - 1].seq);
      this.batch.ops.push({ dropThrough: rows[n - 1].seq });
      this.#countDrop(n, freed);
      this.#head = this.live.depth === 0 ? null : undefined;
      if (total.count === 0) total.firstSeq = rows[0].seq;
      total.count += n;
      total.bytes += freed;
      total.lastSeq = rows[n - 1].seq;
      if (n < rows.length || rows.length < limit) return total;
      limit = Math.min(4096, limit * 4);
    }
    return total;
  }

  /** Marks `d` (counted in `live`) as rows no write carries: a rollback keeps their count. */
  unwritten(d: Dropped): void {
    this.#unwritten.count += d.count;
    this.#unwritten.bytes += d.bytes;
  }

  #countDrop(n: number, bytes: number): void {
    this.live.depth -= n;
    this.live.bytes -= bytes;
    this.live.dropped += n;
    this.live.droppedBytes += bytes;
  }

  /** The oldest queued message (one index lookup after the head changed; null if unknown while lost). */
  head(): Head {
    if (this.#head !== undefined) return this.#head;
    if (this.#lost) return null;
    return this.#head = this.st.head();
  }

  /**
   * After an I/O error: rolls the transaction back (best effort; a failed
   * ROLLBACK is retried by the next commit) and holds the batch in memory.
   * The counters stay as if the batch were written.
   */
  lose(): void {
    this.#lost = true;
    try {
      this.st.rollback();
    } catch { /* retried at the next commit */ }
  }

  /**
   * Holds a batch's writes in memory, as after an I/O error, for the next
   * commit: its acks, and its rows except those it dropped (already counted).
   */
  hold(ops: readonly Op[]): void {
    this.lose();
    const dropped = droppedThrough(ops);
    for (const op of ops) {
      if (typeof op === "number") this.batch.deferred.push(op);
      else if ("insert" in op && op.insert.seq > dropped) this.insert(op.insert);
    }
  }

  /**
   * Writes the counters and commits (first writing a lost batch again and
   * applying held acks); returns the new committedSeq if it advanced. On an
   * I/O error the batch stays held (the caller calls {@linkcode lose}).
   */
  commit(): number | undefined {
    this.#replay();
    if (!this.db.isTransaction) {
      if (this.live.dropped === this.committed.dropped) return undefined;
      this.st.begin(); // only the dropped counters changed
    }
    this.st.commit(this.live);
    const before = this.committed.nextSeq;
    this.committed = { ...this.live };
    this.#unwritten = { count: 0, bytes: 0 };
    this.#reset();
    return this.committed.nextSeq > before ? this.committedSeq : undefined;
  }

  #replay(): void {
    if (this.#lost) {
      this.st.rollback();
      this.st.begin();
      for (const op of this.batch.ops) this.st.apply(op);
      for (const seq of this.batch.acks) this.st.ack(seq);
      this.#lost = false;
    }
    const deferred = this.batch.deferred;
    this.batch.deferred = [];
    for (let i = 0; i < deferred.length; i++) {
      try {
        this.#ackNow(deferred[i]);
      } catch (error) {
        this.batch.deferred = deferred.slice(i);
        throw error;
      }
    }
  }

  /**
   * Rolls the batch back (if SQLite has not already) and resets the live
   * counters to the committed ones, keeping `nextSeq` (handed-out seqs stay
   * handed out) and the drops of unwritten rows. The batch's rows and acks
   * (held ones too) are returned, for replay.
   */
  rollback(): { rows: Row[]; acks: number[] } {
    this.st.rollback();
    const batch = { rows: this.batch.rows, acks: [...this.batch.acks, ...this.batch.deferred] };
    this.live = {
      ...this.committed,
      nextSeq: Math.max(this.live.nextSeq, this.committed.nextSeq),
      dropped: this.committed.dropped + this.#unwritten.count,
      droppedBytes: this.committed.droppedBytes + this.#unwritten.bytes,
    };
    this.#head = undefined;
    this.#reset();
    return batch;
  }

  #reset(): void {
    this.batch = new Batch();
    this.#lost = false;
  }
}
