/**
 * The SQLite outbox behind {@linkcode Outbox} (the contract is in
 * `outbox.ts`): batching and its timer, the bounds, listeners, and the
 * fault policy (a full disk makes room; an I/O error holds the batch in
 * memory and retries at the next commit; a corrupt file is replaced, keeping
 * what is readable, and while it cannot be replaced the queue is held in
 * memory the same way and the replacement retried at each commit).
 *
 * One write connection holds one open transaction per batch. `peek` reads
 * through it but only up to the last committed seq, so it never returns a row
 * that a kill -9 could still take back.
 *
 * @module
 */
import { join } from "node:path";
import { Allocator, type Build } from "./_allocate.ts";
import { enforceBounds, recoverFull } from "./_bounds.ts";
import { describeDrop, DropLog } from "./_drop_log.ts";
import { openOrReplace } from "./_fresh.ts";
import { IoEpisode, STORAGE_HINT } from "./_io_episode.ts";
import { type Opened, OUTBOX_FILE } from "./_open.ts";
import { Queue, type Row } from "./_queue.ts";
import { Replacer } from "./_replace.ts";
import { faultKind, quickCheck, reasonOf } from "./_sqlite.ts";
import type {
  CommitEvent,
  Outbox,
  OutboxMessage,
  OutboxStats,
  ResolvedOutboxOptions,
} from "./outbox.ts";

type Reset<T> = (carried: ReadonlySet<Row>) => T;

/** The outbox on one SQLite write connection. Create with `openOutbox()`. */
export class OutboxStore implements Outbox {
  readonly path: string;
  #o: ResolvedOutboxOptions;
  #lock: Deno.FsFile;
  #q: Queue;
  #rows: Allocator;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #listeners = new Set<(event: CommitEvent) => void>();
  #drops: DropLog;
  #io: IoEpisode;
  #replacer: Replacer;
  #closed = false;
  #inAppend = false;

  /** Opens the database in `o.stateDir`; the caller holds `lock`. */
  static open(o: ResolvedOutboxOptions, lock: Deno.FsFile): OutboxStore {
    const path = join(o.stateDir, OUTBOX_FILE);
    const { opened, ceiling } = openOrReplace(path, o, o.stateDir);
    return new OutboxStore(o, lock, path, opened, ceiling);
  }

  private constructor(
    o: ResolvedOutboxOptions,
    lock: Deno.FsFile,
    path: string,
    opened: Opened,
    ceiling: number,
  ) {
    this.#o = o;
    this.#lock = lock;
    this.path = path;
    this.#rows = new Allocator(o, ceiling);
    this.#q = new Queue(opened);
    const limits = { maxBytes: o.maxBytes, maxAge: o.maxAge, path };
    this.#drops = new DropLog(o.log, o.now, (reason) => describeDrop(reason, limits));
    this.#io = new IoEpisode(o.log, path, o.now, o.commitInterval);
    this.#replacer = new Replacer(path, o, o.commitInterval);
    try {
      // Bounds may have changed since the last run, and time has passed.
      this.#guard(() => {
        enforceBounds(this.#q, this.#o, this.#drops.dropped);
        this.#commitNow();
      }, () => {});
    } catch (error) {
      this.#clearTimer();
      if (this.#q.db.isOpen) this.#q.db.close();
      throw error;
    }
  }

