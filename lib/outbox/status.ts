/**
 * Reads the outbox's counters without disturbing a running agent: a
 * read-only connection (in WAL mode readers never block the writer, and a
 * read-only connection never checkpoints or writes). The counters are those
 * of the agent's last commit (at most `outbox.commitInterval` old).
 *
 * Next to a stopped agent SQLite may create empty `-wal`/`-shm` files; run as
 * root, it gives them the database's owner, so they never lock the agent's
 * user out. (SQLite's `immutable=1` URI would avoid them, but Deno checks
 * permissions on the URI as a plain path, so URIs work only under `-A`.)
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import { OUTBOX_FILE } from "./_open.ts";
import { existsSync, faultKind, reasonOf } from "./_sqlite.ts";
import { checkNotNewer, readMeta, SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import { readSeqReserve } from "./seq_reserve.ts";

/** What {@linkcode readOutboxStatus} reports. */
export interface OutboxStatus {
  /** The database file. */
  path: string;
  /** False when there is no database yet (all counters are then 0). */
  exists: boolean;
  /** Messages queued. */
  depth: number;
  /** Their UTF-8 bytes (body + props). */
  bytes: number;
  /** `created` (ms epoch) of the oldest queued message. */
  oldestCreated?: number;
  /** The seq the next message gets. */
  nextSeq: number;
  /** Messages dropped by the bounds, ever. */
  dropped: number;
  /** Their bytes. */
  droppedBytes: number;
}

/** Reads the status of the outbox in `stateDir`; throws ConfigError when it cannot. */
export function readOutboxStatus(stateDir: string): OutboxStatus {
  const path = join(stateDir, OUTBOX_FILE);
  // No database (or no schema) yet: `leaf run` starts at 1, or at the seq
  // reserve's ceiling when a database was lost (see `openExisting`).
  const firstSeq = Math.max(1, readSeqReserve(stateDir).ceiling);
  const empty = { path, depth: 0, bytes: 0, nextSeq: firstSeq, dropped: 0, droppedBytes: 0 };
  if (!existsSync(path)) return { ...empty, exists: false };
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: true, timeout: 2_000 });
    const version = schemaVersion(db);
    checkNotNewer(version, SCHEMA_VERSION, path);
    if (version === 0) return { ...empty, exists: true };
    const meta = readMeta(db);
    const head = db.prepare("SELECT created FROM messages ORDER BY seq LIMIT 1").get() as
      | { created: number }
      | undefined;
    return {
      path,
      exists: true,
      depth: meta.depth,
      bytes: meta.bytes,
      ...(head ? { oldestCreated: head.created } : {}),
      nextSeq: meta.nextSeq,
      dropped: meta.dropped,
      droppedBytes: meta.droppedBytes,
    };
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const kind = faultKind(error);
    const [code, hint] = kind === "access"
      ? ["outbox.access", "run as the user leaf runs as, or as root"]
      : kind === "io"
      ? ["outbox.io", "the storage that holds stateDir failed (see dmesg); try again"]
      : ["outbox.corrupt", "`leaf run` moves an unreadable database aside and starts a new one"];
    throw new ConfigError(`Cannot read outbox database "${path}": ${reasonOf(error)}`, {
      code,
      hint,
      cause: error,
    });
  } finally {
    db?.close();
  }
}
