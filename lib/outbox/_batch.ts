/**
 * The open batch of the outbox queue: what is not committed yet. Its writes
 * in order (replayed after an I/O error, carried over to a fresh database),
 * its rows and acks (replayed after a full disk), and the acks that arrived
 * while the storage failed (applied at the next commit).
 *
 * @module
 */
import { droppedThrough, type Op, type Row } from "./_statements.ts";

/** One batch; a commit or rollback starts a new one. */
export class Batch {
  /** Rows inserted (or held), in seq order. */
  rows: Row[] = [];
  /** Seqs acked in it (replayed after `ops`; see there). */
  acks: number[] = [];
  /** Appends in it. */
  appends = 0;
  /**
   * Its inserts and drops, in order. Acks are kept apart in `acks` (a drain
   * makes tens of thousands per batch) and replayed after these, which ends
   * in the same rows: an acked row was inserted before its ack, and a drop
   * through a seq that was already acked has nothing more to delete.
   */
  ops: Op[] = [];
  /** Acks held while the storage failed; applied at the next commit. */
  deferred: number[] = [];

  /** Its writes and held acks, to carry over to a fresh database. */
  unsaved(): Op[] {
    return [...this.ops, ...this.acks, ...this.deferred];
  }

  /** Its rows that none of its drops removed already (those are counted), oldest first. */
  undropped(): Row[] {
    const floor = droppedThrough(this.ops);
    return this.rows.filter((r) => r.seq > floor);
  }

  /**
   * Forgets its rows with seq <= `seq` (dropped by the caller), except those
   * its own drops removed: a rollback undoes those drops, and replays the rows.
   */
  forget(seq: number): void {
    const floor = droppedThrough(this.ops);
    const kept = (r: Row) => r.seq > seq || r.seq <= floor;
    this.rows = this.rows.filter(kept);
    this.ops = this.ops.filter((op) =>
      typeof op !== "object" || !("insert" in op) || kept(op.insert)
    );
  }
}