  append(created: number, build: Build): { seq: number; mid: string } {
    this.#assertOpen();
    if (!Number.isFinite(created)) throw new TypeError(`created must be a ms epoch: ${created}`);
    if (this.#inAppend) throw new Error("Outbox.append() called from its own build callback");
    this.#inAppend = true;
    try {
      let row = this.#rows.row(this.#q.live.nextSeq, created, build);
      // A corrupt file is replaced and the row stored again above the reserve,
      // guarded too; if the fresh file is corrupt as well (replaced once more),
      // the row is held in memory like after an I/O error, for the next commit.
      const again = (store: () => void) => (carried: ReadonlySet<Row>) => {
        if (carried.has(row)) return;
        row = this.#rows.row(this.#q.live.nextSeq, created, build);
        store();
      };
      const hold = () => (this.#q.lose(), this.#store(row)); // while lost: no disk, never throws
      const retry = () => this.#guard(() => this.#store(row), () => {}, again(hold));
      this.#guard(() => this.#store(row), () => {}, again(retry));
      return { seq: row.seq, mid: row.mid };
    } finally {
      this.#inAppend = false;
    }
  }

  peek(afterSeq: number, limit: number): OutboxMessage[] {
    this.#assertOpen();
    if (!(limit >= 1) || afterSeq >= this.#q.committedSeq) return [];
    return this.#guard(() => this.#q.peek(afterSeq, Math.floor(limit)), () => []);
  }

  ack(seq: number): boolean {
    this.#assertOpen();
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.#q.committedSeq) return false;
    return this.#guard(
      () => {
        const found = this.#q.ack(seq);
        this.#armTimer();
        if (found) this.#drops.delivered();
        return found;
      },
      () => true, // full: replayed by the recovery; I/O error: held until the next commit
      () => false,
    );
  }

  commit(): void {
    this.#assertOpen();
    this.#guard(() => this.#commitNow(), () => {});
  }

  stats(): OutboxStats {
    this.#assertOpen();
    const head = this.#guard(() => this.#q.head(), () => null);
    const live = this.#q.live;
    return {
      depth: live.depth,
      bytes: live.bytes,
      ...(head ? { oldestCreated: head.created } : {}),
      newestSeq: live.nextSeq - 1,
      committedSeq: this.#q.committedSeq,
      nextSeq: live.nextSeq,
      dropped: live.dropped,
      droppedBytes: live.droppedBytes,
    };
  }

  onCommitted(listener: (event: CommitEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    if (this.#closed) return;
    try {
      for (let attempt = 0; attempt < 3 && this.#q.dirty; attempt++) this.commit();
      const lost = this.#q.held.length;
      const msg = `Outbox "${this.path}" closed with ${lost} message(s) it could not save`;
      if (lost > 0) this.#o.log.error(msg, { hint: STORAGE_HINT });
    } finally {
      this.#closed = true;
      this.#clearTimer();
      this.#listeners.clear();
      this.#drops.end("closed");
      try {
        if (this.#q.db.isOpen) this.#q.db.close(); // closed while a replacement is pending
      } finally {
        this.#lock.close();
      }
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Test seam: the next `n` database statements fail as SQLITE_IOERR_WRITE would. */
  injectIoErrors(n: number): void {
    this.#q.st.failNext = n;
  }

  #store(row: Row): void {
    this.#armTimer();
    this.#q.batch.appends++;
    this.#q.insert(row);
    enforceBounds(this.#q, this.#o, this.#drops.dropped);
    // While the storage fails, only the timer retries (not every append), and
    // the oldest held messages make room: the hold never passes maxBytes.
    if (!this.#q.lost && this.#q.batch.appends >= this.#o.commitEvery) this.#commitNow();
  }

  #commitNow(): void {
    this.#clearTimer();
    const before = this.#q.committedSeq;
    const pending = this.#replacer.pending;
    if (pending !== undefined) {
      this.#replace(pending.error); // a replacement that failed: retried at each commit
      if (this.#replacer.pending !== undefined) return;
    }
    if (this.#q.dirty) {
      enforceBounds(this.#q, this.#o, this.#drops.dropped);
      this.#q.commit();
      this.#io.recovered();
    }
    if (this.#q.committedSeq > before) this.#notify(this.#q.committedSeq);
  }

  #armTimer(): void {
    this.#timer ??= setTimeout(() => this.#onTimer(), this.#o.commitInterval);
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    try {
      this.commit();
    } catch (error) {
      this.#o.log.error("Outbox commit failed; retrying", {
        path: this.path,
        error: reasonOf(error),
      });
      this.#armTimer(); // nothing thrown from a timer: it would end the agent
    }
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #notify(committedSeq: number | undefined): void {
    if (committedSeq === undefined) return;
    for (const listener of [...this.#listeners]) {
      try {
        listener({ committedSeq });
      } catch (error) {
        this.#o.log.error("Outbox onCommitted listener threw", { error: reasonOf(error) });
      }
    }
  }

  /**
   * Runs `op`, or after a fault returns `fallback()`: a full disk → make
   * room; an I/O error → hold the batch and retry at the next commit; a
   * corrupt file → replace it, then `onReset(rows carried over)`.
   */
  #guard<T>(op: () => T, fallback: () => T, onReset: Reset<T> = fallback): T {
    try {
      return op();
    } catch (error) {
      return this.#fault(error, fallback, onReset);
    }
  }

  #fault<T>(error: unknown, fallback: () => T, onReset: Reset<T>): T {
    switch (faultKind(error)) {
      case "full":
        this.#clearTimer();
        try {
          this.#notify(recoverFull(this.#q, this.#o, this.#drops.dropped));
        } catch (again) {
          return this.#fault(again, fallback, onReset); // never "full" again
        }
        return fallback();
      case "io":
        this.#ioError(error);
        return fallback(); // even if the file was replaced: the held batch was carried over
      case "corrupt":
        return onReset(this.#replace(error));
      default:
        throw error;
    }
  }

  /** Holds the batch, reports the episode, and checks the file after repeated failures. */
  #ioError(error: unknown): void {
    this.#q.lose();
    this.#armTimer();
    const damage = this.#io.failed(error, this.#q.held.length, () => quickCheck(this.#q.db));
    if (damage !== undefined) this.#replace(new Error(damage));
  }

  /**
   * A damaged database at run time: move it aside, continue on a fresh one
   * with what is readable. If that fails, the queue is held in memory (as
   * after an I/O error) and the replacement retried at the next commit.
   */
  #replace(error: unknown): ReadonlySet<Row> {
    this.#clearTimer();
    this.#io.end();
    const next = Math.max(1, this.#q.live.nextSeq, this.#rows.ceiling);
    const { queue, carried } = this.#replacer.replace(this.#q, error, next);
    this.#q = queue;
    if (queue.lost) this.#armTimer(); // held in memory: written or retried at the next commit
    return carried;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`Outbox "${this.path}" is closed`);
  }
}
