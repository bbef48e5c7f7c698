/**
 * Making room: the `maxBytes` and `maxAge` bounds, and recovery from a full
 * disk (SQLITE_FULL). Both drop the oldest messages, sent or not, and count
 * them; neither ever throws the agent out of its loop for lack of space.
 *
 * @module
 */
import type { DropReason } from "./_drop_log.ts";
import type { Dropped, Queue, Row } from "./_queue.ts";
import { faultKind } from "./_sqlite.ts";

/** Receives every drop, for the episode log. */
export type OnDrop = (reason: DropReason, dropped: Dropped) => void;

/** The bounds. */
export interface Bounds {
  maxBytes: number;
  maxAge?: number;
  now: () => number;
}

/**
 * Drops the oldest messages until the queue is within `maxBytes` (keeping at
 * least the newest message, so one message larger than the bound still goes
 * out) and none is older than `maxAge` by its `created` time. Age is judged at
 * the head (lowest seq), so a message behind a younger head waits its turn.
 * While the storage fails, only the messages held in memory can be dropped.
 */
export function enforceBounds(queue: Queue, bounds: Bounds, onDrop: OnDrop): void {
  const live = queue.live;
  const { maxBytes, maxAge } = bounds;
  if (queue.lost) {
    const dropped = dropHeld(queue, maxBytes);
    if (dropped.count > 0) onDrop("held", dropped);
  }
  if (live.bytes > maxBytes && live.depth > 1) {
    const guess = Math.ceil((live.bytes - maxBytes) / Math.max(1, live.bytes / live.depth)) + 1;
    const dropped = queue.dropHead(guess, (_row, freed, n) => {
      return live.bytes - freed > maxBytes && live.depth - n > 1;
    });
    if (dropped.count > 0) onDrop("maxBytes", dropped);
  }
  if (maxAge !== undefined && queue.live.depth > 0) {
    const cutoff = bounds.now() - maxAge;
    const head = queue.head();
    if (head && head.created < cutoff) {
      const dropped = queue.dropHead(16, (row) => row.created < cutoff);
      if (dropped.count > 0) onDrop("maxAge", dropped);
    }
  }
}

/**
 * While the storage fails: drops the oldest held messages until the held ones
 * fit in `maxBytes` (keeping the newest), so the hold stays bounded. Every
 * message on disk is older, but once the held ones alone fill `maxBytes` the
 * bound drops those too at the next commit: the survivors are the same.
 */
function dropHeld(queue: Queue, maxBytes: number): Dropped {
  const d: Dropped = { count: 0, bytes: 0, firstSeq: 0, lastSeq: 0 };
  const held = queue.held;
  let over = held.reduce((sum, r) => sum + r.bytes, 0) - maxBytes;
  for (const r of held.slice(0, -1)) {
    if (over <= 0) break;
    if (d.count++ === 0) d.firstSeq = r.seq;
    [d.bytes, d.lastSeq, over] = [d.bytes + r.bytes, r.seq, over - r.bytes];
  }
  if (d.count > 0) queue.dropHeld(d);
  return d;
}

/**
 * After SQLITE_FULL (SQLite may already have rolled the batch back): roll back,
 * checkpoint to free WAL space, then replay the batch's acks (a delivered
 * message is not counted as dropped), drop the oldest committed messages (an
 * eighth of the queue or the batch's size, growing fourfold per try), replay
 * the batch's rows, and commit. Once every older message is gone and the
 * batch still does not fit, only its newest rows are written: as many bytes
 * as the dropped messages held, halved per try. If not even the acks and deletes
 * fit, the rows are dropped and the acks held for the next commit. Every drop
 * is counted; the agent keeps running. Returns the new committedSeq if one
 * became visible. Any other fault on the way (an I/O error, corruption) is
 * thrown with the whole batch held in the queue (see `Queue.lose`), so the
 * caller can retry or carry it over.
 */
export function recoverFull(queue: Queue, bounds: Bounds, onDrop: OnDrop): number | undefined {
  const { rows, acks } = queue.rollback();
  const want = rows.reduce((sum, r) => sum + r.bytes, 0);
  try {
    queue.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch { /* best effort */ }
  let target = Math.max(1, want, Math.ceil(queue.committed.bytes / 8));
  let keep = Infinity; // bytes of the batch's newest rows to write, once no older row is left
  for (;;) {
    const drops: Dropped[] = [];
    const skip = oldestBeyond(rows, keep);
    try {
      reapply(queue, [], acks);
      const start = queue.live.droppedBytes;
      drops.push(
        queue.dropHead(64, (_row, freed) => queue.live.droppedBytes - start + freed < target),
      );
      drops.push(leaveOut(queue, rows.slice(0, skip)));
      reapply(queue, rows.slice(skip), []);
      enforceBounds(queue, bounds, (_reason, d) => drops.push(d));
      const committed = queue.commit();
      for (const d of drops) if (d.count > 0) onDrop("diskFull", d);
      return committed;
    } catch (error) {
      if (faultKind(error) !== "full") {
        // Undo this attempt (its drops too) and hold the batch as after an I/O error.
        queue.lose();
        queue.rollback();
        queue.hold([...acks, ...rows.map((insert) => ({ insert }))]);
        throw error;
      }
      queue.rollback();
      if (target < queue.committed.bytes) target *= 4;
      else if (skip < rows.length) {
        const next = Math.min(keep / 2, queue.committed.bytes);
        keep = next < want ? next : want / 2;
      } else break;
    }
  }
  // Not even the acks and deletes fit: drop the rows, hold the acks for the next commit.
  const dropped = leaveOut(queue, rows);
  queue.unwritten(dropped);
  if (dropped.count > 0) onDrop("diskFull", dropped);
  queue.batch.deferred.push(...acks);
  return undefined;
}

/** How many of `rows` (oldest first) to leave out so that the rest fit in `keep` bytes. */
function oldestBeyond(rows: Row[], keep: number): number {
  let skip = rows.length;
  for (let bytes = 0; skip > 0 && bytes + rows[skip - 1].bytes <= keep; skip--) {
    bytes += rows[skip - 1].bytes;
  }
  return skip;
}

/** Counts `rows`, the oldest of a rolled-back batch, as dropped without writing them. */
function leaveOut(queue: Queue, rows: Row[]): Dropped {
  const bytes = rows.reduce((sum, r) => sum + r.bytes, 0);
  queue.live.dropped += rows.length;
  queue.live.droppedBytes += bytes;
  const [firstSeq, lastSeq] = [rows[0]?.seq ?? 0, rows.at(-1)?.seq ?? 0];
  return { count: rows.length, bytes, firstSeq, lastSeq };
}

/**
 * Applies a rolled-back batch again. After an I/O error the rest is held by
 * the queue (nothing is left out), and the first I/O error is rethrown.
 */
function reapply(queue: Queue, rows: Row[], acks: number[]): void {
  let failure: unknown;
  const apply = (f: () => void) => {
    try {
      f();
    } catch (error) {
      if (faultKind(error) !== "io") throw error;
      failure ??= error;
    }
  };
  for (const seq of acks) apply(() => queue.ack(seq));
  for (const row of rows) apply(() => queue.insert(row));
  if (failure !== undefined) throw failure;
}
