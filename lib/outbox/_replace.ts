/**
 * Replacing a damaged database while the outbox runs, and riding out a
 * replacement that fails (the file system was remounted read-only, the disk
 * is full). The store then holds its queue in memory as after an I/O error
 * (bounded by `maxBytes`) and calls {@linkcode Replacer.replace} again at each
 * commit; one error line per episode says which file and what to do.
 *
 * @module
 */
import { formatDuration } from "../config/duration.ts";
import { LeafError } from "../errors.ts";
import { type FreshAttempt, type FreshSettings, startFresh } from "./_fresh.ts";
import { STORAGE_HINT } from "./_io_episode.ts";
import { Queue, type Row } from "./_queue.ts";
import { reasonOf } from "./_sqlite.ts";

/** A replacement that has not succeeded yet. */
interface Pending {
  /** Why the database is being replaced. */
  error: unknown;
  attempt: FreshAttempt;
  logged: boolean;
}

/** Replaces the database at one path, retrying after a failure. */
export class Replacer {
  #path: string;
  #settings: FreshSettings;
  #retryMs: number;
  #pending: Pending | undefined;

  /** Replaces `path`; `retryMs` is how often the store retries (its commit interval). */
  constructor(path: string, settings: FreshSettings, retryMs: number) {
    this.#path = path;
    this.#settings = settings;
    this.#retryMs = retryMs;
  }

  /** Why the database is being replaced, while a replacement failed and is to be retried. */
  get pending(): { error: unknown } | undefined {
    return this.#pending;
  }

  /**
   * Closes the connection of `q` and starts a fresh database above `nextSeq`
   * carrying what `q` has not committed (see `startFresh`). Returns the queue
   * to continue with and the rows carried over. When that fails, it is `q`
   * itself, holding everything in memory (`q.lost`) until the next call; the
   * first failure of an episode is logged.
   */
  replace(q: Queue, error: unknown, nextSeq: number): { queue: Queue; carried: Set<Row> } {
    const p = this.#pending ??= { error, attempt: {}, logged: false };
    const ops = q.batch.unsaved();
    const carried = new Set(
      ops.flatMap((op) => typeof op === "object" && "insert" in op ? [op.insert] : []),
    );
    if (q.db.isOpen) {
      try {
        q.db.close();
      } catch { /* it is being replaced */ }
    }
    const { dropped, droppedBytes } = q.live;
    try {
      const carry = { dropped, droppedBytes, ops };
      const fresh = startFresh(this.#path, this.#settings, p.error, nextSeq, carry, p.attempt);
      this.#pending = undefined;
      const queue = new Queue(fresh);
      if (fresh.unsaved.length > 0) queue.hold(fresh.unsaved); // written at the next commit
      return { queue, carried };
    } catch (failure) {
      q.lose(); // its connection is closed: nothing touches it until the next call
      if (!p.logged) {
        p.logged = true;
        const what = failure instanceof LeafError
          ? failure.message
          : `Outbox database "${this.#path}" is unreadable (${
            reasonOf(p.error)
          }) and cannot be replaced: ${reasonOf(failure)}`;
        this.#settings.log.error(
          `${what}; keeping unsaved messages in memory (up to outbox.maxBytes) and retrying every ${
            formatDuration(this.#retryMs)
          }`,
          {
            held: carried.size,
            hint: (failure instanceof LeafError && failure.hint) || STORAGE_HINT,
          },
        );
      }
      return { queue: q, carried };
    }
  }
}
