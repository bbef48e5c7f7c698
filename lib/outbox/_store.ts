/**
 * The SQLite outbox behind {@linkcode Outbox} (the contract is in
 * `outbox.ts`): batching and its timer, seq and id allocation with the
 * reserve, the bounds, listeners, and the fault policy (a full disk makes
 * room; a corrupt file is replaced).
 *
 * One write connection holds one open transaction per batch. `peek` reads
 * through it but only up to the last committed seq, so it never returns a row
 * that a kill -9 could still take back.
 *
 * @module
 */
import { join } from "node:path";
import { enforceBounds, type OnDrop, recoverFull } from "./_bounds.ts";
import { describeDrop, DropLog } from "./_drop_log.ts";
import {
  accessError,
  diskFullError,
  isUnusable,
  type Opened,
  openExisting,
  OUTBOX_FILE,
  startFresh,
} from "./_open.ts";
import { Queue, type Row } from "./_queue.ts";
import { faultKind, reasonOf, utf8Length } from "./_sqlite.ts";
import { readSeqReserve, writeSeqReserve } from "./seq_reserve.ts";
import type {
  CommitEvent,
  Outbox,
  OutboxMessage,
  OutboxStats,
  ResolvedOutboxOptions,
} from "./outbox.ts";

type Build = (seq: number, mid: string) => { body: string; props: string };

/** The outbox on one SQLite write connection. Create with `openOutbox()`. */
export class OutboxStore implements Outbox {
  readonly path: string;
  #o: ResolvedOutboxOptions;
  #lock: Deno.FsFile;
  #q: Queue;
  #ceiling: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #listeners = new Set<(event: CommitEvent) => void>();
  #drops: DropLog;
  #onDrop: OnDrop;
  #closed = false;
  #inAppend = false;

  /** Opens the database in `o.stateDir`; the caller holds `lock`. */
  static open(o: ResolvedOutboxOptions, lock: Deno.FsFile): OutboxStore {
    const path = join(o.stateDir, OUTBOX_FILE);
    const reserve = readSeqReserve(o.stateDir);
    if (reserve.problem) {
      o.log.error(
        `Sequence reserve unusable: ${reserve.problem}; it is rewritten at the next block`,
      );
    }
    let opened: Opened;
    try {
      opened = openExisting(path, o, Math.max(1, reserve.ceiling));
    } catch (error) {
      if (faultKind(error) === "access") throw accessError(path, error);
      if (faultKind(error) === "full") throw diskFullError(path, error);
      if (!isUnusable(error)) throw error;
      opened = startFresh(path, o, error, Math.max(1, reserve.ceiling), {});
    }
    if (opened.state.repaired.length > 0) {
      o.log.warn("Outbox counters disagreed with the rows and were repaired", {
        path,
        repaired: opened.state.repaired.join("; "),
      });
    }
    return new OutboxStore(o, lock, path, opened, reserve.ceiling);
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
    this.#ceiling = ceiling;
    this.#q = new Queue(opened);
    const limits = { maxBytes: o.maxBytes, maxAge: o.maxAge, path };
    this.#drops = new DropLog(o.log, o.now, (reason) => describeDrop(reason, limits));
    this.#onDrop = (reason, d) =>
      this.#drops.dropped(reason, d.count, d.bytes, d.firstSeq, d.lastSeq);
    try {
      // Bounds may have changed since the last run, and time has passed.
      this.#guard(
        () => {
          enforceBounds(this.#q, this.#o, this.#onDrop);
          this.#commitNow();
        },
        () => {},
        () => {},
      );
    } catch (error) {
      this.#q.db.close();
      throw error;
    }
  }

