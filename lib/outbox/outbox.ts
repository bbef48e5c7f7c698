/**
 * The durable outbox: the only place a message lives until the gateway has
 * acknowledged it. A SQLite database (`node:sqlite`, WAL) at
 * `<stateDir>/outbox.db`, written by one leaf process.
 *
 * - {@linkcode Outbox.append} allocates `seq` (+1 per message, per device) and
 *   the message id in the transaction that inserts the message, and lets the
 *   caller build body and properties with them.
 * - Writes are batched: an open transaction is committed `commitInterval` ms
 *   after its first write or after `commitEvery` appends, whichever is first.
 *   After `kill -9`, uncommitted appends vanish together with their seq
 *   numbers, so committed seqs never have a gap or a reuse.
 * - {@linkcode Outbox.peek} returns committed messages only; acks delete in
 *   the same batches (a resend after kill -9 is possible, a loss is not).
 * - Bounded by `maxBytes` (UTF-8 bytes of body + props) and `maxAge`: the
 *   oldest messages, sent or not, are dropped and counted persistently; a full
 *   disk drops the oldest and retries instead of crashing.
 * - A storage I/O error (SQLITE_IOERR: an SD card hiccup) is transient: the
 *   open batch is held in memory (appends and acks keep working, `peek`
 *   returns nothing) and written again at the next commit; one error line
 *   per episode. Beyond `maxBytes` held, the oldest held messages are
 *   dropped and counted (one line per episode). The file is left alone
 *   unless an integrity check after 3 failures in a row finds it damaged.
 * - A corrupt database (SQLITE_CORRUPT, SQLITE_NOTADB, not a leaf outbox, or
 *   a failed integrity check; at open or at run time) is moved aside as
 *   `outbox.db.corrupt-<UTC>` (+ `-wal`/`-shm`; the newest 3 are kept) with
 *   one error line; the messages still readable in it (and the unsaved
 *   batch) are copied, with their seq and id, into a fresh database that
 *   continues above the seq reserve (`seq.reserve`, see `seq_reserve.ts`).
 *   Readable messages that cannot be written into it are counted as dropped.
 *   If the file cannot be moved aside or the new one created at run time (a
 *   file system remounted read-only), the queue is held in memory as after an
 *   I/O error and the replacement retried at each commit, with one error
 *   line naming the file and the fix. A database deleted by hand also starts
 *   above the reserve. A database from a newer leaf is refused (ConfigError,
 *   exit 2) and kept.
 * - `<stateDir>/outbox.lock` (flock, released by the kernel on any exit)
 *   keeps a second leaf process off the same outbox.
 *
 * Files in `stateDir`: `outbox.db` (+ `-wal`, `-shm`), `seq.reserve`,
 * `outbox.lock`. The database file is about 1.3 × the queued bytes, plus a
 * WAL truncated to 4 MiB after checkpoints.
 *
 * @example
 * ```ts
 * using outbox = openOutbox({ stateDir: "/var/lib/leaf" });
 * const { seq } = outbox.append(Date.now(), (seq, mid) => ({
 *   body: JSON.stringify({ seq, value: 21.5 }),
 *   props: `%24.mid=${mid}&%24.ct=application%2Fjson&%24.ce=utf-8`,
 * }));
 * outbox.commit();
 * for (const m of outbox.peek(0, 32)) outbox.ack(m.seq);
 * ```
 *
 * @module
 */
import { createLogger, type Logger } from "../log.ts";
import { ensureDir, lockStateDir } from "./_open.ts";
import { OutboxStore } from "./_store.ts";

export { OUTBOX_FILE } from "./_open.ts";

/** A queued message, as {@linkcode Outbox.peek} returns it. */
export interface OutboxMessage {
  /** Per-device sequence number. */
  seq: number;
  /** Message id (`$.mid`), a UUID allocated with `seq`. */
  mid: string;
  /** When the reading or tick happened, ms since the epoch. */
  created: number;
  /**
   * The caller's property text, stored as given. leaf's agent stores the
   * URL-encoded IoT Hub property bag (`%24.mid=...&%24.ct=...`) so the sender
   * publishes it without re-encoding.
   */
  props: string;
  /** The message body. */
  body: string;
}

/** Counters, from memory: cheap to call often. */
export interface OutboxStats {
  /** Messages queued, including appends not yet committed. */
  depth: number;
  /** UTF-8 bytes of their bodies and props. */
  bytes: number;
  /** `created` of the oldest (lowest seq) queued message. */
  oldestCreated?: number;
  /** The last seq handed out; 0 before the first. */
  newestSeq: number;
  /** The last seq visible to {@linkcode Outbox.peek} (committed). */
  committedSeq: number;
  /** The seq the next append gets. */
  nextSeq: number;
  /** Messages dropped by the bounds, ever (persisted). */
  dropped: number;
  /** Their bytes. */
  droppedBytes: number;
}

/** What {@linkcode Outbox.onCommitted} listeners receive. */
export interface CommitEvent {
  /** Every queued message with seq up to this one is now visible to `peek`. */
  committedSeq: number;
}