  append(created: number, build: Build): { seq: number; mid: string } {
    this.#assertOpen();
    if (!Number.isFinite(created)) throw new TypeError(`created must be a ms epoch: ${created}`);
    if (this.#inAppend) throw new Error("Outbox.append() called from its own build callback");
    this.#inAppend = true;
    try {
      let row = this.#makeRow(created, build);
      this.#guard(() => this.#store(row), () => {}, () => {
        row = this.#makeRow(created, build); // the fresh database starts above the reserve
        this.#store(row);
      });
      return { seq: row.seq, mid: row.mid };
    } finally {
      this.#inAppend = false;
    }
  }

  peek(afterSeq: number, limit: number): OutboxMessage[] {
    this.#assertOpen();
    if (!(limit >= 1) || afterSeq >= this.#q.committedSeq) return [];
    return this.#guard(() => this.#q.peek(afterSeq, Math.floor(limit)), () => [], () => []);
  }

  ack(seq: number): boolean {
    this.#assertOpen();
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.#q.committedSeq) return false;
    return this.#guard(
      () => {
        const found = this.#q.ack(seq);
        this.#armTimer();
        if (found) this.#drops.end("delivered");
        return found;
      },
      () => true,
      () => false,
    );
  }

  commit(): void {
    this.#assertOpen();
    this.#guard(() => this.#commitNow(), () => {}, () => {});
  }

  stats(): OutboxStats {
    this.#assertOpen();
    const head = this.#guard(() => this.#q.head(), () => null, () => null);
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
      if (this.#q.db.isTransaction) this.commit();
    } finally {
      this.#closed = true;
      this.#clearTimer();
      this.#listeners.clear();
      this.#drops.end("closed");
      try {
        this.#q.db.close();
      } finally {
        this.#lock.close();
      }
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #makeRow(created: number, build: Build): Row {
    const seq = this.#q.live.nextSeq;
    if (seq >= this.#ceiling) this.#raiseCeiling(seq);
    const mid = this.#o.newId();
    const { body, props } = build(seq, mid);
    if (typeof body !== "string" || typeof props !== "string") {
      throw new TypeError("Outbox.append(): build must return { body: string, props: string }");
    }
    return { seq, created, bytes: utf8Length(body) + utf8Length(props), mid, props, body };
  }

  #store(row: Row): void {
    this.#q.insert(row);
    this.#armTimer();
    enforceBounds(this.#q, this.#o, this.#onDrop);
    if (++this.#q.appends >= this.#o.commitEvery) this.#commitNow();
  }

  #commitNow(): void {
    this.#clearTimer();
    if (!this.#q.db.isTransaction) return;
    enforceBounds(this.#q, this.#o, this.#onDrop);
    this.#notify(this.#q.commit());
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
      if (this.#q.db.isTransaction) this.#armTimer();
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

  /** Writes a new reserve ceiling before the first seq at or above the old one is used. */
  #raiseCeiling(seq: number): void {
    const ceiling = seq + this.#o.reserveBlock;
    try {
      writeSeqReserve(this.#o.stateDir, ceiling);
    } catch (error) {
      this.#o.log.error("Cannot write the sequence reserve; retrying at the next block", {
        stateDir: this.#o.stateDir,
        error: reasonOf(error),
      });
    }
    this.#ceiling = ceiling;
  }

  /** Runs `op`; a full disk → make room, then `onFull`; a corrupt file → replace it, then `onReset`. */
  #guard<T>(op: () => T, onFull: () => T, onReset: () => T): T {
    try {
      return op();
    } catch (error) {
      const kind = faultKind(error);
      if (kind === "full") {
        this.#clearTimer();
        this.#notify(recoverFull(this.#q, this.#o, this.#onDrop, this.#o.log, this.path));
        return onFull();
      }
      if (kind === "corrupt") {
        this.#replace(error);
        return onReset();
      }
      throw error;
    }
  }

  /** A corrupt database at run time: move it aside and continue on a fresh one. */
  #replace(error: unknown): void {
    this.#clearTimer();
    try {
      this.#q.db.close();
    } catch { /* it is being replaced */ }
    const next = Math.max(1, this.#q.live.nextSeq, this.#ceiling);
    const { dropped, droppedBytes } = this.#q.live;
    this.#q = new Queue(startFresh(this.path, this.#o, error, next, { dropped, droppedBytes }));
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`Outbox "${this.path}" is closed`);
  }
}