/** The outbox. Synchronous: `node:sqlite` is, and every call is short. */
export interface Outbox extends Disposable {
  /** Path of the database file. */
  readonly path: string;
  /**
   * Queues one message: allocates `seq` and `mid`, calls `build` with them,
   * stores the result. Visible to `peek` after the next commit.
   */
  append(
    created: number,
    build: (seq: number, mid: string) => { body: string; props: string },
  ): { seq: number; mid: string };
  /** Up to `limit` committed messages with seq > `afterSeq`, in seq order. */
  peek(afterSeq: number, limit: number): OutboxMessage[];
  /** Removes a delivered message (in the next commit); false if it was not queued. */
  ack(seq: number): boolean;
  /** Commits the open batch now (no-op without one). */
  commit(): void;
  /** Counters, without touching the disk (except one index lookup after the head changed). */
  stats(): OutboxStats;
  /**
   * Calls `listener` synchronously right after each commit that made new
   * messages visible (e.g. to wake the sender); returns an unsubscribe. Keep
   * it short and do not `append` from it; errors it throws are logged.
   */
  onCommitted(listener: (event: CommitEvent) => void): () => void;
  /** Commits, stops the timer, closes the database and releases the lock. Idempotent. */
  close(): void;
}

/** Options of {@linkcode openOutbox}. Config: `stateDir` and the `outbox:` keys. */
export interface OutboxOptions {
  /** Directory for `outbox.db`, `seq.reserve` and `outbox.lock`; created if missing. */
  stateDir: string;
  /** Bound on queued bytes (UTF-8 body + props); the oldest are dropped beyond it. @default 64 MiB */
  maxBytes?: number;
  /** Drop messages whose `created` is older than this (ms). @default undefined (no age bound) */
  maxAge?: number;
  /** Commit a batch at the latest this many ms after its first write. @default 1000 */
  commitInterval?: number;
  /** Or after this many appends. @default 100 */
  commitEvery?: number;
  /**
   * Hard cap on the database file (SQLite `max_page_count`); reaching it is
   * handled like a full disk. @default undefined (none)
   */
  maxFileBytes?: number;
  /** Seq numbers reserved per write of `seq.reserve`. @default 10000 */
  reserveBlock?: number;
  /** How many moved-aside corrupt databases to keep. @default 3 */
  keepCorrupt?: number;
  /** SQLite busy timeout (ms). @default 5000 */
  busyTimeout?: number;
  /**
   * SQLite `synchronous`: `normal` keeps every commit across kill -9 and a
   * consistent file across power loss (recent commits may roll back);
   * `full` also keeps them across power loss, at one fsync per commit (and a
   * commit is a batch, so an SD card sees about one fsync a second).
   * `full` is the default: after a power cut, a committed (and perhaps already
   * acknowledged) message must not roll back and its seq be reused.
   * @default "full"
   */
  synchronous?: "normal" | "full";
  /** Clock, ms since the epoch (maxAge, file stamps). @default Date.now */
  now?: () => number;
  /** Message id generator. @default crypto.randomUUID */
  newId?: () => string;
  /** Where drops, repairs and corruption are reported. @default createLogger() */
  log?: Logger;
}

/** Defaults of {@linkcode OutboxOptions}. */
export const OUTBOX_DEFAULTS = {
  maxBytes: 64 * 1024 * 1024,
  commitInterval: 1_000,
  commitEvery: 100,
  reserveBlock: 10_000,
  keepCorrupt: 3,
  busyTimeout: 5_000,
  synchronous: "full",
} as const satisfies Partial<OutboxOptions>;

/** Options with defaults applied. */
export type ResolvedOutboxOptions =
  & Required<Omit<OutboxOptions, "maxAge" | "maxFileBytes">>
  & Pick<OutboxOptions, "maxAge" | "maxFileBytes">;

function positive(name: string, value: number | undefined, integer = true): void {
  if (value === undefined) return;
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isSafeInteger(value))) {
    throw new RangeError(`OutboxOptions.${name} must be a positive number, got ${value}`);
  }
}

/** Applies defaults and checks ranges (config validation already names keys for users). */
export function resolveOutboxOptions(options: OutboxOptions): ResolvedOutboxOptions {
  for (const k of ["maxBytes", "commitEvery", "reserveBlock", "maxFileBytes"] as const) {
    positive(k, options[k]);
  }
  for (const k of ["maxAge", "commitInterval", "busyTimeout"] as const) {
    positive(k, options[k], false);
  }
  if (options.keepCorrupt !== undefined && !(Number.isSafeInteger(options.keepCorrupt))) {
    throw new RangeError(`OutboxOptions.keepCorrupt must be an integer`);
  }
  const defined = Object.fromEntries(
    Object.entries(options).filter(([, v]) => v !== undefined),
  ) as OutboxOptions;
  return {
    ...OUTBOX_DEFAULTS,
    now: Date.now,
    newId: () => crypto.randomUUID(),
    log: createLogger(),
    ...defined,
  };
}

/**
 * Opens (creating if needed) the outbox in `options.stateDir`. Throws a
 * `ConfigError` (exit 2) when the directory is unusable, another leaf holds
 * it, the database is from a newer leaf, or the storage keeps failing with
 * I/O errors on an intact file; a corrupt database is moved aside.
 */
export function openOutbox(options: OutboxOptions): Outbox {
  const resolved = resolveOutboxOptions(options);
  ensureDir(resolved.stateDir);
  const lock = lockStateDir(resolved.stateDir);
  try {
    return OutboxStore.open(resolved, lock);
  } catch (error) {
    lock.close();
    throw error;
  }
}
